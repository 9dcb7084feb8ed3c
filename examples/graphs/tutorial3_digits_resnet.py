"""Tutorial 3: a ResNet-style classifier of scikit-learn's 8x8 digits, trained as graphs.

Four typed modules — a data layer (``image``, ``label``), a residual backbone, a classifier
head (``logits``) and a cross-entropy loss — are wired into two graphs over the same modules:
a training graph (data -> backbone -> head -> loss) and an evaluation graph on held-out
digits (data -> backbone -> head). Both move to the device with ``.to(device)``, get their
data loaders from ``configure_data_loader(...)``, and run in a hand-written loop::

    for batch in training.get_batch():
        training(batch)          # training.forward: the recorded steps, modules in train mode
        training.backward()      # back-propagates the graph's loss output
        optimizer.step()

The evaluation graph runs its modules in eval mode without gradients. Run it::

    python examples/graphs/tutorial3_digits_resnet.py          # full: >= 97 % held-out
    python examples/graphs/tutorial3_digits_resnet.py --fast   # a few steps, a tiny net

It needs scikit-learn (``pip install -e ".[examples]"``) for the bundled digits.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ganglion.graph import DataLayer, NeuralGraph, OperationMode
from ganglion.module import NeuralModule
from ganglion.typechecking import typecheck
from ganglion.types import ChannelType, LabelsType, LogitsType, LossType, NeuralType

IMAGES = NeuralType(("B", "C", "H", "W"), ChannelType())
LABELS = NeuralType(("B",), LabelsType())
FEATURES = NeuralType(("B", "D"), ChannelType())
LOGITS = NeuralType(("B", "D"), LogitsType())
NUM_CLASSES = 10


def load_digits_split(held_out: float, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's 1797 digits as ``(N, 1, 8, 8)`` images in [0, 1] and their labels, split
    (stratified, seeded) into ``train`` and ``held_out``."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise SystemExit(
            'tutorial 3 needs scikit-learn: pip install -e ".[examples]" (or scikit-learn)'
        ) from None
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, held_idx = train_test_split(
        range(len(labels)), test_size=held_out, random_state=seed, stratify=digits.target
    )
    train_idx, held_idx = torch.tensor(train_idx), torch.tensor(held_idx)
    return {
        "train": (images[train_idx], labels[train_idx]),
        "held_out": (images[held_idx], labels[held_idx]),
    }


class DigitsDataLayer(DataLayer):
    """The digits of one split as a data layer: output ports ``image`` and ``label``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, **loader_args: Any) -> None:
        super().__init__(torch.utils.data.TensorDataset(images, labels), **loader_args)

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"image": IMAGES, "label": LABELS}


