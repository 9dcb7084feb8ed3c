#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> the installed plugins and what each registers"
.venv/bin/ganglion plugins
