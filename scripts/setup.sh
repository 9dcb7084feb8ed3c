#!/usr/bin/env bash
# Sets up a fresh machine for ganglion: system packages (espeak-ng, festival, sox, libsndfile, g++,
# wordnet-base and fortunes for the text corpora) and a virtual environment in .venv with the
# core, all four plugins and tox, CPU torch pinned.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
# torch.compile's CPU backend (inductor) compiles the C++ it generates with g++
command -v g++ >/dev/null || need_apt+=(g++)
# grep -q would quit at the first match and ldconfig, writing on, get SIGPIPE (141 under
# pipefail): the library would look missing
ldconfig -p 2>/dev/null | grep libsndfile >/dev/null || need_apt+=(libsndfile1)
# ganglion-nlp's `make-corpus wordnet|fortunes` read these packages' data files
[ -f /usr/share/wordnet/data.noun ] || need_apt+=(wordnet-base)
[ -f /usr/share/games/fortunes/fortunes ] || need_apt+=(fortunes-min)
[ -f /usr/share/games/fortunes/computers ] || need_apt+=(fortunes)
# ganglion-asr's digit corpus can add festival's ked voice (engines: [espeak-ng, festival]);
# `make-sanity-set` reads the human recordings of pocketsphinx-testdata
command -v text2wave >/dev/null || need_apt+=(festival)
[ -f /usr/share/festival/voices/english/ked_diphone/festvox/ked_diphone.scm ] || need_apt+=(festvox-kdlpc16k)
[ -f /usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw ] || need_apt+=(pocketsphinx-testdata)
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
# CPU torch (never the CUDA build) and the tested Lightning/Hydra/OmegaConf
export PIP_CONSTRAINT="$PWD/constraints.txt"
echo "==> installing ganglion, its plugins and the test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
# The core's distribution is `ganglion-core`; one named `ganglion` (this checkout before the
# rename, or the unrelated project of that name on the public index) would claim the same
# import package and command.
rm -rf core/ganglion.egg-info  # that old name's build metadata: core/ is on sys.path
if .venv/bin/python -m pip show -q ganglion >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -y -q ganglion
fi
.venv/bin/python -m pip install -q \
    -e ".[examples,export]" -e plugins/optim -e plugins/asr -e plugins/nlp -e plugins/tts \
    "tox>=4.11" "pytest>=8" "ruff>=0.6"
echo "==> ready: $(.venv/bin/ganglion --version | tr '\n' ' ')"
