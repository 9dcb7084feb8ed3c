"""Training throughput (tokens/s) of ganglion-nlp's text classifier vs the same layers in
plain PyTorch.

Side by side in one run, on the same batches, the same weights (copied before timing, outputs
checked equal) and the same optimizer (AdamW), one training step each = forward, cross-entropy
loss, backward, optimizer step, zero_grad:

* ``ganglion``: a ``TextClassificationModel`` (the WordNet config's sizes: vocabulary 8000,
  d_model 256, 4 layers, 4 heads, ff 1024, 45 classes, dropout 0.1), called as its
  ``training_step`` calls it: ``model(input_ids=..., attention_mask=...)`` through the model's
  and each NeuralModule's ``@typecheck`` (checks on), the embedding, encoder and head modules;
* ``plain``: the same computation written as plain ``nn.Module``s in this file (embedding +
  position table + layer norm, pre-norm layers with ``F.scaled_dot_product_attention`` and
  the padding mask, ``<cls>`` pooling, linear head), no ganglion code in the step;
* ``torch-layer`` (for reference): torch's own ``nn.TransformerEncoderLayer`` (norm_first,
  GELU, batch_first, ``src_key_padding_mask``) holding the same weights.

Batches: 64 texts of WordNet-gloss-like lengths (lognormal, mean ~20 ids with ``<cls>`` and
``<sep>``, at most 64), sorted into length buckets as the training loader does, padded to
each batch's longest. Tokens/s counts real (non-padding) tokens. The variants run in
interleaved rounds (ganglion, plain, torch-layer, ganglion, ...), each round ``--steps``
steps over the same batches; the minimum round time of each is reported, so a burst of
other work on the machine hits the rounds, not the ratio. Goal: ganglion / plain <= 1.05.

    .venv/bin/python bench/bench_nlp_throughput.py [--rounds 5] [--steps 10] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

VOCAB = 8000
D_MODEL = 256
LAYERS = 4
HEADS = 4
FF = 1024
CLASSES = 45
MAX_LENGTH = 64
BATCH = 64
DROPOUT = 0.1
GOAL = 1.05


# -- the plain PyTorch model ---------------------------------------------------------------------
class PlainLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.attention_out = nn.Linear(D_MODEL, D_MODEL)
        self.ff_in = nn.Linear(D_MODEL, FF)
        self.ff_out = nn.Linear(FF, D_MODEL)
        self.attention_norm = nn.LayerNorm(D_MODEL)
        self.ff_norm = nn.LayerNorm(D_MODEL)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        h = self.attention_norm(x)
        q, k, v = self.qkv(h).view(b, t, 3, HEADS, d // HEADS).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=DROPOUT if self.training else 0.0
        )
        a = a.transpose(1, 2).reshape(b, t, d)
        x = x + F.dropout(self.attention_out(a), DROPOUT, self.training)
        h = F.dropout(F.gelu(self.ff_in(self.ff_norm(x))), DROPOUT, self.training)
        return x + F.dropout(self.ff_out(h), DROPOUT, self.training)


class PlainClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Embedding(VOCAB, D_MODEL, padding_idx=0)
        self.position = nn.Embedding(MAX_LENGTH, D_MODEL)
        self.embedding_norm = nn.LayerNorm(D_MODEL)
        self.layers = nn.ModuleList(PlainLayer() for _ in range(LAYERS))
        self.final_norm = nn.LayerNorm(D_MODEL)
        self.classifier = nn.Linear(D_MODEL, CLASSES)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embedding_norm(self.token(ids) + self.position.weight[: ids.shape[1]])
        x = F.dropout(x, DROPOUT, self.training)
        attn_mask = None if bool(mask.all()) else mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, attn_mask)
        x = self.final_norm(x)
        return self.classifier(F.dropout(x[:, 0], DROPOUT, self.training))


class TorchLayerClassifier(nn.Module):
    """The same model with torch's nn.TransformerEncoderLayer."""

    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Embedding(VOCAB, D_MODEL, padding_idx=0)
        self.position = nn.Embedding(MAX_LENGTH, D_MODEL)
        self.embedding_norm = nn.LayerNorm(D_MODEL)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                D_MODEL, HEADS, FF, DROPOUT, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(LAYERS)
        )
        self.final_norm = nn.LayerNorm(D_MODEL)
        self.classifier = nn.Linear(D_MODEL, CLASSES)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embedding_norm(self.token(ids) + self.position.weight[: ids.shape[1]])
        x = F.dropout(x, DROPOUT, self.training)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=~mask)
        x = self.final_norm(x)
        return self.classifier(F.dropout(x[:, 0], DROPOUT, self.training))


