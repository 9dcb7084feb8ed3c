#!/usr/bin/env bash
# ganglion-nlp end to end on a CPU: WordNet gloss -> lexicographer file (45 classes).
#
#   1. build the corpus offline from Debian's wordnet-base (`ganglion-nlp make-corpus wordnet`):
#      about 117 k glosses split by synset into train/validation/test, plus the training
#      split's raw text;
#   2. masked-LM pretraining of a small transformer encoder on that text
#      (`ganglion train --config-name masked_lm_wordnet`, a time budget of PRETRAIN);
#   3. fine-tuning it as a classifier (`ganglion train --config-name
#      text_classification_wordnet`, a budget of FINETUNE), which packages the best model;
#   4. `ganglion-nlp evaluate` on the test split (accuracy, macro-F1, the most confused
#      classes) and `ganglion-nlp classify` on two texts.
#
# Needs a machine set up by scripts/setup.sh. About 22 minutes on 2 CPU cores (20 of them
# training). Keep the machine otherwise idle: on 2 cores a second busy process slows a
# 2-thread training step several times over. bench/bench_nlp.py runs the same recipe and the
# TF-IDF + logistic-regression baseline side by side.
# Settings through the environment:
#   CORPUS=data/nlp_wordnet  RUNS=runs/nlp_wordnet  PRETRAIN=00:00:07:30  FINETUNE=00:00:11:30
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-data/nlp_wordnet}
RUNS=${RUNS:-runs/nlp_wordnet}
PRETRAIN=${PRETRAIN:-00:00:07:30}
FINETUNE=${FINETUNE:-00:00:11:30}
BIN=.venv/bin
if [ ! -x "$BIN/ganglion-nlp" ]; then
    echo "no $BIN/ganglion-nlp: set the machine up first with 'bash scripts/setup.sh'" >&2
    exit 1
fi
stamp() { date +%s; }
t0=$(stamp)

echo "==> [1/4] the WordNet corpus in $CORPUS"
if [ -f "$CORPUS/corpus.json" ]; then
    echo "    (already there; remove it to rebuild)"
else
    "$BIN/ganglion-nlp" make-corpus wordnet "$CORPUS"
fi

RUN_DIR="$RUNS/$(date +%Y-%m-%d_%H-%M-%S)"
echo "==> [2/4] masked-LM pretraining into $RUN_DIR/pretrain ($PRETRAIN)"
"$BIN/ganglion" train --config-name masked_lm_wordnet data_dir="$CORPUS" \
    exp_manager.explicit_log_dir="$RUN_DIR/pretrain" \
    exp_manager.checkpoint_callback_params.dirpath="$RUN_DIR/pretrain/checkpoints" \
    "trainer.callbacks.0.budget=$PRETRAIN"
PRETRAINED="$RUN_DIR/pretrain/checkpoints/MaskedLMWordNet.ganglion"
t1=$(stamp)

echo "==> [3/4] fine-tuning the classifier into $RUN_DIR/classifier ($FINETUNE)"
"$BIN/ganglion" train --config-name text_classification_wordnet data_dir="$CORPUS" \
    model.init_from="$PRETRAINED" \
    exp_manager.explicit_log_dir="$RUN_DIR/classifier" \
    "trainer.callbacks.0.budget=$FINETUNE"
ARCHIVE="$RUN_DIR/classifier/checkpoints/TextClassificationWordNet.ganglion"
t2=$(stamp)

echo "==> [4/4] the test split"
"$BIN/ganglion-nlp" evaluate "$ARCHIVE" --data "$CORPUS/test.tsv" | tee "$RUN_DIR/test_report.txt"
"$BIN/ganglion-nlp" classify "$ARCHIVE" \
    "a small domesticated carnivorous mammal with soft fur" "move quickly on foot"
t3=$(stamp)
cat <<DONE

==> done in $(( (t3 - t0) / 60 )) min $(( (t3 - t0) % 60 )) s: pretraining $(( t1 - t0 )) s, \
fine-tuning $(( t2 - t1 )) s, evaluation $(( t3 - t2 )) s
    classifier archive: $ARCHIVE
    logs:               $RUN_DIR
DONE
