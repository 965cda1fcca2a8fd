#!/usr/bin/env bash
# The whole test suite, every tier, on a fresh machine: install, then pytest. Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
# The browser test drives Debian's chromium; without it that test says why it cannot run.
apt_tool chromium chromium "the browser test will be skipped"
# Every tier (pyproject's default selects only the fast one); a -m in "$@" comes later and wins.
.venv/bin/python -m pytest -m "" "$@"
