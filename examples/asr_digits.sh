#!/usr/bin/env bash
# ganglion's main job: speech recognition of spoken digit strings, end to end on a CPU.
#
#   1. synthesise a corpus with espeak-ng's English voices and variants and festival's ked
#      voice in five registers (8000 training utterances, a quarter of them festival's; the
#      validation and test sets are spoken by voices training never hears), deterministic for
#      the seed;
#   2. train the quartznet_digits QuartzNet with `ganglion train` for a 13-minute budget, on
#      waveform-augmented audio (speed, pitch, EQ, reverberation, noise, telephone line,
#      gain), which packages the best model as a .ganglion archive and tests it;
#   3. transcribe the test set with that archive (`ganglion-asr transcribe`) and print the
#      WER/CER and a few reference/hypothesis pairs;
#   4. transcribe the human sanity set (the digit recordings of Debian's
#      pocketsphinx-testdata, `ganglion-asr make-sanity-set`) and print its WER beside the
#      synthetic test set's: speech no synthesiser made.
#
# Needs a machine set up by scripts/setup.sh. About 20 minutes on 2 CPU cores (6 to
# synthesise, 13 to train, half a minute to test and transcribe; held-out-voice test WER about
# 0.5 %, the human recordings about 20 %); a second run reuses the corpus.
# Settings through the environment:
#   CORPUS=data/digits_voices  corpus folder  SEED=0     corpus seed
#   SANITY=data/sanity         human sanity set folder
#   RUNS=runs/asr_digits       runs folder    JOBS=nproc synthesis processes
#   extra `ganglion train` overrides as arguments, e.g.
#   bash examples/asr_digits.sh trainer.callbacks.0.budget=00:05:00
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-data/digits_voices}
SANITY=${SANITY:-data/sanity}
RUNS=${RUNS:-runs/asr_digits}
SEED=${SEED:-0}
JOBS=${JOBS:-$(nproc)}
BIN=.venv/bin
if [ ! -x "$BIN/ganglion-asr" ]; then
    echo "no $BIN/ganglion-asr: set the machine up first with 'bash scripts/setup.sh'" >&2
    exit 1
fi

stamp() { date +%s; }
t0=$(stamp)

echo "==> [1/4] the spoken-digit corpus in $CORPUS (seed $SEED)"
# synth-digits is idempotent: a finished corpus made with the same settings is only checked
# (no file is re-made), an interrupted one is completed, other settings are an error
"$BIN/ganglion-asr" synth-digits "$CORPUS" --engines espeak-ng,festival --seed "$SEED" -j "$JOBS"
t1=$(stamp)

RUN_DIR="$RUNS/$(date +%Y-%m-%d_%H-%M-%S)"
echo "==> [2/4] training quartznet_digits into $RUN_DIR"
"$BIN/ganglion" train --config-name quartznet_digits \
    model.train_ds.manifest_filepath="$CORPUS/train_manifest.json" \
    model.validation_ds.manifest_filepath="$CORPUS/validation_manifest.json" \
    model.test_ds.manifest_filepath="$CORPUS/test_manifest.json" \
    exp_manager.explicit_log_dir="$RUN_DIR" \
    "$@"
t2=$(stamp)

ARCHIVE="$RUN_DIR/checkpoints/QuartzNetDigits.ganglion"
if [ ! -f "$ARCHIVE" ]; then
    echo "training wrote no archive at $ARCHIVE" >&2
    exit 1
fi
echo "==> [3/4] transcribing the held-out-voice test set with $ARCHIVE"
"$BIN/ganglion-asr" transcribe "$ARCHIVE" --manifest "$CORPUS/test_manifest.json" \
    --output "$RUN_DIR/test_predictions.jsonl" --show 0 | tee "$RUN_DIR/test_wer.txt"

echo "==> [4/4] transcribing human speech: the sanity set in $SANITY"
if "$BIN/ganglion-asr" make-sanity-set "$SANITY" >/dev/null; then
    "$BIN/ganglion-asr" transcribe "$ARCHIVE" --manifest "$SANITY/sanity_manifest.json" \
        --output "$RUN_DIR/sanity_predictions.jsonl" --show 0 | tee "$RUN_DIR/sanity_wer.txt"
else
    echo "(no sanity set: install Debian's pocketsphinx-testdata, or run scripts/setup.sh)"
fi
t3=$(stamp)

"$BIN/python" - "$RUN_DIR/test_predictions.jsonl" "$RUN_DIR/sanity_predictions.jsonl" <<'EOF'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
wrong = [r for r in rows if r["pred_text"] != r["text"]]
print(f"\n{len(rows) - len(wrong)} of {len(rows)} test utterances exactly right; a few of them:")
for r in rows[:5]:
    print(f"  ref: {r['text']}\n  hyp: {r['pred_text']}")
if wrong:
    print("and a few mistakes:")
    for r in wrong[:3]:
        print(f"  ref: {r['text']}\n  hyp: {r['pred_text']}")

from ganglion_asr.metrics import error_rates

print("\nword error rates, side by side:")
human = []
for label, path in (
    ("held-out synthetic voices (test)", sys.argv[1]),
    ("human recordings (sanity set)", sys.argv[2]),
):
    try:
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    except FileNotFoundError:
        continue
    wer, _ = error_rates([r["pred_text"] for r in rows], [r["text"] for r in rows])
    words = sum(len(r["text"].split()) for r in rows)
    print(f"  {label:34} {len(rows):5d} utterances, {words:5d} words: WER {wer:6.2%}")
    human = rows if path == sys.argv[2] else []
for r in human:  # the sanity set is small: all of it
    print(f"  ref: {r['text']}\n  hyp: {r['pred_text']}")
EOF

cat <<EOF

==> done in $(( (t3 - t0) / 60 )) min $(( (t3 - t0) % 60 )) s: corpus $(( t1 - t0 )) s, \
training and test $(( t2 - t1 )) s, transcription $(( t3 - t2 )) s
    model archive: $ARCHIVE
    logs:          $RUN_DIR  (tensorboard --logdir $RUN_DIR; metrics in $RUN_DIR/csv/metrics.csv)
    predictions:   $RUN_DIR/test_predictions.jsonl
    transcribe more audio: $BIN/ganglion-asr transcribe $ARCHIVE my_recording.wav
EOF
