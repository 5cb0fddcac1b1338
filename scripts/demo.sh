#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine (as root): installs what it needs, starts real
# mail servers on loopback in a temp dir, runs mailer on sample requests, shows what each
# person received, and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m sandbox.demo "$@"
