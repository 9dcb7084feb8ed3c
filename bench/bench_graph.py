"""What ganglion.graph costs: eager calls, running a graph, building one, side by side in one run.

    .venv/bin/python bench/bench_graph.py --baseline /tmp/base [--rounds 15] [--profile]

Three measurements, each a ratio of two things timed in the same run:

1. **Eager call, no graph active**, now vs before ganglion.graph. ``NeuralModule`` now
   overrides ``__call__`` (a call inside a graph's context records a step); outside any graph
   it should cost nothing. ``--baseline PATH`` is a checkout of the revision before the change,
   made with ``git worktree add --detach /tmp/base 78f03d3``. Two worker processes (this
   script with ``--worker``) import ganglion from ``<checkout>/core`` each (``PYTHONPATH``),
   build the same modules (a Linear 64->64 on [16, 64], with and without ``@typecheck()``)
   and time ``m(x)`` with ``timeit``; the parent asks them in turn (interleaved rounds, so
   machine drift hits both alike) and reports the minimum per call of each and their ratio.
   Without ``--baseline`` this part is skipped.
2. **Running a graph**: ``g(x)`` of a TaylorNet graph and of a QuartzNet graph (ganglion-asr's
   preprocessor -> encoder -> decoder, a tiny configuration) vs the same modules called by
   hand in the same order, in this process, interleaved rounds, minimum per call.
3. **Building a 200-step graph**: a chain of 200 small typed modules recorded (and so
   type-checked connection by connection) into a graph, flat and nested (20 inner graphs of
   10 steps spliced into an outer one), with the modules made beforehand (excluded) or made
   in the timed block (included). Median and first build in the process.

Goals (issue 12): (1) <= 1.01x, (2) <= 1.05x, (3) < 50 ms. ``--profile`` prints where the time
of (2) and (3) goes (cProfile, functions of ganglion.graph first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

GOAL_EAGER = 1.01
GOAL_RUN = 1.05
GOAL_BUILD_MS = 50.0


# -- small typed modules (used by the workers and by the build benchmark) -------------------
def small_modules(dim: int) -> tuple[type, type]:
    """``(Untyped, Typed)``: a Linear ``dim -> dim`` as a NeuralModule without ports and
    with ports and ``@typecheck()``. Written against the API both revisions share."""
    import torch

    from ganglion import NeuralModule, typecheck
    from ganglion.types import ChannelType, NeuralType

    class UntypedLinear(NeuralModule):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(dim, dim)

        def forward(self, x):
            return self.linear(x)

    class TypedLinear(UntypedLinear):
        @property
        def input_types(self):
            return {"x": NeuralType(("B", "D"), ChannelType())}

        @property
        def output_types(self):
            return {"y": NeuralType(("B", "D"), ChannelType())}

        @typecheck()
        def forward(self, x):
            return self.linear(x)

    return UntypedLinear, TypedLinear


# -- 1. eager calls: one worker per checkout ---------------------------------------------------
EAGER_CASES = ("untyped", "typed")


def worker() -> None:
    """Answer ``case number`` lines on stdin with the seconds per call of ``number`` calls.

    Cases: ``untyped`` / ``typed`` time ``m(x)``; ``untyped-nn`` / ``typed-nn`` time
    ``torch.nn.Module.__call__(m, x)``, the call as it was before NeuralModule had its own."""
    import torch

    import ganglion.module

    torch.set_num_threads(1)
    untyped_cls, typed_cls = small_modules(64)
    torch.manual_seed(0)
    modules = {"untyped": untyped_cls(), "typed": typed_cls()}
    modules["typed"].load_state_dict(modules["untyped"].state_dict())
    x = torch.randn(16, 64)
    timers = {}
    for name, m in modules.items():
        timers[name] = timeit.Timer("m(x)", globals={"m": m, "x": x})
        names = {"m": m, "x": x, "call": torch.nn.Module.__call__}
        timers[f"{name}-nn"] = timeit.Timer("call(m, x)", globals=names)
    for timer in timers.values():  # warm up: typecheck plans built, caches filled
        timer.timeit(2000)
    hello = {
        "ganglion": ganglion.module.__file__,
        "overrides_call": "__call__" in vars(ganglion.module.NeuralModule),
    }
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        case, number = line.split()
        print(timers[case].timeit(int(number)) / int(number), flush=True)


class Worker:
    def __init__(self, checkout: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(checkout / "core"))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(checkout),
        )
        first = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not first:
            raise SystemExit(f"the worker for {checkout} failed to start (see above)")
        self.info = json.loads(first)

    def time(self, case: str, number: int) -> float:
        self.proc.stdin.write(f"{case} {number}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return float(self.proc.stdout.readline())  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait()


def bench_override(rounds: int, number: int) -> tuple[float, float]:
    """``(added, linear)``: the paired median of ``m(x)`` minus ``torch.nn.Module.__call__(m,
    x)`` on a module whose forward returns its input (what the override adds, in seconds),
    and the minimum per call of the untyped Linear 64->64, in this process."""
    import torch

    from ganglion import NeuralModule

    class Identity(NeuralModule):
        def forward(self, x):
            return x

    untyped_cls, _ = small_modules(64)
    x, m = torch.zeros(1), Identity()
    own = timeit.Timer("m(x)", globals={"m": m, "x": x})
    plain = timeit.Timer("call(m, x)", globals={"m": m, "x": x, "call": torch.nn.Module.__call__})
    linear = timeit.Timer("m(x)", globals={"m": untyped_cls(), "x": torch.randn(16, 64)})
    added, linear_t = [], []
    for _ in range(rounds):
        added.append((own.timeit(number) - plain.timeit(number)) / number)
        linear_t.append(linear.timeit(number // 10) / (number // 10))
    return statistics.median(added), min(linear_t)


def bench_eager(
    baseline: Path, rounds: int, number: int
) -> tuple[dict[str, dict[str, list[float]]], list[str]]:
    """Seconds per call, one sample per round: ``{case: {series: samples}}``.

    Series: ``now`` and ``before`` (``m(x)`` in a worker on this checkout and on the
    baseline), ``now-2`` (a second worker on this checkout: the noise floor of comparing two
    processes) and ``now-nn`` (``torch.nn.Module.__call__(m, x)`` in the ``now`` worker: the
    call without NeuralModule's override, in the same process)."""
    if not (baseline / "core" / "ganglion" / "module.py").is_file():
        raise SystemExit(f"--baseline {baseline}: no core/ganglion/module.py there")
    now, before, control = Worker(ROOT), Worker(baseline), Worker(ROOT)
    notes = [f"now: {now.info}", f"before: {before.info}"]
    if not now.info["overrides_call"] or before.info["overrides_call"]:
        notes.append("WARNING: expected NeuralModule.__call__ now and none before")
    series = [
        ("now", now, ""),
        ("before", before, ""),
        ("now-2", control, ""),
        ("now-nn", now, "-nn"),
    ]
    samples = {case: {label: [] for label, _, _ in series} for case in EAGER_CASES}
    try:
        for i in range(rounds):
            order = series[i % len(series) :] + series[: i % len(series)]  # rotate who goes first
            for case in EAGER_CASES:
                for label, w, suffix in order:
                    samples[case][label].append(w.time(case + suffix, number))
    finally:
        for w in (now, before, control):
            w.close()
    return samples, notes


# -- 2. running a graph vs calling its modules by hand --------------------------------------
def taylor_case(batch: int, with_loss: bool = False) -> tuple[Any, Any, Any]:
    """``(graph call, hand call, objects)`` for the TaylorNet model graph (x -> y_pred) of
    examples/graphs, or (``with_loss``) TaylorNet then MSELoss (x, y -> loss)."""
    import torch

    sys.path.insert(0, str(ROOT / "examples" / "graphs"))
    from graph_modules import MSELoss, TaylorNet

    from ganglion.graph import NeuralGraph

    torch.manual_seed(0)
    tn, mse = TaylorNet(dim=4), MSELoss()
    x = torch.rand(batch, 1) * 4 - 2
    y = torch.sin(x)
    with NeuralGraph(name=f"taylor_b{batch}{'_loss' if with_loss else ''}") as g:
        p = tn(x=g)
        if with_loss:
            g.outputs["loss"] = mse(predictions=p, target=g)
    if with_loss:
        return (lambda: g(x=x, target=y)), (lambda: mse(predictions=tn(x=x), target=y)), g
    return (lambda: g(x=x)), (lambda: tn(x=x)), g


def asr_modules() -> dict[str, Any]:
    """The tiny QuartzNet-style modules of ganglion-asr's tests (32 mel bands, three blocks)."""
    from ganglion_asr.modules import (
        AudioToMelSpectrogramPreprocessor,
        ConvASRDecoder,
        ConvASREncoder,
    )

    return {
        "preprocessor": AudioToMelSpectrogramPreprocessor(features=32),
        "encoder": ConvASREncoder(
            feat_in=32,
            jasper=[
                {"filters": 32, "kernel": [11], "stride": [2], "separable": True},
                {"filters": 32, "repeat": 2, "kernel": [21], "residual": True, "separable": True},
                {"filters": 48, "kernel": [1]},
            ],
        ),
        "decoder": ConvASRDecoder(feat_in=48, num_classes=28),
    }


def quartznet_case(batch: int, seconds: float) -> tuple[Any, Any, Any]:
    import torch

    from ganglion.graph import NeuralGraph

    torch.manual_seed(0)
    m = asr_modules()
    for module in m.values():
        module.eval()  # no dither: the graph and the hand calls compute the same thing
    pre, enc, dec = m["preprocessor"], m["encoder"], m["decoder"]
    with NeuralGraph(name="quartznet") as g:
        spec, spec_len = pre(input_signal=g, length=g)
        encoded, _ = enc(audio_signal=spec, length=spec_len)
        logprobs = dec(encoder_output=encoded)
    g.outputs["logprobs"] = logprobs
    samples = int(seconds * 16000)
    audio = torch.randn(batch, samples) * 0.1
    length = torch.full((batch,), samples, dtype=torch.long)

    def by_graph():
        with torch.no_grad():
            return g(input_signal=audio, length=length)

    def by_hand():
        with torch.no_grad():
            s, s_len = pre(input_signal=audio, length=length)
            e, _ = enc(audio_signal=s, length=s_len)
            return dec(encoder_output=e)

    return by_graph, by_hand, (g, pre, enc, dec)


def _per_call(fn: Any, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _calls_for(fn: Any, target_s: float) -> int:
    """How many calls take about ``target_s`` (at least one)."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(target_s / once))


def bench_run(
    cases: dict[str, tuple[Any, Any]], rounds: int, target_s: float
) -> dict[str, tuple[float, float, float, int, int]]:
    """``{case: (graph, hand, median of paired ratios, rounds, calls per sample)}``: minimum
    seconds per call.

    A sample is the mean of enough calls to take ``target_s``; a call slower than 1 ms (the
    QuartzNet graph) is its own sample instead, over proportionally more rounds: such calls
    vary by tens of percent from one to the next, and the fastest single call is the figure
    least disturbed by the machine."""
    import torch

    out = {}
    for name, (by_graph, by_hand) in cases.items():
        a, b = by_graph(), by_hand()
        if not torch.equal(a, b):
            raise SystemExit(f"{name}: the graph and the hand calls disagree")
        number = _calls_for(by_hand, target_s)
        n_rounds = rounds
        if target_s / number > 1e-3:
            n_rounds, number = rounds * number, 1
        graph_t, hand_t, ratios = [], [], []
        for i in range(n_rounds):
            order = [(graph_t, by_graph), (hand_t, by_hand)]
            if i % 2:
                order.reverse()
            for bucket, fn in order:
                bucket.append(_per_call(fn, number))
            ratios.append(graph_t[-1] / hand_t[-1])
        out[name] = (min(graph_t), min(hand_t), statistics.median(ratios), n_rounds, number)
    return out


# -- 3. building a 200-step graph ---------------------------------------------------------------
def build_chain(modules: list[Any], name: str, bind_last: bool = False) -> Any:
    """``modules`` called one after the other on ``x``; every output a default output, or
    (``bind_last``) only the last one bound, by hand, as ``y``."""
    from ganglion.graph import NeuralGraph

    with NeuralGraph(name=name) as g:
        t = modules[0](x=g)
        for m in modules[1:]:
            t = m(x=t)
        if bind_last:
            g.outputs["y"] = t
    return g


def build_nested(modules: list[Any], name: str, inner: int) -> Any:
    from ganglion.graph import NeuralGraph

    parts = [
        build_chain(modules[i : i + inner], f"{name}_part{i // inner}", bind_last=True)
        for i in range(0, len(modules), inner)
    ]
    with NeuralGraph(name=name) as g:
        t = parts[0](x=g)
        for part in parts[1:]:
            t = part(x=t)
    return g


def bench_build(steps: int, inner: int, repeats: int) -> dict[str, tuple[float, float]]:
    """``{case: (median, first)}`` in seconds."""
    import gc

    _, typed_cls = small_modules(8)

    def make() -> list[Any]:
        return [typed_cls() for _ in range(steps)]

    counter = iter(range(10**9))
    shared = make()
    cases = {
        "flat, modules made before": lambda: build_chain(shared, f"flat{next(counter)}"),
        "flat, modules made inside": lambda: build_chain(make(), f"flatm{next(counter)}"),
        f"nested {steps // inner}x{inner}, made before": lambda: build_nested(
            shared, f"nest{next(counter)}", inner
        ),
        f"nested {steps // inner}x{inner}, made inside": lambda: build_nested(
            make(), f"nestm{next(counter)}", inner
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            gc.collect()
            start = time.perf_counter()
            g = fn()
            times[name].append(time.perf_counter() - start)
            if len(g.steps) != steps:
                raise SystemExit(f"{name}: {len(g.steps)} steps, expected {steps}")
            del g
    return {name: (statistics.median(v), v[0]) for name, v in times.items()}


# -- profiling ---------------------------------------------------------------------------------
def profile(label: str, fn: Any, calls: int, top: int = 14) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "ganglion" in filename:
            short = filename.split("core/", 1)[-1].split("asr/", 1)[-1]
            rows.append((tottime, cumtime, ncalls, f"{short}:{line}({func})"))
    rows.sort(reverse=True)
    total = sum(r[2] for r in stats.stats.values())  # type: ignore[attr-defined]
    print(f"\n[profile] {label}: {calls} calls, {total / calls * 1e3:.3f} ms/call under cProfile")
    print(f"  {'own ms/call':>11} {'cum ms/call':>11} {'calls':>7}  ganglion function")
    for tottime, cumtime, ncalls, where in rows[:top]:
        print(f"  {tottime / calls * 1e3:11.4f} {cumtime / calls * 1e3:11.4f} {ncalls:7d}  {where}")


# -- report ------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baseline",
        type=Path,
        help="checkout of the revision before ganglion.graph "
        "(git worktree add --detach /tmp/base 78f03d3); part 1 is skipped without it",
    )
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds per case")
    parser.add_argument("--eager-calls", type=int, default=20000, help="calls per eager round")
    parser.add_argument(
        "--sample-ms", type=float, default=150.0, help="time per sample of part 2 (each side)"
    )
    parser.add_argument("--taylor-batch", type=int, default=1024)
    parser.add_argument("--asr-batch", type=int, default=8)
    parser.add_argument("--asr-seconds", type=float, default=2.0, help="utterance length")
    parser.add_argument("--steps", type=int, default=200, help="steps of the built graph")
    parser.add_argument("--build-repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (this process)")
    parser.add_argument("--profile", action="store_true", help="cProfile parts 2 and 3")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return

    import torch

    torch.set_num_threads(args.threads)
    rows: list[tuple[str, str, str, str]] = []  # (what, figure, goal, verdict)
    notes: list[str] = []

    if args.baseline is not None:
        eager, worker_notes = bench_eager(args.baseline.resolve(), args.rounds, args.eager_calls)
        notes += worker_notes
        pairs = [
            ("now", "before", "vs before (2 processes)", True),
            ("now", "now-2", "vs now (A/A control, 2 processes)", False),
            ("now", "now-nn", "vs nn.Module.__call__ (1 process)", True),
        ]
        for case, by_series in eager.items():
            for a_label, b_label, what, judged in pairs:
                a_min, b_min = min(by_series[a_label]), min(by_series[b_label])
                paired = statistics.median(
                    x / y for x, y in zip(by_series[a_label], by_series[b_label])
                )
                rows.append(
                    (
                        f"eager {case} Linear 64->64, {what}",
                        f"{a_min * 1e6:.3f} vs {b_min * 1e6:.3f} µs  {a_min / b_min:.3f}x "
                        f"(paired median {paired:.3f}x)",
                        f"<= {GOAL_EAGER:.2f}x" if judged else "(noise)",
                        verdict(a_min / b_min <= GOAL_EAGER) if judged else "",
                    )
                )
    else:
        notes.append("part 1 skipped: pass --baseline PATH (a checkout of 78f03d3)")
    added, linear = bench_override(args.rounds, 50000)
    rows.append(
        (
            "eager: NeuralModule.__call__ override alone (1 process)",
            f"+{added * 1e9:.0f} ns per call = {1 + added / linear:.4f}x of the untyped "
            f"Linear's {linear * 1e6:.2f} µs",
            f"<= {GOAL_EAGER:.2f}x",
            verdict(1 + added / linear <= GOAL_EAGER),
        )
    )

    # built first, so that "first" is the first graph this process records (lazy imports,
    # type comparisons not yet cached)
    build = bench_build(args.steps, 10, args.build_repeats)
    taylor_graph, taylor_hand, _ = taylor_case(args.taylor_batch)
    taylor_small_graph, taylor_small_hand, _ = taylor_case(64)
    taylor_loss_graph, taylor_loss_hand, _ = taylor_case(64, with_loss=True)
    asr_graph, asr_hand, _ = quartznet_case(args.asr_batch, args.asr_seconds)
    cases = {
        f"TaylorNet g(x), batch {args.taylor_batch}": (taylor_graph, taylor_hand),
        "TaylorNet g(x), batch 64": (taylor_small_graph, taylor_small_hand),
        "TaylorNet+MSELoss g(x, target), batch 64": (taylor_loss_graph, taylor_loss_hand),
        f"QuartzNet g(x), batch {args.asr_batch} x {args.asr_seconds:g} s": (asr_graph, asr_hand),
    }
    run = bench_run(cases, args.rounds, target_s=args.sample_ms / 1e3)
    for name, (graph_t, hand_t, med_ratio, n_rounds, number) in run.items():
        ratio = graph_t / hand_t
        unit, scale = ("ms", 1e3) if hand_t > 1e-3 else ("µs", 1e6)
        # single-call samples: the minimum is a tail statistic of a wide distribution, so the
        # verdict goes by the paired median (marked *)
        judged = med_ratio if number == 1 else ratio
        rows.append(
            (
                f"{name} [{n_rounds}x{number}]",
                f"{graph_t * scale:.3f} vs {hand_t * scale:.3f} {unit} "
                f"({(graph_t - hand_t) * 1e6:+.1f} µs)  {ratio:.3f}x "
                f"(paired median {med_ratio:.3f}x{'*' if number == 1 else ''})",
                f"<= {GOAL_RUN:.2f}x",
                verdict(judged <= GOAL_RUN),
            )
        )

    for name, (median, first) in build.items():
        rows.append(
            (
                f"build {args.steps} steps, {name}",
                f"{median * 1e3:.2f} ms (first {first * 1e3:.2f} ms)",
                f"< {GOAL_BUILD_MS:g} ms",
                verdict(median * 1e3 < GOAL_BUILD_MS),
            )
        )

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.rounds} "
        f"interleaved rounds; ratios are now/before (1) and graph/hand (2), minima per call"
    )
    width = max(len(r[0]) for r in rows)
    fig_width = max(len(r[1]) for r in rows)
    print(f"{'case':<{width}}  {'figure':<{fig_width}}  {'goal':<9}  result")
    for what, figure, goal, result in rows:
        print(f"{what:<{width}}  {figure:<{fig_width}}  {goal:<9}  {result}")
    print(
        "(g(x): [rounds x calls per sample], graph and hand alternating; minimum per call, "
        "and the median of\n the per-round ratios; the graph's added µs are those minima's "
        "difference. *: single-call\n samples vary by tens of percent, so the verdict uses "
        "the paired median, not the minimum)"
    )
    print(
        f"(build: median of {args.build_repeats} builds, each recording and type-checking "
        f"{args.steps} calls;\n 'first': each case's first build, the first row's being the "
        f"first graph this process records;\n the nested case builds {args.steps // 10} inner graphs and splices them into an outer one)"
    )
    if args.baseline is not None:
        print(
            "(eager: the A/A row compares two workers of the same checkout, so its distance "
            "from 1.00x is the\n noise of any two-process ratio; the nn.Module.__call__ row "
            "times the call without NeuralModule's\n override in the same process)"
        )
    print(
        "(override alone: m(x) minus torch.nn.Module.__call__(m, x) on a module that does "
        "nothing, where\n the difference is not lost in the noise, over the untyped Linear's "
        "call)"
    )
    for note in notes:
        print(note)

    if args.profile:
        profile(f"TaylorNet g(x), batch {args.taylor_batch}", taylor_graph, 20000)
        profile("QuartzNet g(x)", asr_graph, 20)
        _, typed_cls = small_modules(8)
        shared = [typed_cls() for _ in range(args.steps)]
        names = iter(range(10**9))
        profile(
            f"build {args.steps} steps (flat)",
            lambda: build_chain(shared, f"prof{next(names)}"),
            20,
        )


if __name__ == "__main__":
    main()
