"""Helpers for the ganglion-nlp data, model and command tests: a toy corpus anyone could
classify (the label is the group of the one content word), a char tokenizer trained on it,
and the config of a tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

GROUPS = {
    "animal": ["cat", "dog", "horse", "sheep", "goat", "mouse"],
    "tool": ["hammer", "saw", "drill", "wrench", "chisel", "spade"],
    "color": ["red", "green", "blue", "yellow", "purple", "orange"],
}
FRAMES = ["a {} here", "the {} there", "one {} again", "my {} now", "{}"]


def toy_rows(
    n: int, seed: int = 0, groups: dict[str, list[str]] | None = None
) -> list[tuple[str, str]]:
    """``n`` (text, label) rows of the toy task, labels in turn."""
    groups = groups or GROUPS
    rng = random.Random(seed)
    labels = sorted(groups)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        rows.append((rng.choice(FRAMES).format(rng.choice(groups[label])), label))
    return rows


def write_tsv(path: Path, rows: list[tuple[str, str]], *, header: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (["text\tlabel"] if header else []) + [f"{t}\t{label}" for t, label in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows),
        encoding="utf-8",
    )
    return path


def toy_corpus(folder: Path, *, train: int = 96, evaluation: int = 30) -> dict[str, Path]:
    """train.tsv, validation.tsv, test.tsv and text.txt of the toy task in ``folder``."""
    rows = toy_rows(train, seed=0)
    paths = {
        "train": write_tsv(folder / "train.tsv", rows, header=True),
        "validation": write_tsv(folder / "validation.tsv", toy_rows(evaluation, seed=1)),
        "test": write_tsv(folder / "test.tsv", toy_rows(evaluation, seed=2)),
        "text": folder / "text.txt",
    }
    paths["text"].write_text("".join(t + "\n" for t, _ in rows), encoding="utf-8")
    return paths


def toy_tokenizer(folder: Path, texts_file: Path, kind: str = "word") -> Path:
    """A tokenizer of ``kind`` trained on ``texts_file`` (a .txt or the texts of a .tsv) in
    ``folder``; returns its directory."""
    from ganglion_nlp.tokenizers import train_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    texts = folder / "tokenizer_texts.txt"
    lines = texts_file.read_text(encoding="utf-8").splitlines()
    texts.write_text("".join(line.split("\t")[0] + "\n" for line in lines), encoding="utf-8")
    return train_tokenizer(kind, [texts], folder / f"{kind}_tok", vocab_size=100).directory


def tiny_config(
    corpus: dict[str, Path], tokenizer_dir: Path | None, *, batch_size: int = 16, **extra
) -> dict:
    """The config of a tiny TextClassificationModel on ``corpus`` (``toy_corpus``)."""
    cfg = {
        "max_length": 24,
        "tokenizer": {"dir": str(tokenizer_dir) if tokenizer_dir else None},
        "train_ds": {"file_path": str(corpus["train"]), "batch_size": batch_size},
        "validation_ds": {"file_path": str(corpus["validation"]), "batch_size": 32},
        "test_ds": {"file_path": str(corpus["test"]), "batch_size": 7},
        "embedding": {"_target_": "TokenEmbedding", "d_model": 32, "dropout": 0.0},
        "encoder": {
            "_target_": "TransformerEncoder",
            "num_layers": 1,
            "num_heads": 4,
            "ff_dim": 64,
            "dropout": 0.0,
            "attention_dropout": 0.0,
        },
        "head": {"_target_": "SequenceClassificationHead", "dropout": 0.0},
        "optim": {"name": "adamw", "lr": 3e-3},
    }
    cfg.update(extra)
    return cfg


def tiny_mlm_config(corpus: dict[str, Path], tokenizer_dir: Path | None, **extra) -> dict:
    """The config of a tiny MaskedLMModel pretraining on ``corpus["text"]``, sized as
    :func:`tiny_config` (so a classifier can start from it)."""
    cfg = tiny_config(corpus, tokenizer_dir, **extra)
    cfg["train_ds"] = {"file_path": str(corpus["text"]), "batch_size": 16}
    cfg["validation_ds"] = {"file_path": str(corpus["validation"]), "batch_size": 32}
    cfg["test_ds"] = {"file_path": None}
    cfg["head"] = {"_target_": "MaskedLMHead"}
    return cfg
