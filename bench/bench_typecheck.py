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


def bench_modules(rounds: int, calls: int) -> dict[str, tuple[float, float, float]]:
    """``{case: (plain, typed, added)}``: medians in seconds per call.

    Each typed case is paired with the same call on the plain module, timed right before
    it in the same round; "added" is the median of those paired differences, which a busy
    machine disturbs far less than the difference of two medians.
    """
    torch.set_num_threads(1)
    plain, typed = PlainLinear(), TypedLinear()
    typed.load_state_dict(plain.state_dict())
    x, lengths = torch.randn(8, 16), torch.full((8,), 16)
    # inputs that carry types, as the outputs of another typed module do
    typed_x, typed_lengths = x.clone(), lengths.clone()
    typed_x.neural_type, typed_lengths.neural_type = typed.output_types.values()

    # (plain call, typed call); the untyped case clones its inputs, since a module's outputs
    # would otherwise tag a returned input on the first call
    cases = {
        "positional, untyped inputs": (
            lambda: plain(x.clone(), lengths.clone()),
            lambda: typed(x.clone(), lengths.clone()),
        ),
        "positional, typed inputs": (
            lambda: plain(typed_x, typed_lengths),
            lambda: typed(typed_x, typed_lengths),
        ),
        "keyword, typed inputs": (
            lambda: plain(x=typed_x, lengths=typed_lengths),
            lambda: typed(x=typed_x, lengths=typed_lengths),
        ),
    }

    # timed inside one `with typecheck.disable_checks():` (see below)
    cases["checks disabled"] = cases["positional, typed inputs"]
    for pair in cases.values():  # warm up: plans built, caches filled
        for fn in pair:
            for _ in range(calls):
                fn()
    plain_times: dict[str, list[float]] = {name: [] for name in cases}
    typed_times: dict[str, list[float]] = {name: [] for name in cases}
    added: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (plain_fn, typed_fn) in cases.items():
            base = _per_call(plain_fn, calls)
            if name == "checks disabled":
                with typecheck.disable_checks():
                    value = _per_call(typed_fn, calls)
            else:
                value = _per_call(typed_fn, calls)
            plain_times[name].append(base)
            typed_times[name].append(value)
            added[name].append(value - base)
    return {
        name: (
            statistics.median(plain_times[name]),
            statistics.median(typed_times[name]),
            statistics.median(added[name]),
        )
        for name in cases
    }


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
    parser.add_argument("--rounds", type=int, default=600, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=100, help="calls per round and case")
    args = parser.parse_args()

    modules = bench_modules(args.rounds, args.calls)
    print(f"torch {torch.__version__}, {args.rounds} rounds x {args.calls} calls, medians\n")
    print(
        f"{'Linear 16->16 on [8, 16], µs/call':34s} {'plain':>8s} {'typed':>8s} "
        f"{'added':>8s} {'ratio':>7s}"
    )
    for name, (base, value, extra) in modules.items():
        print(
            f"{name:34s} {base * 1e6:8.2f} {value * 1e6:8.2f} {extra * 1e6:+8.2f} "
            f"{(base + extra) / base:7.2f}x"
        )
    print(
        "(added: the median over rounds of typed minus plain, timed back to back;\n"
        " 'checks disabled' is the typed module inside typecheck.disable_checks())"
    )
    print()
    compare = bench_compare(args.rounds, args.calls * 20)
    print(f"{'NeuralType.compare':42s} {'µs/call':>9s}")
    for name, value in compare.items():
        print(f"{name:42s} {value * 1e6:9.3f}")
    print(
        "\nNeMo 3.0.0 reference (from the issue, same machine): @typecheck adds 13.9 µs "
        "(2.43x a 9.7 µs call); NeuralType.compare 2.35 µs"
    )
    worst = max(extra for name, (_, _, extra) in modules.items() if "disabled" not in name)
    cached = max(compare["compare, cached (GREATER)"], compare["compare, cached (INCOMPATIBLE)"])
    print(
        f"goals: @typecheck adds ≤ 3 µs -> worst case here {worst * 1e6:+.2f} µs; "
        f"compare ≤ 0.5 µs -> {cached * 1e6:.3f} µs"
    )


if __name__ == "__main__":
    main()