# -- building, copying weights -------------------------------------------------------------------
def build_ganglion_model(folder: Path):
    """A TextClassificationModel of the WordNet config's sizes (a word tokenizer of VOCAB ids
    and a 45-label training file made up for it: only their sizes matter here)."""
    from ganglion_nlp.models import TextClassificationModel
    from ganglion_nlp.tokenizers import train_tokenizer

    words = [f"w{i}" for i in range(VOCAB - 5)]
    texts = folder / "words.txt"
    texts.write_text(
        "\n".join(" ".join(words[i : i + 10]) for i in range(0, len(words), 10)) + "\n"
    )
    tok = train_tokenizer("word", [texts], folder / "tok", vocab_size=VOCAB)
    train = folder / "train.tsv"
    train.write_text("".join(f"w{i} w{i + 1}\tlabel{i % CLASSES:02d}\n" for i in range(450)))
    cfg = {
        "max_length": MAX_LENGTH,
        "tokenizer": {"dir": str(tok.directory)},
        "train_ds": {"file_path": str(train)},
        "embedding": {"d_model": D_MODEL, "dropout": DROPOUT},
        "encoder": {
            "num_layers": LAYERS,
            "num_heads": HEADS,
            "ff_dim": FF,
            "dropout": DROPOUT,
            "attention_dropout": DROPOUT,
            "pre_norm": True,
        },  # fmt: skip
        "head": {"pooling": "cls", "dropout": DROPOUT},
        "optim": {"name": "adamw", "lr": 1e-4},
    }
    model = TextClassificationModel(cfg)
    assert model.tokenizer.vocab_size == VOCAB and len(model.labels) == CLASSES
    return model


def copy_into_plain(model, plain: PlainClassifier) -> None:
    emb = model.embedding
    state = {
        "token.weight": emb.token_embedding.weight,
        "position.weight": emb.position_embedding.weight,
        "embedding_norm.weight": emb.norm.weight,
        "embedding_norm.bias": emb.norm.bias,
        "final_norm.weight": model.encoder.final_norm.weight,
        "final_norm.bias": model.encoder.final_norm.bias,
        "classifier.weight": model.head.classifier.weight,
        "classifier.bias": model.head.classifier.bias,
    }
    for i, layer in enumerate(model.encoder.layers):
        for name, value in layer.state_dict().items():
            state[f"layers.{i}.{name}"] = value
    plain.load_state_dict({k: v.detach().clone() for k, v in state.items()})


def copy_into_torch_layers(plain: PlainClassifier, torch_model: TorchLayerClassifier) -> None:
    state = {k: v for k, v in plain.state_dict().items() if not k.startswith("layers.")}
    names = {
        "qkv.weight": "self_attn.in_proj_weight",
        "qkv.bias": "self_attn.in_proj_bias",
        "attention_out.weight": "self_attn.out_proj.weight",
        "attention_out.bias": "self_attn.out_proj.bias",
        "ff_in.weight": "linear1.weight",
        "ff_in.bias": "linear1.bias",
        "ff_out.weight": "linear2.weight",
        "ff_out.bias": "linear2.bias",
        "attention_norm.weight": "norm1.weight",
        "attention_norm.bias": "norm1.bias",
        "ff_norm.weight": "norm2.weight",
        "ff_norm.bias": "norm2.bias",
    }
    for i, layer in enumerate(plain.layers):
        for ours, theirs in names.items():
            state[f"layers.{i}.{theirs}"] = layer.state_dict()[ours]
    torch_model.load_state_dict({k: v.clone() for k, v in state.items()})