class ResidualBlock(torch.nn.Module):
    """conv-BN-ReLU-conv-BN plus the input (a strided 1x1 projection when the shape changes)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels_out)
        self.conv2 = torch.nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels_out)
        self.shortcut = torch.nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                torch.nn.BatchNorm2d(channels_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetBackbone(NeuralModule):
    """A small ResNet: a 3x3 stem, residual blocks at 8x8 then at 4x4, global average
    pooling. ``image`` (B, C, H, W) -> ``features`` (B, D) with D = 2 * ``channels``."""

    def __init__(self, channels: int = 32, blocks_per_stage: int = 2) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(channels),
            torch.nn.ReLU(),
        )
        blocks, width_in = [], channels
        for stage, width in enumerate((channels, 2 * channels)):
            for i in range(blocks_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1  # the second stage works at 4x4
                blocks.append(ResidualBlock(width_in, width, stride))
                width_in = width
        self.blocks = torch.nn.Sequential(*blocks)
        self.features_dim = 2 * channels

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"image": IMAGES}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"features": FEATURES}

    @typecheck()
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(image)).mean(dim=(2, 3))


class ClassifierHead(NeuralModule):
    """``features`` (B, D) -> ``logits`` (B, classes): dropout and one linear layer."""

    def __init__(self, features_dim: int, num_classes: int = NUM_CLASSES, dropout: float = 0.1):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.linear = torch.nn.Linear(features_dim, num_classes)

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"features": FEATURES}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"logits": LOGITS}

    @typecheck()
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(features))


class CrossEntropyLoss(NeuralModule):
    """``logits`` (B, classes) and ``labels`` (B) -> the mean cross-entropy ``loss``."""

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"logits": LOGITS, "labels": LABELS}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"loss": NeuralType(elements_type=LossType())}

    @typecheck()
    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few steps on a tiny net")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 fast, 12 full")
    parser.add_argument("--channels", type=int, default=None, help="default: 8 fast, 16 full")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--held-out", type=float, default=0.2, help="held-out fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda..."
    )
    return parser.parse_args(argv)


def move(batch: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    return [t.to(device, non_blocking=True) for t in batch]


def evaluate(evaluation: NeuralGraph, device: torch.device) -> tuple[float, int]:
    """Held-out accuracy and the number of examples, over one pass of the evaluation graph."""
    correct = total = 0
    for batch in evaluation.get_batch():
        out = evaluation(move(batch, device))
        correct += int((out.logits.argmax(dim=1) == out.label).sum())
        total += len(out.label)
    return correct / total, total


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build, train and evaluate; prints what it measured and returns it."""
    args = parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (3 if args.fast else 12)
    channels = args.channels if args.channels is not None else (8 if args.fast else 16)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    splits = load_digits_split(args.held_out, args.seed)
    train_images, train_labels = splits["train"]
    if args.fast:  # a few batches only
        train_images, train_labels = train_images[:256], train_labels[:256]
    train_data = DigitsDataLayer(train_images, train_labels)
    held_out_data = DigitsDataLayer(*splits["held_out"])
    backbone = ResNetBackbone(channels=channels, blocks_per_stage=1 if args.fast else 2)
    head = ClassifierHead(backbone.features_dim)
    cross_entropy = CrossEntropyLoss()

    # Two graphs over the same backbone and head (same weights): one trains, one evaluates.
    with NeuralGraph(operation_mode=OperationMode.training, name="digits_training") as training:
        image, label = train_data()
        logits = head(features=backbone(image=image))
        training.outputs["loss"] = cross_entropy(logits=logits, labels=label)
    with NeuralGraph(
        operation_mode=OperationMode.evaluation, name="digits_evaluation"
    ) as evaluation:
        image, label = held_out_data()
        evaluation.outputs["logits"] = head(features=backbone(image=image))
        evaluation.outputs["label"] = label
    print(training.summary())
    print(evaluation.summary())

    training.to(device)
    evaluation.to(device)  # the same modules: already there
    training.configure_data_loader(
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,  # BatchNorm wants more than one example per batch
        generator=torch.Generator().manual_seed(args.seed),
    )
    evaluation.configure_data_loader(batch_size=512, shuffle=False)

    optimizer = torch.optim.AdamW(training.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(train_data) // args.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=max(1, epochs * steps_per_epoch)
    )
    epoch_losses: list[float] = []
    step_losses: list[float] = []
    for epoch in range(epochs):
        losses = []
        for batch in training.get_batch():
            loss = training(move(batch, device))  # one output bound: the loss itself
            optimizer.zero_grad(set_to_none=True)
            training.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        step_losses.extend(losses)
        epoch_losses.append(sum(losses) / len(losses))
        print(f"epoch {epoch + 1}/{epochs}: mean training loss {epoch_losses[-1]:.4f}")

    accuracy, held_out = evaluate(evaluation, device)
    seconds = time.perf_counter() - started
    print(
        f"held-out accuracy: {100 * accuracy:.2f} % of {held_out} digits "
        f"({len(train_data)} trained on, {epochs} epochs, {seconds:.1f} s on {device})"
    )
    return {
        "accuracy": accuracy,
        "held_out": held_out,
        "trained_on": len(train_data),
        "epoch_losses": epoch_losses,
        "step_losses": step_losses,
        "seconds": seconds,
        "training": training,
        "evaluation": evaluation,
    }


if __name__ == "__main__":
    main()
