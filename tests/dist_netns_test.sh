#!/usr/bin/env bash
# Three ranks of `frugal train` on three "hosts": network namespaces joined
# by veth pairs to a bridge namespace, addresses in 10.231.7.0/24 (not
# routed from the root namespace). Needs root and `ip netns`; exits 77
# (skipped) otherwise. Usage: dist_netns_test.sh FRUGAL DATA_DIR
set -euo pipefail
FRUGAL=$1
DATA=$2
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "skipped: needs root and ip"; exit 77
fi
if [[ ! -f $DATA/bibtex/train.txt ]]; then echo "skipped: no bibtex data"; exit 77; fi
tag=fr$$
source "$(dirname "$0")/netns_hosts.sh"
if ! netns_hosts $tag 3 10.231.7; then echo "skipped: ip netns unavailable"; exit 77; fi
work=$(mktemp -d)
cleanup() {
  netns_hosts_remove $tag 3
  rm -rf "$work"
}
trap cleanup EXIT
pids=()
for i in 0 1 2; do
  ip netns exec ${tag}h$i "$FRUGAL" train --train "$DATA/bibtex/train.txt" \
    --test "$DATA/bibtex/test.txt" --hidden 64 --epochs 2 --batch 64 --threads 1 \
    --no-progress --world-size 3 --rank $i --rendezvous "file://$work/store" \
    --run-id netns --comm-address 10.231.7.$((i + 1)) --comm-timeout 20 \
    > "$work/rank$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1 2; do wait ${pids[$i]} || { echo "rank $i failed"; status=1; }; done
for i in 0 1 2; do sed "s/^/[rank $i] /" "$work/rank$i.log"; done
grep -q "test: P@1" "$work/rank0.log" || { echo "rank 0 printed no result"; status=1; }
# The ranks really talked across the namespaces: the bridge ports saw traffic.
rx=$(ip -n ${tag}br -s link show ${tag}p1 | awk '/RX:/{getline; print $1}')
echo "bytes through rank 1's bridge port: $rx"
[[ ${rx:-0} -gt 100000 ]] || { echo "too little traffic across the bridge"; status=1; }
exit $status
