#!/usr/bin/env bash
# ganglion-tts end to end on a CPU: a voice trained here, judged by the quick start's
# speech recogniser on digit strings it never saw.
#
#   1. a single-voice corpus with espeak-ng (`ganglion-tts make-corpus`): 2500 training
#      utterances (60 % digit strings, the rest sentences from fortunes and WordNet), 100
#      validation, 200 test; no test digit string or sentence occurs in training;
#   2. FastPitch (`ganglion train --config-name fastpitch`, 18-minute budget; durations from
#      the aligner it learns) and the HiFi-GAN vocoder (`--config-name hifigan`, 10-minute
#      budget) side by side, one thread each: 28 minutes of training in 18 of wall time;
#   3. bench/bench_tts.py on the test split: the held-out digit strings synthesised (with
#      Griffin-Lim and with HiFi-GAN) and transcribed by the ASR digit model, WER of each;
#      mel L1 against espeak-ng's own rendering of the held-out sentences; a few wavs and
#      mel.png (generated mel above the reference);
#   4. `ganglion-tts synthesize` on one sentence, with each vocoder.
#
# Needs a machine set up by scripts/setup.sh, and the ASR digit model of the quick start
# (the newest runs/asr_digits/*/checkpoints/QuartzNetDigits.ganglion, or ASR=path; without
# one, examples/asr_digits.sh trains it first, 15 more minutes). About 21 minutes on 2 CPU
# cores with that model. Keep the machine otherwise idle: the budgets are wall time.
# Settings through the environment:
#   CORPUS=data/tts  RUNS=runs/tts_digits  ASR=...  FASTPITCH_BUDGET=00:00:18:00
#   HIFIGAN_BUDGET=00:00:10:00
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-data/tts}
RUNS=${RUNS:-runs/tts_digits}
FASTPITCH_BUDGET=${FASTPITCH_BUDGET:-00:00:18:00}
HIFIGAN_BUDGET=${HIFIGAN_BUDGET:-00:00:10:00}
BIN=.venv/bin
if [ ! -x "$BIN/ganglion-tts" ]; then
    echo "no $BIN/ganglion-tts: set the machine up first with 'bash scripts/setup.sh'" >&2
    exit 1
fi
stamp() { date +%s; }

ASR=${ASR:-$(ls -t runs/asr_digits/*/checkpoints/QuartzNetDigits.ganglion 2>/dev/null | head -n 1 || true)}
if [ -z "$ASR" ]; then
    echo "==> no ASR digit model yet: training the quick start's (examples/asr_digits.sh)"
    bash examples/asr_digits.sh
    ASR=$(ls -t runs/asr_digits/*/checkpoints/QuartzNetDigits.ganglion | head -n 1)
fi
echo "    ASR digit model: $ASR"
t0=$(stamp)

echo "==> [1/4] the single-voice corpus in $CORPUS"
# idempotent: a finished corpus of the same settings is kept, an interrupted one completed
"$BIN/ganglion-tts" make-corpus "$CORPUS" --quiet

RUN_DIR="$RUNS/$(date +%Y-%m-%d_%H-%M-%S)"
mkdir -p "$RUN_DIR"
echo "==> [2/4] FastPitch ($FASTPITCH_BUDGET) and HiFi-GAN ($HIFIGAN_BUDGET) side by side in $RUN_DIR"
echo "    logs: $RUN_DIR/fastpitch.log, $RUN_DIR/hifigan.log"
t1=$(stamp)
data=(model.train_ds.manifest_filepath="$CORPUS/train_manifest.json"
      model.validation_ds.manifest_filepath="$CORPUS/validation_manifest.json"
      trainer.enable_progress_bar=false)
OMP_NUM_THREADS=1 "$BIN/ganglion" train --config-name fastpitch "${data[@]}" \
    exp_manager.explicit_log_dir="$RUN_DIR/fastpitch" \
    "trainer.callbacks.0.budget=$FASTPITCH_BUDGET" > "$RUN_DIR/fastpitch.log" 2>&1 &
fastpitch=$!
OMP_NUM_THREADS=1 "$BIN/ganglion" train --config-name hifigan "${data[@]}" \
    exp_manager.explicit_log_dir="$RUN_DIR/hifigan" \
    "trainer.callbacks.0.budget=$HIFIGAN_BUDGET" > "$RUN_DIR/hifigan.log" 2>&1 &
hifigan=$!
status=0
wait "$fastpitch" || { status=$?; echo "FastPitch training failed: $RUN_DIR/fastpitch.log" >&2; }
wait "$hifigan" || { status=$?; echo "HiFi-GAN training failed: $RUN_DIR/hifigan.log" >&2; }
[ "$status" -eq 0 ] || exit "$status"
GEN="$RUN_DIR/fastpitch/checkpoints/FastPitch.ganglion"
VOC="$RUN_DIR/hifigan/checkpoints/HifiGan.ganglion"
t2=$(stamp)

echo "==> [3/4] held-out digit strings through the recogniser; mel L1 on held-out sentences"
"$BIN/python" bench/bench_tts.py --corpus "$CORPUS" --generator "$GEN" --vocoder "$VOC" \
    --asr "$ASR" --out "$RUN_DIR/eval" | tee "$RUN_DIR/eval.txt"

echo "==> [4/4] ganglion-tts synthesize"
TEXT="Dr. Smith's call came at 3:45; his number is 555 0192."
"$BIN/ganglion-tts" synthesize "$GEN" "$TEXT" -o "$RUN_DIR/eval/sentence_griffin_lim.wav"
"$BIN/ganglion-tts" synthesize "$GEN" "$VOC" "$TEXT" -o "$RUN_DIR/eval/sentence_hifigan.wav"
t3=$(stamp)

echo
echo "Training: $(( (t2 - t1) / 60 )) min $(( (t2 - t1) % 60 )) s of wall time (FastPitch and HiFi-GAN side by side);"
echo "          whole run $(( (t3 - t0) / 60 )) min $(( (t3 - t0) % 60 )) s."
echo "Models:   $GEN"
echo "          $VOC"
echo "Listen:   $RUN_DIR/eval/griffin-lim/*.wav, $RUN_DIR/eval/hifigan/*.wav, $RUN_DIR/eval/sentence_*.wav"
echo "Look:     $RUN_DIR/eval/mel.png (generated above the reference)"
