#!/usr/bin/env bash
# Sets up a fresh machine for ganglion: system packages (espeak-ng, sox, libsndfile) and a
# virtual environment in .venv with the core, all four plugins and tox, CPU torch pinned.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
# grep -q would quit at the first match and ldconfig, writing on, get SIGPIPE (141 under
# pipefail): the library would look missing
ldconfig -p 2>/dev/null | grep libsndfile >/dev/null || need_apt+=(libsndfile1)
if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "==> installing system packages: ${need_apt[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($python --version)"
    $python -m venv .venv
fi
export PIP_CONSTRAINT="$PWD/constraints.txt"   # CPU torch, never the CUDA build
export GANGLION_PLAIN_REQUIREMENTS=1             # core and plugins come from this checkout
echo "==> installing ganglion, its plugins and the test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q \
    -e . -e plugins/optim -e plugins/asr -e plugins/nlp -e plugins/tts \
    "tox>=4.11" "pytest>=8" "ruff>=0.6"
echo "==> ready: $(.venv/bin/ganglion --version | tr '\n' ' ')"
