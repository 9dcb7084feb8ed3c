"""What ``@typecheck()`` and ``NeuralType.compare`` cost, side by side in one process.

Run: ``.venv/bin/python bench/bench_typecheck.py`` (``--rounds N`` for more samples).

A module with two typed inputs and two typed outputs (a Linear on a [8, 16] tensor) is
called with and without ``@typecheck()``; the same weights, the same inputs. Calls are timed
in interleaved rounds (plain, typed, plain, …) so that drift on a shared machine hits both
alike; each round's mean per call is one sample and the medians are printed. Three typed
cases: untyped input tensors (rank/size checks), typed input tensors (outputs of another
typed module: the full comparison, cached), and checks switched off.

Reference (NeMo 3.0.0 on the same kind of machine, from the issue): @typecheck adds 13.9 µs
per call (2.43x a 9.7 µs plain call); NeuralType.compare costs 2.35 µs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ganglion import NeuralModule, typecheck
from ganglion.types import (
    ChannelType,
    EncodedRepresentation,
    LengthsType,
    LogitsType,
    NeuralType,
)


class _Ports:
    @property
    def input_types(self):
        return {
            "x": NeuralType(("B", "D"), ChannelType()),
            "lengths": NeuralType(("B",), LengthsType()),
        }

    @property
    def output_types(self):
        return {
            "y": NeuralType(("B", "D"), EncodedRepresentation()),
            "lengths": NeuralType(("B",), LengthsType()),
        }


class PlainLinear(_Ports, NeuralModule):
    def __init__(self, dim: int = 16):
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)

    def forward(self, x, lengths):
        return self.linear(x), lengths


class TypedLinear(PlainLinear):
    @typecheck()
    def forward(self, x, lengths):
        return self.linear(x), lengths


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench_modules(rounds: int, calls: int) -> dict[str, float]:
    torch.set_num_threads(1)
    plain, typed = PlainLinear(), TypedLinear()
    typed.load_state_dict(plain.state_dict())
    x, lengths = torch.randn(8, 16), torch.full((8,), 16)
    typed_x, typed_lengths = typed(x, lengths)  # carry types, as another module's outputs do
    cases = {
        "plain": lambda: plain(x, lengths),
        "typecheck, untyped inputs": lambda: typed(x, lengths),
        "typecheck, typed inputs": lambda: typed(typed_x, typed_lengths),
        "typecheck, keyword call": lambda: typed(x=typed_x, lengths=typed_lengths),
    }
    for fn in cases.values():  # warm up: plans built, caches filled
        for _ in range(calls):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    off: list[float] = []
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(_per_call(fn, calls))
        with typecheck.disable_checks():
            off.append(_per_call(cases["typecheck, untyped inputs"], calls))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["typecheck, disabled"] = statistics.median(off)
    return medians


def bench_compare(rounds: int, calls: int) -> dict[str, float]:
    port = NeuralType(("B", "T", "D"), ChannelType())
    given = NeuralType(("B", "T", "D"), LogitsType())
    port_enc = NeuralType(("B", "D", "T"), ChannelType())
    given_enc = NeuralType(("B", "D", "T"), EncodedRepresentation())
    cases = {
        "compare, cached (GREATER)": lambda: port_enc.compare(given_enc),
        "compare, cached (INCOMPATIBLE)": lambda: port.compare(given),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(_per_call(fn, calls))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    # the first comparison of a pair, uncached (fresh types each time)
    first: list[float] = []
    for i in range(rounds):
        a = NeuralType((f"B,D=1{i},T"), ChannelType())
        b = NeuralType(("B", "D", "T"), EncodedRepresentation())
        start = time.perf_counter()
        a.compare(b)
        first.append(time.perf_counter() - start)
    medians["compare, first time (uncached)"] = statistics.median(first)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=500, help="calls per round and case")
    args = parser.parse_args()

    modules = bench_modules(args.rounds, args.calls)
    plain = modules["plain"]
    print(f"torch {torch.__version__}, {args.rounds} rounds x {args.calls} calls, medians\n")
    print(f"{'module call (Linear 16->16 on [8, 16])':42s} {'µs/call':>9s} {'added':>9s} "
          f"{'ratio':>7s}")
    for name, value in modules.items():
        added = value - plain
        print(f"{name:42s} {value * 1e6:9.2f} {added * 1e6:+9.2f} {value / plain:7.2f}x")
    print()
    compare = bench_compare(args.rounds, args.calls * 20)
    print(f"{'NeuralType.compare':42s} {'µs/call':>9s}")
    for name, value in compare.items():
        print(f"{name:42s} {value * 1e6:9.3f}")
    print(
        "\nNeMo 3.0.0 reference (from the issue, same machine): @typecheck adds 13.9 µs "
        "(2.43x a 9.7 µs call); NeuralType.compare 2.35 µs"
    )
    worst = max(v - plain for k, v in modules.items() if k.startswith("typecheck,"))
    print(
        f"goals: added ≤ 3 µs -> worst case here {worst * 1e6:+.2f} µs; "
        f"compare ≤ 0.5 µs -> {max(compare['compare, cached (GREATER)'], compare['compare, cached (INCOMPATIBLE)']) * 1e6:.3f} µs"
    )


if __name__ == "__main__":
    main()
