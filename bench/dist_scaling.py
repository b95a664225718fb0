#!/usr/bin/env python3
"""Scaling model of data-parallel frugal training (bench/RESULTS.md).

Weak scaling: every worker trains a fixed batch per step, then the ranks
exchange gradients with ring collectives (Gloo). Per step

  T(n) = C + X(n),  efficiency E(n) = C / T(n),  speed-up n * E(n)

X(n), per layer, is one of the forms train/data_parallel.cc chooses from:
  dense:   2 (n-1)/n * D / bw + (n-1) * I / bw
           (ring allreduce of the gradient, D bytes, and the touched-row ids)
  rows:    (n-1) * (P + I) / bw
           (ring allgatherv: every rank forwards the others' touched rows, P
           bytes each, and their ids, I bytes)
  factors: (n-1) * F / bw + n * A / cores      (layers >= 1 only)
           (ring allgatherv of every sample's factors, F bytes per worker:
           per sample its active ids and deltas, 8 bytes each, and the layer's
           input, 4 x cols bytes; then every worker accumulates all n
           workers' samples of the layer, n x the A seconds of its own phase
           2 on one core, instead of nothing: this is extra compute)
plus a latency of alpha per ring hop of the step's collectives (see
exchange_seconds). Two choices: "bytes" (TrainConfig::exchange_bandwidth 0,
the default: the fewest bytes, as auto does) and "time" (a bandwidth given:
the least time, counting the factors' accumulation).

Inputs are the per-rank figures measured by bench/dist_bench.cc (touched rows,
row bytes, active neurons), the compute time per step of one core (Amazon from
the single-process 985 samples/s per core, bench/train_bench.cc over 800K
samples; Criteo from dist_bench's compute medians) and the accumulation time of
the single-process run: 44 and 67 s of row accumulation per 400K-sample epoch
on 2 threads (epochs 1 and 2), so 0.335 ms per sample on one core for 3,350
active rows of 128 floats (the later, slower epoch).
"""

ALPHA = 30e-6          # s per ring hop (TCP on a 25 Gbit/s LAN)
BW = 25e9 / 8 * 0.8    # bytes/s: 25 Gbit/s at 80% efficiency
# Phase-2 seconds per active row, per float of the row, on one core.
ACC_PER_FLOAT = 0.335e-3 / (3350 * 128)

# name: (compute s/step on one core, batch/worker,
#        [(rows, cols, has_row_bias, touched rows/rank, active per sample)])
# Layer 0 is feature-major (active None: no factors).
SCENARIOS = {
    "Amazon-670K, batch 256/worker, 0.5% active": (
        256 / 985, 256,
        [(135909, 128, False, 13133, None), (670091, 128, True, 468147, 3350)]),
    "Amazon-670K, batch 64/worker, 0.5% active": (
        64 / 985, 64,
        [(135909, 128, False, 3762, None), (670091, 128, True, 179292, 3350)]),
    "Amazon-670K, batch 16/worker, 0.5% active": (
        16 / 985, 16,
        [(135909, 128, False, 1044, None), (670091, 128, True, 51383, 3350)]),
    # Every row touched (an upper bound at this batch).
    "Amazon-670K, batch 2048/worker, 0.5% active": (
        2048 / 985, 2048,
        [(135909, 128, False, 135909, None), (670091, 128, True, 670091, 3350)]),
    "Criteo-shaped, batch 256/worker": (
        0.008, 256, [(1 << 20, 64, False, 6582, None), (2, 64, True, 2, 2)]),
    "Criteo-shaped, batch 2048/worker": (
        0.125, 2048, [(1 << 20, 64, False, 48932, None), (2, 64, True, 2, 2)]),
}


def exchange_seconds(layers, n, batch, cores, by_time):
    """One step's exchange: (seconds including the factors' accumulation,
    of which accumulation, the forms chosen). Collectives as
    train/data_parallel.cc issues them: a count allgather; per layer one
    allgatherv (ids; rows; factors), plus allreduces of the matrix and its
    biases when dense; layer 0's bias row."""
    total, accumulate, forms = 0.0, 0.0, ""
    hops = (n - 1) + 2 * (n - 1)  # counts; layer 0's bias allreduce
    for rows, cols, bias, touched, active in layers:
        dense = rows * cols * 4 + (rows * 4 if bias else 0)
        payload = touched * (cols + (1 if bias else 0)) * 4
        ids = touched * 4
        options = {  # form: (bytes sent per worker, extra compute s, hops)
            "d": (2 * (n - 1) / n * dense + (n - 1) * ids, 0.0,
                  (n - 1) + 2 * (n - 1) * (2 if bias else 1)),
            "r": ((n - 1) * (payload + ids), 0.0, n - 1),
        }
        if active is not None:
            factor_bytes = batch * (active * 8 + 4 + cols * 4)
            acc = n * batch * active * cols * ACC_PER_FLOAT / cores
            options["f"] = ((n - 1) * factor_bytes, acc, n - 1)

        def cost(form):
            b, a, h = options[form]
            return b / BW + a + h * ALPHA if by_time else b

        form = min(options, key=cost)  # ties: dense, rows, factors
        b, a, h = options[form]
        total += b / BW + a
        accumulate += a
        hops += h
        forms += form
    return total + hops * ALPHA, accumulate, forms


def main():
    ns = (12, 24, 48)
    print("| scenario | cores/worker | C per step | "
          + " | ".join(f"X({n}) / E({n}) by bytes | by time" for n in ns) + " |")
    print("|---|---|---|" + "---|---|" * len(ns))
    for name, (c1, batch, layers) in SCENARIOS.items():
        for cores in (1, 16):
            c = c1 / cores
            cells = []
            for n in ns:
                for by_time in (False, True):
                    x, acc, forms = exchange_seconds(layers, n, batch, cores, by_time)
                    extra = f" (acc. {acc * 1e3:.0f})" if acc > 0 else ""
                    cells.append(f"{forms}: {x * 1e3:.0f} ms{extra} / "
                                 f"{100 * c / (c + x):.0f}%")
            print(f"| {name} | {cores} | {c * 1e3:.1f} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
