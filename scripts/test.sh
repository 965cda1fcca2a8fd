#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
# The browser test drives Debian's chromium; without it that test says why it cannot run.
apt_tool chromium chromium "the browser test will be skipped"
.venv/bin/python -m pytest "$@"
