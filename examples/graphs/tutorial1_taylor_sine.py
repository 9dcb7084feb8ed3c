"""Tutorial 1: a TaylorNet fits a sine wave, as a model graph nested into two others.

The model graph (mode ``both``) holds one module, a learned truncated Taylor series. It is
nested into a training graph (data layer -> model -> MSE loss) and, through a second model
graph over the same module, into an evaluation graph on held-out points. Along the way the
tutorial shows both ways to open a graph's context and every way to bind inputs and
outputs:

- contexts: ``with graph:`` (returns the graph), or ``graph.activate()`` ... ``graph.deactivate()``;
- inputs: ``taylor(x=graph)`` binds graph input ``x`` to the module's port ``x``
  automatically; ``graph.inputs["i"] = taylor.input_ports["x"]`` binds one by hand, wired
  with ``taylor(x=graph.inputs["i"])``;
- outputs: every tensor a step makes is a default output, until ``graph.outputs["y"] = t``
  binds one by hand (then only the manual ones count).

Training is the hand-written loop of NeMo 0.11's graphs::

    for batch in training.get_batch():
        training(batch)
        training.backward()
        optimizer.step()

Run it::

    python examples/graphs/tutorial1_taylor_sine.py          # full: final MSE ~1e-4
    python examples/graphs/tutorial1_taylor_sine.py --fast   # a few steps
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

import torch
from graph_modules import MSELoss, SineDataLayer, TaylorNet  # beside this file

from ganglion.graph import NeuralGraph, OperationMode


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few steps on a few points")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 fast, 40 full")
    parser.add_argument("--points", type=int, default=None, help="default: 64 fast, 512 full")
    parser.add_argument("--dim", type=int, default=4, help="Taylor terms")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def evaluate(evaluation: NeuralGraph) -> float:
    """The mean squared error over one pass of the evaluation graph (no gradients: an
    evaluation graph runs its modules in eval mode under ``torch.no_grad``)."""
    total = count = 0.0
    for batch in evaluation.get_batch():
        out = evaluation(batch)
        total += float(out.mse) * len(out.target)
        count += len(out.target)
    return total / count


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build the graphs, train, evaluate; prints what it measured and returns it."""
    args = parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (3 if args.fast else 40)
    points = args.points if args.points is not None else (64 if args.fast else 512)
    torch.manual_seed(args.seed)

    train_data = SineDataLayer(n=points, seed=args.seed, batch_size=args.batch_size)
    held_out_data = SineDataLayer(n=max(64, points // 4), seed=args.seed + 1, shuffle=False)
    taylor = TaylorNet(dim=args.dim)
    mse = MSELoss()

    # 1. The model graph, mode both: `with` opens its context; `taylor(x=model)` binds the
    #    graph's input "x" to taylor's port "x". Its output is the default one, y_pred.
    with NeuralGraph(operation_mode=OperationMode.both, name="model") as model:
        taylor(x=model)
    print(model.summary())

    # 2. The same module in a second model graph, built between activate() and deactivate(),
    #    with its input ("i") and output ("y") bound by hand.
    model_manual = NeuralGraph(operation_mode=OperationMode.both, name="model_manual")
    model_manual.activate()
    model_manual.inputs["i"] = taylor.input_ports["x"]
    model_manual.outputs["y"] = taylor(x=model_manual.inputs["i"])
    model_manual.deactivate()
    print(model_manual.summary())

    # 3. The training graph: data layer -> model (nested: its steps spliced in) -> loss.
    #    Every tensor made is a default output: x, y, y_pred, loss.
    with NeuralGraph(operation_mode=OperationMode.training, name="training") as training:
        x, y = train_data()
        y_pred = model(x=x)
        mse(predictions=y_pred, target=y)
    print(training.summary())

    # 4. The evaluation graph nests model_manual (input "i"); outputs bound by hand.
    evaluation = NeuralGraph(operation_mode=OperationMode.evaluation, name="evaluation")
    evaluation.activate()
    x, y = held_out_data()
    evaluation.outputs["mse"] = mse(predictions=model_manual(i=x), target=y)
    evaluation.outputs["target"] = y
    evaluation.deactivate()
    print(evaluation.summary())
    print(
        f"training: complete={training.is_complete}, trainable={training.is_trainable}; "
        f"evaluation: complete={evaluation.is_complete}, trainable={evaluation.is_trainable}"
    )

    initial_mse = evaluate(evaluation)
    optimizer = torch.optim.Adam(training.parameters(), lr=args.lr)
    losses: list[float] = []
    for epoch in range(epochs):
        for batch in training.get_batch():
            out = training(batch)  # the default outputs, a named tuple: x, y, y_pred, loss
            optimizer.zero_grad(set_to_none=True)
            training.backward()  # back-propagates the loss output
            optimizer.step()
            losses.append(float(out.loss.detach()))
        if epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == epochs:
            print(f"epoch {epoch + 1}/{epochs}: last training loss {losses[-1]:.6f}")

    final_mse = evaluate(evaluation)
    probe = torch.tensor([[-1.5], [0.5], [1.0]])
    fitted = model(x=probe).detach().squeeze(1)  # a graph of mode both is an ordinary module
    for point, value in zip(probe.squeeze(1).tolist(), fitted.tolist()):
        print(f"  sin({point:+.2f}) = {math.sin(point):+.4f}, taylor graph: {value:+.4f}")
    print(f"evaluation MSE: {initial_mse:.6f} before training, {final_mse:.6f} after")
    return {
        "initial_mse": initial_mse,
        "final_mse": final_mse,
        "losses": losses,
        "graphs": {"model": model, "model_manual": model_manual},
        "training": training,
        "evaluation": evaluation,
    }


if __name__ == "__main__":
    main()
