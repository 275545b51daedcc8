#!/usr/bin/env bash
# Real and synthetic speech for the sound tests (tests/e2e/test_audio.py), from Debian's packages: espeak-ng
# synthesises spoken digits in many voices; asterisk-core-sounds-en-wav ships real recordings of a person saying
# them (/usr/share/asterisk/sounds/en/digits/0.wav …). Idempotent: installs only what is missing.
#   bash .ci/sounds.sh
set -euo pipefail
if ! command -v espeak-ng >/dev/null 2>&1 || [ ! -f /usr/share/asterisk/sounds/en/digits/0.wav ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq espeak-ng asterisk-core-sounds-en-wav >/dev/null
fi
espeak-ng --version
