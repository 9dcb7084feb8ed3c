#!/usr/bin/env bash
# `pip install ganglion-asr` proven the way users do it: build wheels of the five
# distributions, install ganglion-asr alone from them into a fresh virtual environment, then
# list the plugins, save a small (untrained) ASR archive there and transcribe a wav with it.
#
# The core must come from the wheels built here as `ganglion-core`: no requirement may name
# `ganglion`, which on the public index is an unrelated project. Run by `tox -e wheels`;
# CPU torch comes through PIP_CONSTRAINT (constraints.txt) as everywhere else, and pip's
# cache is reused. Needs espeak-ng (scripts/setup.sh installs it).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python=${PYTHON:-python3}
work="$(mktemp -d "${TMPDIR:-/tmp}/ganglion-wheels.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export PIP_CONSTRAINT="$repo/constraints.txt"
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$SECONDS

echo "==> building the wheels of ganglion-core and the four plugins"
# from a copy of the checkout's files (tracked, and new ones not ignored): setuptools builds
# through build/lib in the source folder and never empties it, so a build in the checkout
# would put modules since moved or deleted (a stale build/lib/ganglion/train.py) into a wheel
"$python" - "$repo" "$work/src" <<'EOF'
import shutil
import subprocess
import sys
from pathlib import Path

repo, src = Path(sys.argv[1]), Path(sys.argv[2])
listed = subprocess.run(
    ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    check=True,
    capture_output=True,
).stdout.decode()
for name in filter(None, listed.split("\0")):
    if (repo / name).is_file():  # a tracked file deleted in the checkout is left out
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, src / name)
EOF
(cd "$work/src" && "$python" -m pip wheel -q --no-deps --wheel-dir "$work/dist" \
    . plugins/optim plugins/asr plugins/nlp plugins/tts)
ls "$work/dist"
for dist in ganglion_core ganglion_optim ganglion_asr ganglion_nlp ganglion_tts; do
    compgen -G "$work/dist/${dist}-*.whl" >/dev/null || {
        echo "check_wheels: no wheel of ${dist} was built" >&2
        exit 1
    }
done

echo "==> installing ganglion-asr alone into a fresh virtual environment"
"$python" -m venv "$work/venv"
bin="$work/venv/bin"
"$bin/python" -m pip install -q --find-links "$work/dist" --report "$work/report.json" \
    ganglion-asr

# what pip installed, and from where: ganglion-core from the wheels just built, and nothing
# named `ganglion`
"$bin/python" - "$work/report.json" "$work/dist" <<'EOF'
import json
import sys
from pathlib import Path

report, dist = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]).resolve().as_uri()
installed = {item["metadata"]["name"].lower(): item for item in report["install"]}
problems = []
if "ganglion" in installed:
    problems.append("pip installed a distribution named 'ganglion' (an unrelated project)")
for name in ("ganglion-core", "ganglion-asr"):
    url = installed.get(name, {}).get("download_info", {}).get("url", "")
    if not url.startswith(dist):
        problems.append(f"{name} did not come from the wheels built here ({url or 'missing'})")
if problems:
    sys.exit("check_wheels: " + "; ".join(problems))
print("installed:", ", ".join(sorted(f"{n} {i['metadata']['version']}" for n, i in installed.items()
                                     if n.startswith("ganglion"))))
EOF

# from here on, run outside the checkout: nothing may be imported from its source tree
cd "$work"

echo "==> ganglion plugins"
"$bin/ganglion" plugins | tee plugins.txt
grep -q "ganglion-asr" plugins.txt || { echo "check_wheels: asr is not listed" >&2; exit 1; }

echo "==> saving a small untrained EncDecCTCModel archive"
"$bin/python" - "$work/tiny.ganglion" <<'EOF'
import sys

from ganglion_asr.models import EncDecCTCModel

labels = [" ", *"abcdefghijklmnopqrstuvwxyz", "'"]
config = {
    "sample_rate": 16000,
    "labels": labels,
    "preprocessor": {"_target_": "AudioToMelSpectrogramPreprocessor", "features": 32},
    "encoder": {
        "_target_": "ConvASREncoder",
        "feat_in": 32,
        "jasper": [
            {"filters": 32, "kernel": [11], "stride": [2], "separable": True},
            {"filters": 48, "kernel": [1]},
        ],
    },
    "decoder": {"_target_": "ConvASRDecoder", "feat_in": 48, "num_classes": len(labels)},
    "optim": {"name": "adam", "lr": 1e-3},
}
print(EncDecCTCModel(config).save_to(sys.argv[1]))
EOF

echo "==> transcribing a wav spoken by espeak-ng (the model is untrained: any text will do)"
espeak-ng -w "$work/digits.wav" "one two three"
"$bin/ganglion-asr" transcribe "$work/tiny.ganglion" "$work/digits.wav" | tee transcript.txt
[ -s transcript.txt ] || { echo "check_wheels: transcribe printed nothing" >&2; exit 1; }

echo "==> wheels check passed in $((SECONDS - start)) s"
