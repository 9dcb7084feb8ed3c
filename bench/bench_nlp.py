"""The ganglion-nlp bar: the WordNet recipe vs TF-IDF + logistic regression, in one run.

On the WordNet gloss -> lexicographer-file corpus (``ganglion-nlp make-corpus wordnet``;
45 classes, train/validation/test split by synset), one after the other so that neither
slows the other on a 2-core machine:

1. the recipe of ``examples/nlp_wordnet.sh``: masked-LM pretraining
   (``ganglion train --config-name masked_lm_wordnet``) then fine-tuning
   (``--config-name text_classification_wordnet``), each bounded by its config's time budget
   (``--pretrain`` / ``--finetune`` override them); the classifier archive is restored and
   scored on the test split;
2. the baseline of ``bench/nlp_baseline.py`` (TF-IDF word and character n-grams, logistic
   regression), fitted on the same training split and scored on the same test split.

Prints test accuracy and macro-F1 of both and the training wall time of each. The goal
(issue 14): the transformer beats the baseline within 20 minutes of training on 2 CPU cores.

    .venv/bin/python bench/bench_nlp.py [--corpus data/nlp_wordnet] [--runs runs/bench_nlp]
        [--pretrain 00:00:07:30] [--finetune 00:00:11:30] [--skip-training ARCHIVE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GOAL_MINUTES = 20


def train(config: str, run_dir: Path, corpus: Path, *overrides: str) -> float:
    """``ganglion train`` with ``overrides``; returns its wall time in seconds."""
    command = [
        str(BIN / "ganglion"),
        "train",
        "--config-name",
        config,
        f"data_dir={corpus}",
        f"exp_manager.explicit_log_dir={run_dir}",
        *overrides,
    ]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    with open(run_dir.parent / f"{run_dir.name}.log", "w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("data/nlp_wordnet"))
    parser.add_argument("--runs", type=Path, default=Path("runs/bench_nlp"))
    parser.add_argument("--pretrain", help="masked-LM time budget (default: the config's)")
    parser.add_argument("--finetune", help="classifier time budget (default: the config's)")
    parser.add_argument(
        "--skip-training",
        type=Path,
        metavar="ARCHIVE",
        help="score this classifier archive instead of training one",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).parent))
    from nlp_baseline import tfidf_logreg

    if not (args.corpus / "test.tsv").is_file():
        subprocess.run(
            [str(BIN / "ganglion-nlp"), "make-corpus", "wordnet", str(args.corpus)], check=True
        )
    times: dict[str, float] = {}
    if args.skip_training:
        archive = args.skip_training
    else:
        run = args.runs / time.strftime("%Y-%m-%d_%H-%M-%S")
        run.mkdir(parents=True)
        pretrain_dir, classifier_dir = run / "pretrain", run / "classifier"
        budget = [f"trainer.callbacks.0.budget={args.pretrain}"] if args.pretrain else []
        times["pretraining"] = train(
            "masked_lm_wordnet",
            pretrain_dir,
            args.corpus,
            f"exp_manager.checkpoint_callback_params.dirpath={pretrain_dir / 'checkpoints'}",
            *budget,
        )
        budget = [f"trainer.callbacks.0.budget={args.finetune}"] if args.finetune else []
        times["fine-tuning"] = train(
            "text_classification_wordnet",
            classifier_dir,
            args.corpus,
            f"model.init_from={pretrain_dir / 'checkpoints' / 'MaskedLMWordNet.ganglion'}",
            *budget,
        )
        archive = classifier_dir / "checkpoints" / "TextClassificationWordNet.ganglion"

    from ganglion import ModelPT

    model = ModelPT.restore_from(archive)
    report = model.evaluate(args.corpus / "test.tsv", batch_size=256)
    baseline = tfidf_logreg(args.corpus / "train.tsv", args.corpus / "test.tsv")

    total = sum(times.values())
    print(f"\nWordNet gloss -> lexname, test split of {args.corpus} ({report.total} texts)")
    print(f"{'model':<44} {'accuracy':>9} {'macro-F1':>9}  training")
    spent = " + ".join(f"{name} {s / 60:.1f}" for name, s in times.items()) or "(given)"
    print(
        f"{'transformer (masked-LM, then fine-tuned)':<44} {report.accuracy:>9.4f} "
        f"{report.macro_f1:>9.4f}  {spent} min (goal <= {GOAL_MINUTES})"
    )
    print(
        f"{'TF-IDF + logistic regression':<44} {baseline['accuracy']:>9.4f} "
        f"{baseline['macro_f1']:>9.4f}  {baseline['seconds'] / 60:.1f} min"
    )
    beats = report.accuracy > baseline["accuracy"] and report.macro_f1 > baseline["macro_f1"]
    within = total <= GOAL_MINUTES * 60 or not times
    print(
        f"goal: beat the baseline on both: {'met' if beats else 'MISSED'}; "
        f"training within {GOAL_MINUTES} min: {'met' if within else 'MISSED'}"
    )
    print(f"archive: {archive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
