"""Start-up cost of ganglion, side by side in one run.

Measures, interleaved so that machine noise hits all alike:
  * ``python -c pass``            (the interpreter alone)
  * ``python -c "import ganglion"``
  * ``ganglion plugins``          (discovers every installed plugin and calls every hook)
  * ``python -c "import torch"``  (for scale; skipped with --no-torch)

Prints the median wall time of each and its ratio to the bare interpreter.

    .venv/bin/python bench/bench_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--no-torch", action="store_true", help="skip the `import torch` row")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    ganglion = shutil.which("ganglion", path=str(bin_dir)) or shutil.which("ganglion")
    if ganglion is None:
        sys.exit("the `ganglion` command is not installed next to this python")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import ganglion": [sys.executable, "-c", "import ganglion"],
        "ganglion plugins": [ganglion, "plugins"],
    }
    if not args.no_torch:
        commands["import torch"] = [sys.executable, "-c", "import torch"]

    times: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the file cache once
        subprocess.run(cmd, check=True, capture_output=True)
    for _ in range(args.runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)

    plugins = subprocess.run([ganglion, "--version"], capture_output=True, text=True).stdout
    print(f"installed: {', '.join(plugins.split(chr(10))).strip(', ')}")
    print(f"{args.runs} runs each, interleaved; median wall time")
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<20} {'median':>10} {'vs python':>10}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<20} {med * 1000:>8.1f} ms {med / base:>9.2f}x")


if __name__ == "__main__":
    main()
