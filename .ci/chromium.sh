#!/usr/bin/env bash
# Headless Chromium from Debian's packages for the test of the one-page report in a real browser
# (tests/e2e/test_report_page.py drives it through Playwright's Python client, which launches /usr/bin/chromium:
# Playwright's own browser download is not used). Idempotent: installs only what is missing.
#   bash .ci/chromium.sh
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
chromium --version
