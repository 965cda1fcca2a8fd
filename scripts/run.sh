#!/usr/bin/env bash
# The main job on a fresh machine: install, ingest sample_docs/ into the "Samples" collection,
# show what was stored, and answer one question over it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/docscout ingest sample_docs --collection Samples
.venv/bin/docscout docs Samples
# One question on the CPU model (cpu-demo; Scout where a GPU or DOCSCOUT_VLLM_BASE_URL is set).
.venv/bin/docscout ask Samples "What was Quillfeather's total revenue in 2024?"
