#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/python -m pytest "$@"