# -- data -----------------------------------------------------------------------------------------
def make_batches(
    count: int, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``count`` padded batches of gloss-like lengths, bucketed as the training loader does."""
    gen = torch.Generator().manual_seed(seed)
    n = count * BATCH
    lengths = torch.exp(torch.randn(n, generator=gen) * 0.45 + math.log(18.0)).round().long() + 2
    lengths = lengths.clamp(3, MAX_LENGTH)
    order = torch.randperm(n, generator=gen)
    pools = [order[i : i + BATCH * count] for i in range(0, n, BATCH * count)]
    batches = []
    for pool in pools:
        pool = pool[torch.sort(lengths[pool], stable=True).indices]
        for start in range(0, len(pool), BATCH):
            rows = lengths[pool[start : start + BATCH]]
            width = int(rows.max())
            ids = torch.randint(5, VOCAB, (len(rows), width), generator=gen)
            mask = torch.arange(width)[None, :] < rows[:, None]
            ids[:, 0] = 2
            ids[torch.arange(len(rows)), rows - 1] = 3
            ids[~mask] = 0
            labels = torch.randint(0, CLASSES, (len(rows),), generator=gen)
            batches.append((ids, mask, labels))
    # shuffled batch order, as in training
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


# -- timing ---------------------------------------------------------------------------------------
def ganglion_step(model, optimizer, batch) -> None:
    ids, mask, labels = batch
    loss = F.cross_entropy(model(input_ids=ids, attention_mask=mask), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def plain_step(model, optimizer, batch) -> None:
    ids, mask, labels = batch
    loss = F.cross_entropy(model(ids, mask), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def timed_round(step, model, optimizer, batches) -> float:
    start = time.perf_counter()
    for batch in batches:
        step(model, optimizer, batch)
    return time.perf_counter() - start


def check_same_outputs(model, plain, torch_model, batch) -> float:
    """The largest difference of the logits of the three (eval mode: no dropout)."""
    from ganglion.typechecking.switch import is_enabled

    ids, mask, _ = batch
    model.eval(), plain.eval(), torch_model.eval()
    with torch.no_grad():
        ours = model(input_ids=ids, attention_mask=mask)
        # the step went through the model's ports (no type when checks are off)
        assert hasattr(ours, "neural_type") or not is_enabled()
        theirs = plain(ids, mask)
        torch_layers = torch_model(ids, mask)
    model.train(), plain.train(), torch_model.train()
    return max(float((ours - theirs).abs().max()), float((ours - torch_layers).abs().max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per variant")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from ganglion.typechecking.switch import is_enabled

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GANGLION_CACHE"] = str(Path(tmp) / "cache")
        model = build_ganglion_model(Path(tmp))
    plain = PlainClassifier()
    copy_into_plain(model, plain)
    torch_model = TorchLayerClassifier()
    copy_into_torch_layers(plain, torch_model)
    batches = make_batches(args.steps)
    difference = check_same_outputs(model, plain, torch_model, batches[0])
    assert difference < 1e-4, f"the variants compute different logits (max difference {difference})"

    variants = {
        "ganglion": (ganglion_step, model),
        "plain": (plain_step, plain),
        "torch-layer": (plain_step, torch_model),
    }
    optimizers = {
        name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, (_, m) in variants.items()
    }
    for name, (step, m) in variants.items():  # warm-up: allocations, first-call costs
        m.train()
        for batch in batches[:3]:
            step(m, optimizers[name], batch)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (step, m) in variants.items():
            times[name].append(timed_round(step, m, optimizers[name], batches))

    real = sum(int(mask.sum()) for _, mask, _ in batches)
    padded = sum(mask.numel() for _, mask, _ in batches)
    print(
        f"TextClassificationModel step, vocab {VOCAB}, d_model {D_MODEL}, {LAYERS} layers, "
        f"{HEADS} heads, ff {FF}, {CLASSES} classes; {args.steps} batches of {BATCH} "
        f"({real} real tokens, {padded} with padding) per round, {args.rounds} rounds, "
        f"{torch.get_num_threads()} threads, typecheck {'on' if is_enabled() else 'OFF'}"
    )
    print(f"logits agree within {difference:.1e}")
    best = {name: min(t) for name, t in times.items()}
    for name, seconds in best.items():
        print(
            f"  {name:<12} {seconds / args.steps * 1000:8.1f} ms/step  {real / seconds:9.0f} tokens/s"
            f"   (rounds: {', '.join(f'{t:.2f}' for t in times[name])} s)"
        )
    ratio = best["ganglion"] / best["plain"]
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"ganglion / plain: {ratio:.3f}x (goal <= {GOAL}x: {verdict} it)")
    print(f"ganglion / torch-layer: {best['ganglion'] / best['torch-layer']:.3f}x (reference)")


if __name__ == "__main__":
    main()
