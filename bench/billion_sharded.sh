#!/usr/bin/env bash
# Issue 18's measured bars for the label-sharded output (`frugal train
# --shard-output`; results in bench/RESULTS.md, "Label-sharded output"):
#
#   billion: a 1.0-billion-parameter model (7,700,000 labels x 128 hidden,
#     65,536 features) trained by 4 ranks on a generated set (`frugal
#     generate`'s default steep tail), 8 epochs of 250 steps (global batch 4 x
#     128), exact test P@1 on 500 held-out rows after every epoch, a sharded
#     checkpoint every 500 steps; rank 1 is SIGKILLed KILL_DELAY seconds
#     (default 20) after the manifest of step 1,000, the survivors must exit
#     naming it, then `frugal launch -n 4 ... --resume` completes the run
#     from the shards. Every rank runs under
#     /usr/bin/time -v (peak RSS per rank: $OUT/time.<attempt>.<rank>).
#   compare670k: a generated 670,091-label set, 1 process of batch 256 against
#     4 ranks of 64 with --shard-output, the same epochs and settings (exact
#     test P@1 after every epoch, JSON lines).
#
# usage: bash bench/billion_sharded.sh BUILD OUT billion|compare670k
# Runs at nice 10 with one thread per rank; OUT holds the data, logs and
# checkpoints (the billion run's shards take ~12 GB of disk).
set -euo pipefail
BUILD=$(realpath "${1:?usage: $0 BUILD OUT billion|compare670k}")
OUT=${2:?OUT}
MODE=${3:?mode}
F=$BUILD/apps/frugal
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
TIME=/usr/bin/time

peak_rss() {  # peak RSS of every rank's /usr/bin/time -v file
  for f in "$@"; do
    printf '%s: %s kB, %s\n' "$(basename "$f")" \
      "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$f")" \
      "$(grep -E 'Exit status|terminated by signal' "$f" | tr -d '\t')"
  done
}

if [ "$MODE" = billion ]; then
  LABELS=7700000 FEATURES=65536 HIDDEN=128 RANKS=4 BATCH=128 EPOCHS=8
  ROWS=$((RANKS * BATCH * 250))  # 250 steps per epoch
  echo "parameters: $FEATURES x $HIDDEN + $HIDDEN + $LABELS x $HIDDEN + $LABELS =" \
    $((FEATURES * HIDDEN + HIDDEN + LABELS * HIDDEN + LABELS))
  [ -f "$OUT/train.txt" ] || nice -n 10 "$F" generate --labels $LABELS \
    --features $FEATURES --train "$OUT/train.txt" --test "$OUT/test.txt" \
    --train-samples $ROWS --test-samples 500
  TRAIN=(train --train "$OUT/train.txt" --test "$OUT/test.txt" --stream
         --hidden $HIDDEN --sparsity 0.0005 --loss softmax --lr 0.002
         --batch $BATCH --epochs $EPOCHS --threads 1 --seed 1 --shard-output
         --exact-eval --json --comm-timeout 600 --checkpoint-every 500
         --model "$OUT/m.model")
  rm -rf "$OUT/store" "$OUT"/m.model* "$OUT"/time.* "$OUT"/rank*.log
  # Attempt 1: the ranks by hand, so that one can be killed.
  pids=()
  for r in $(seq 0 $((RANKS - 1))); do
    nice -n 10 $TIME -v -o "$OUT/time.attempt1.$r" "$F" "${TRAIN[@]}" \
      --world-size $RANKS --rank "$r" --rendezvous "file://$OUT/store" \
      --run-id attempt1 > "$OUT/rank$r.log" 2>&1 &
    pids+=($!)
  done
  # Wait for step 1,000's manifest, then SIGKILL rank 1's trainer.
  step_of() { sed -n 's/^step //p' "$OUT/m.model.shards" 2>/dev/null || true; }
  until [ "$(step_of)" ] && [ "$(step_of)" -ge 1000 ]; do sleep 2; done
  echo "manifest: $(tr '\n' ' ' < "$OUT/m.model.shards")"
  sleep "${KILL_DELAY:-20}"
  victim=$(pgrep -P "${pids[1]}" -x frugal)
  echo "$(date -u +%T) SIGKILL rank 1 (pid $victim)"
  kill -KILL "$victim"
  for r in $(seq 0 $((RANKS - 1))); do
    wait "${pids[$r]}" && s=0 || s=$?
    echo "$(date -u +%T) rank $r exited with status $s"
  done
  for r in $(seq 0 $((RANKS - 1))); do sed "s/^/[rank $r] /" "$OUT/rank$r.log"; done
  echo "manifest after the kill: $(tr '\n' ' ' < "$OUT/m.model.shards")"
  # Attempt 2: resume from the shards to the end.
  nice -n 10 "$F" launch -n $RANKS -- sh -c \
    "exec $TIME -v -o $OUT/time.resume.\$FRUGAL_RANK $F $(printf "'%s' " "${TRAIN[@]}") --resume" \
    2>&1 | tee "$OUT/resume.log"
  echo "final manifest: $(tr '\n' ' ' < "$OUT/m.model.shards")"
  peak_rss "$OUT"/time.attempt1.* "$OUT"/time.resume.*
elif [ "$MODE" = compare670k ]; then
  [ -f "$OUT/train670k.txt" ] || nice -n 10 "$F" generate --labels 670091 \
    --train "$OUT/train670k.txt" --test "$OUT/test670k.txt" \
    --train-samples 100000 --test-samples 5000
  COMMON=(train --train "$OUT/train670k.txt" --test "$OUT/test670k.txt"
          --hidden 128 --loss softmax --lr 0.001 --epochs 2 --threads 1
          --seed 1 --exact-eval --json)  # --json: no final evaluation (the last epoch's)
  nice -n 10 $TIME -v -o "$OUT/time.670k.1" "$F" "${COMMON[@]}" --batch 256 \
    2>&1 | tee "$OUT/670k_1proc.log"
  nice -n 10 "$F" launch -n 4 -- sh -c \
    "exec $TIME -v -o $OUT/time.670k.4.\$FRUGAL_RANK $F $(printf "'%s' " "${COMMON[@]}") --batch 64 --shard-output" \
    2>&1 | tee "$OUT/670k_4ranks.log"
  peak_rss "$OUT"/time.670k.*
else
  echo "unknown mode $MODE" >&2
  exit 2
fi
