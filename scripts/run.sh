#!/usr/bin/env bash
# The main job on a fresh machine: install, ingest sample_docs/ into the "Samples" collection,
# and serve the web UI on http://localhost:8501 (Ctrl-C stops it). The engine is the CPU model
# `cpu` (Qwen2.5-Coder-1.5B-Instruct), or Scout where a GPU is visible, or the vLLM server at
# DOCSCOUT_VLLM_BASE_URL; it loads in the background while the UI is already up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
.venv/bin/docscout ingest sample_docs --collection Samples
.venv/bin/docscout docs Samples
exec .venv/bin/docscout ui --host "${DOCSCOUT_UI_HOST:-127.0.0.1}" --port "${DOCSCOUT_UI_PORT:-8501}"
