#!/usr/bin/env bash
# The main job on a fresh machine: install, ingest sample_docs/ into the "Samples" collection
# and show what was stored.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/docscout ingest sample_docs --collection Samples
.venv/bin/docscout docs Samples
