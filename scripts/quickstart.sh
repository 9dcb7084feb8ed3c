#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> the main job: train a speech recogniser on synthesised spoken digits"
bash examples/asr_digits.sh
