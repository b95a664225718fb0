# Sourced by tests/dist_netns_test.sh and bench/dist_netns_bench.sh: N
# "hosts" as network namespaces ${TAG}h0 .. ${TAG}h(N-1), joined by veth
# pairs (host end ${TAG}v$i, bridge end ${TAG}p$i) to a bridge in the
# namespace ${TAG}br; host i has address $SUBNET.(i + 1)/24.
#
# netns_hosts TAG N SUBNET [RATE]: builds them; with RATE (tc syntax, e.g.
#   1gbit), each host's link is shaped to RATE in both directions (tbf at the
#   host's end and at its bridge port). Returns 1 when `ip netns` fails.
# netns_hosts_remove TAG N: deletes them (ignores what is already gone).
netns_hosts() {
  local tag=$1 n=$2 subnet=$3 rate=${4:-} i
  ip netns add "${tag}br" 2>/dev/null || return 1
  ip -n "${tag}br" link add br0 type bridge
  ip -n "${tag}br" link set br0 up
  for ((i = 0; i < n; i++)); do
    ip netns add "${tag}h$i"
    ip link add "${tag}v$i" type veth peer name "${tag}p$i"
    ip link set "${tag}v$i" netns "${tag}h$i"
    ip link set "${tag}p$i" netns "${tag}br"
    ip -n "${tag}br" link set "${tag}p$i" master br0 up
    ip -n "${tag}h$i" addr add "$subnet.$((i + 1))/24" dev "${tag}v$i"
    ip -n "${tag}h$i" link set "${tag}v$i" up
    ip -n "${tag}h$i" link set lo up
    if [[ -n $rate ]]; then
      ip netns exec "${tag}h$i" tc qdisc add dev "${tag}v$i" root tbf rate "$rate" \
        burst 256kb latency 50ms
      ip netns exec "${tag}br" tc qdisc add dev "${tag}p$i" root tbf rate "$rate" \
        burst 256kb latency 50ms
    fi
  done
}

netns_hosts_remove() {
  local tag=$1 n=$2 i
  for ((i = 0; i < n; i++)); do ip netns del "${tag}h$i" 2>/dev/null || true; done
  ip netns del "${tag}br" 2>/dev/null || true
}
