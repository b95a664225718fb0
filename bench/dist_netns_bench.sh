#!/usr/bin/env bash
# frugal_dist_bench on N "hosts": network namespaces joined by veth pairs to
# a bridge, each host's link shaped to RATE by tc (tests/netns_hosts.sh). Needs root. Usage (every argument after RATE goes to the bench):
#   bash bench/dist_netns_bench.sh BUILD N RATE --shape amazon --batch 256 ...
#   e.g. bash bench/dist_netns_bench.sh build 4 1gbit --shard-output 1
set -euo pipefail
BUILD=$1; N=$2; RATE=$3; shift 3
BENCH=$BUILD/bench/frugal_dist_bench
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }
tag=fb$$
source "$(dirname "$0")/../tests/netns_hosts.sh"
netns_hosts $tag "$N" 10.231.8 "$RATE" || { echo "ip netns unavailable"; exit 77; }
work=$(mktemp -d)
cleanup() {
  netns_hosts_remove $tag "$N"
  rm -rf "$work"
}
trap cleanup EXIT
pids=()
for ((i = 0; i < N; i++)); do
  ip netns exec ${tag}h$i env FRUGAL_RANK=$i FRUGAL_WORLD_SIZE=$N \
    FRUGAL_RENDEZVOUS="file://$work/store" FRUGAL_RUN_ID=netns \
    "$BENCH" --address 10.231.8.$((i + 1)) "$@" > "$work/rank$i.log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < N; i++)); do wait ${pids[$i]} || { echo "rank $i failed"; status=1; }; done
cat "$work/rank0.log"
for ((i = 1; i < N; i++)); do [[ -s $work/rank$i.log ]] && sed "s/^/[rank $i] /" "$work/rank$i.log"; done
rx=$(ip -n ${tag}br -s link show ${tag}p0 | awk '/RX:/{getline; print $1}')
echo "bytes from rank 0 through its bridge port: $rx"
exit $status
