#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for the test of a search shared through a database (tests/workflows/
# test_search.py), set up as the README tells users to set one up across machines: Debian's package, a role and a
# database for the study. Idempotent: installs only what is missing, starts the cluster if it is down.
#   bash .ci/postgres.sh        # then: KERASFORGE_TEST_POSTGRES=postgresql://kerasforge:kerasforge@127.0.0.1:5432/kerasforge_test
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -q "^$version main$"; then
    pg_createcluster "$version" main >/dev/null
fi
# Loopback only: the test server listens on 127.0.0.1, never on another interface.
conf="/etc/postgresql/$version/main/postgresql.conf"
grep -q "^listen_addresses = '127.0.0.1'" "$conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf"
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
    su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
    sleep 1
done
su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname = 'kerasforge'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"create role kerasforge login password 'kerasforge'\""
su postgres -c "psql -qtAc \"select 1 from pg_database where datname = 'kerasforge_test'\"" | grep -q 1 ||
    su postgres -c "psql -qc 'create database kerasforge_test owner kerasforge'"
echo "postgresql $version on 127.0.0.1:5432: database kerasforge_test, role kerasforge"
