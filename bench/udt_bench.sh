#!/usr/bin/env bash
# `frugal text` against fastText on dbpedia14k (same split, 2 threads), the
# single-row predict latency on one core, and criteo10k ROC-AUC against
# frugal's own logistic regression (--linear: no hidden layer, same
# features). Run from the repository root after a build:
#
#   bash bench/udt_bench.sh     # RUNS=5 SEEDS="1 2 3 4 5" CV=0 BUILD=build
#                               # DATA=../shared/data
#
# Wall times cover a whole training command each (reading and featurizing
# the file, training, saving the model), fastText's and frugal's run
# alternately; the medians over RUNS runs and their ratio are printed last.
set -euo pipefail

BUILD=${BUILD:-build}
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-5}
FRUGAL=$BUILD/apps/frugal
LATENCY=$BUILD/bench/frugal_text_latency
for f in "$FRUGAL" "$LATENCY"; do
  [[ -x $f ]] || { echo "udt_bench: $f missing: build first" >&2; exit 1; }
done
command -v fasttext >/dev/null || bash scripts/setup.sh fasttext

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
json_field() { sed -E "s/.*\"$1\": ([0-9.]+).*/\1/"; }

echo "machine: $(nproc) cores, $(lscpu | sed -nE 's/^Model name: +//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fasttext: $(dpkg-query -W -f='${Version}' fasttext 2>/dev/null || echo unknown)"

# --- dbpedia14k: accuracy and training wall time ---------------------------
# fastText reads "__label__N text"; the text is passed as it is.
for split in train test; do
  sed -E 's/^([0-9]+),/__label__\1 /' "$DATA/dbpedia14k/$split.csv" > "$work/$split.ft"
done
ft_train() {
  fasttext supervised -input "$work/train.ft" -output "$work/ft" -epoch 10 \
    -thread 2 -lr 1.0 -verbose 0
}
fr_train() {
  "$FRUGAL" text train --train "$DATA/dbpedia14k/train.csv" --no-header \
    --label-col 0 --text-col 1 --last-column-rest --threads 2 \
    --model "$work/fr.model" > "$work/fr.log"
}
printf '\n%-4s %-10s %9s %8s\n' run system accuracy wall_s
: > "$work/ft_times"; : > "$work/fr_times"; : > "$work/ft_acc"; : > "$work/fr_acc"
for ((run = 1; run <= RUNS; run++)); do
  order=(ft fr)
  ((run % 2 == 0)) && order=(fr ft)
  for sys in "${order[@]}"; do
    t0=$(now); "${sys}_train"; t1=$(now)
    wall=$(elapsed "$t0" "$t1")
    if [[ $sys == ft ]]; then
      acc=$(fasttext test "$work/ft.bin" "$work/test.ft" | awk '/^P@1/ { print $2 }')
      name=fastText
    else
      acc=$("$FRUGAL" text evaluate --model "$work/fr.model" \
              --test "$DATA/dbpedia14k/test.csv" --json | json_field accuracy)
      name=frugal
    fi
    echo "$wall" >> "$work/${sys}_times"
    echo "$acc" >> "$work/${sys}_acc"
    printf '%-4s %-10s %9s %8s\n' "$run" "$name" "$acc" "$wall"
  done
done
ft_t=$(median < "$work/ft_times"); fr_t=$(median < "$work/fr_times")
ft_a=$(median < "$work/ft_acc"); fr_a=$(median < "$work/fr_acc")
echo
echo "dbpedia14k medians over $RUNS runs:"
echo "  fastText (10 epochs, unigrams, lr 1.0, 2 threads): accuracy $ft_a, wall $ft_t s"
echo "  frugal text ($(sed -nE 's/^model: //p' "$work/fr.log")): accuracy $fr_a, wall $fr_t s"
echo "  wall-time ratio frugal / fastText: $(awk -v a="$fr_t" -v b="$ft_t" 'BEGIN { printf "%.2f", a / b }')"

# --- single-row predict latency, one core ----------------------------------
echo
echo "dbpedia14k model, pinned to core 0:"
taskset -c 0 "$LATENCY" --model "$work/fr.model" --input "$DATA/dbpedia14k/test.csv"

# --- criteo10k: hidden layer vs logistic regression ------------------------
# Test ROC-AUC over SEEDS, and (CV=1) the 5-fold validation on train.txt
# (fold k: rows with line number % 5 == k) that chose the settings.
SEEDS=${SEEDS:-1 2 3 4 5}
criteo_cols=(--delimiter tab --no-header --columns
             0:target,1-13:numeric,14-39:categorical --threads 2 --json)
auc_of() { "$FRUGAL" text train "${criteo_cols[@]}" "$@" | json_field roc_auc; }
mean() { awk '{ s += $1 } END { printf "%.4f", s / NR }'; }
echo
echo "criteo10k ROC-AUC (test, 2,109 rows), seeds $SEEDS:"
: > "$work/mlp_auc"; : > "$work/lr_auc"
for seed in $SEEDS; do
  m=$(auc_of --train "$DATA/criteo10k/train.txt" --test "$DATA/criteo10k/test.txt" \
        --seed "$seed" --model "$work/criteo.model")
  l=$(auc_of --train "$DATA/criteo10k/train.txt" --test "$DATA/criteo10k/test.txt" \
        --seed "$seed" --linear)
  echo "$m" >> "$work/mlp_auc"; echo "$l" >> "$work/lr_auc"
  printf '  seed %s: hidden %s, linear %s, difference %+.4f\n' "$seed" "$m" "$l" \
    "$(awk -v a="$m" -v b="$l" 'BEGIN { print a - b }')"
done
echo "  means: hidden $(mean < "$work/mlp_auc"), linear $(mean < "$work/lr_auc")"
if [[ ${CV:-0} == 1 ]]; then
  for k in 0 1 2 3 4; do
    awk -v k=$k 'NR % 5 != k' "$DATA/criteo10k/train.txt" > "$work/cv_train$k"
    awk -v k=$k 'NR % 5 == k' "$DATA/criteo10k/train.txt" > "$work/cv_val$k"
  done
  for model in "" --linear; do
    : > "$work/cv_auc"
    for seed in $SEEDS; do
      for k in 0 1 2 3 4; do
        # shellcheck disable=SC2086  # $model: empty or one flag
        auc_of --train "$work/cv_train$k" --test "$work/cv_val$k" --seed "$seed" \
          $model >> "$work/cv_auc"
      done
    done
    echo "  5-fold validation, ${model:-hidden}: mean $(mean < "$work/cv_auc") over $(wc -l < "$work/cv_auc") runs"
  done
fi
echo "criteo10k model, pinned to core 0:"
taskset -c 0 "$LATENCY" --model "$work/criteo.model" --input "$DATA/criteo10k/test.txt"
