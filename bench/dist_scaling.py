#!/usr/bin/env python3
"""Scaling model of data-parallel frugal training (bench/RESULTS.md).

Weak scaling: every worker trains a fixed batch per step, then the ranks
exchange gradients with ring collectives (Gloo). Per step

  T(n) = C + X(n),  efficiency E(n) = C / T(n),  speed-up n * E(n)

X(n), per layer, is the cheaper of (as nn/data_parallel.cc chooses)
  dense:  2 (n-1)/n * D / bw           (ring allreduce of the gradient, D bytes)
  sparse: (n-1) * P / bw               (ring allgatherv: every rank forwards the
                                        others' touched rows, P bytes each)
plus the touched-row ids gathered in both modes, (n-1) * I / bw, and a latency
of alpha per ring hop of the step's collectives (see exchange_seconds). Inputs are the per-rank figures
measured by bench/dist_bench.cc (touched rows, row bytes) and the compute time
per step of one core: Amazon from the single-process 568 samples/s per core
(bench/train_bench.cc), Criteo from dist_bench's compute medians.
"""

ALPHA = 30e-6          # s per ring hop (TCP on a 25 Gbit/s LAN)
BW = 25e9 / 8 * 0.8    # bytes/s: 25 Gbit/s at 80% efficiency

# name: (compute s/step on one core, [(rows, cols, has_row_bias, touched rows/rank)])
SCENARIOS = {
    "Amazon-670K, batch 256/worker, 0.5% active": (
        256 / 568, [(135909, 128, False, 13133), (670091, 128, True, 468147)]),
    "Amazon-670K, batch 16/worker, 0.5% active": (
        16 / 568, [(135909, 128, False, 1044), (670091, 128, True, 51383)]),
    # Every row touched (an upper bound at this batch): the dense regime.
    "Amazon-670K, batch 2048/worker, 0.5% active": (
        2048 / 568, [(135909, 128, False, 135909), (670091, 128, True, 670091)]),
    "Criteo-shaped, batch 256/worker": (
        0.008, [(1 << 20, 64, False, 6582), (2, 64, True, 2)]),
    "Criteo-shaped, batch 2048/worker": (
        0.125, [(1 << 20, 64, False, 48932), (2, 64, True, 2)]),
}


def exchange_seconds(layers, n):
    """One step's exchange: bytes over bw plus ring hops x ALPHA, with the
    collectives nn/data_parallel.cc issues (a count allgather; per layer one
    allgatherv, plus allreduces of the matrix and its biases when dense;
    layer 0's bias row)."""
    total = 0.0
    hops = (n - 1) + 2 * (n - 1)  # counts; layer 0's bias allreduce
    for rows, cols, bias, touched in layers:
        dense = rows * cols * 4 + (rows * 4 if bias else 0)
        payload = touched * (cols + (1 if bias else 0)) * 4
        ids = touched * 4
        sparse_cost = (n - 1) * (payload + ids)
        dense_cost = 2 * (n - 1) / n * dense + (n - 1) * ids
        total += min(sparse_cost, dense_cost) / BW
        hops += (n - 1)
        if dense_cost <= sparse_cost:
            hops += 2 * (n - 1) * (2 if bias else 1)
    return total + hops * ALPHA


def main():
    print("| scenario | cores/worker | C per step | "
          + " | ".join(f"X({n}) / E({n})" for n in (12, 24, 48)) + " |")
    print("|---|---|---|" + "---|" * 3)
    for name, (c1, layers) in SCENARIOS.items():
        for cores in (1, 16):
            c = c1 / cores
            cells = []
            for n in (12, 24, 48):
                x = exchange_seconds(layers, n)
                cells.append(f"{x * 1e3:.0f} ms / {100 * c / (c + x):.0f}%")
            print(f"| {name} | {cores} | {c * 1e3:.1f} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
