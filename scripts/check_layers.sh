#!/usr/bin/env bash
# Checks the layering of README's layout table: a folder includes only
# folders at or below its own layer (kernels < dispatch < lsh < comm < data <
# nn < train < tasks). Prints every violation; exit 1 if there is one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
layers=(kernels dispatch lsh comm data nn train tasks)
rank() { local i; for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }; done; echo -1; }
bad=0
for dir in "${layers[@]}"; do
  own=$(rank "$dir")
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    top=${inc%%/*}
    [[ $inc == */* ]] || continue
    r=$(rank "$top")
    if (( r > own )); then
      echo "layering: $file includes $inc ($top/ is above $dir/)"
      bad=1
    fi
  done < <(grep -rn '#include "' "$dir" --include='*.h' --include='*.cc' || true)
done
exit $bad
