#!/usr/bin/env bash
# frugal with its defaults (only the files and columns given) on every bundled
# set: test quality and training wall time (search included), medians over
# seeds. The figures to compare with bench/peers.sh's peers, same machine.
#
#   bash bench/defaults.sh [set ...]        (FRUGAL=path, SEEDS="1 2 3")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FRUGAL=${FRUGAL:-build/apps/frugal}
D=${DATA:-../shared/data}
SEEDS=${SEEDS:-1 2 3}
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(bibtex corel5k mediamill dbpedia14k sst2 trec 20newsgroups criteo10k)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for s in "${sets[@]}"; do
  q=(); t=()
  for seed in $SEEDS; do
    start=$(date +%s.%N)
    case $s in
      bibtex|corel5k|mediamill)
        out=$($FRUGAL train --train $D/$s/train.txt --test $D/$s/test.txt --seed $seed --json)
        metric=p@1
        value=$(grep -o '"p@1": [0-9.]*' <<<"$out" | tail -1 | cut -d' ' -f2) ;;
      criteo10k)
        out=$($FRUGAL text train --train $D/$s/train.txt --test $D/$s/test.txt --seed $seed \
              --delimiter tab --no-header --columns 0:target,1-13:numeric,14-39:categorical --json)
        metric=roc_auc
        value=$(grep -o '"roc_auc": [0-9.]*' <<<"$out" | cut -d' ' -f2) ;;
      *)
        out=$($FRUGAL text train --train $D/$s/train.csv --test $D/$s/test.csv --seed $seed \
              --no-header --label-col 0 --text-col 1 --last-column-rest --json)
        metric=accuracy
        value=$(grep -o '"accuracy": [0-9.]*' <<<"$out" | cut -d' ' -f2) ;;
    esac
    end=$(date +%s.%N)
    q+=("$value"); t+=("$(awk "BEGIN {print $end - $start}")")
  done
  printf '%-13s %-9s median %.4f (%s)  train wall s median %.1f\n' "$s" "$metric" \
    "$(printf '%s\n' "${q[@]}" | median)" "${q[*]}" "$(printf '%s\n' "${t[@]}" | median)"
done
