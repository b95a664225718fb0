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


# The label-sharded output (train/sharded_output.h, TrainConfig::shard_output),
# with inputs measured by `frugal_dist_bench --shard-output 1` (bench/RESULTS.md,
# "Label-sharded output"): per worker and step, an allgatherv of every
# sample's hidden vector and labels (4 x hidden + 4 + 4 x labels bytes per
# sample; 5.4 labels on average), a log-sum-exp allreduce of one float per
# sample of the global batch, and the hidden vectors' gradient back by
# reduce-scatter (an alltoallv: (n-1) x batch x 4 x (hidden + 1) bytes, the
# last float each sample's loss from the shard); measured at 4 x 256 on
# Amazon: 0.812 MB per rank before the loss column, this formula's figure.
# Compute: a worker runs its own samples' hidden layers and its shard for all
# n x batch samples (1/n of the active neurons each): its logits, softmax and
# accumulation stay the work of `batch` samples, its Adam covers only its
# shard's rows, the query's hashing grows with n x batch. Measured CPU seconds
# per step and rank (dist_bench, 1 core per rank, Amazon, batch 256): 0.490
# one process, 0.360 sharded on 2 ranks, 0.349 on 4: SHARD_COMPUTE = 0.349 /
# 0.490 of C, plus HASH_S per extra query (the DWTA hash of one 128-float
# vector, 160 bins of 8: DwtaBins measured 380 ns for 300 bins, bench/RESULTS.md)
# beyond 4 x batch; the shrinking Adam beyond 4 ranks is not credited.
SHARD_COMPUTE = 0.349 / 0.490
HASH_S = 0.2e-6
LABELS_PER_SAMPLE = 5.4

# name: (compute s/step on one core, batch/worker, hidden width, layer 0 as
#        (rows, cols, touched rows/worker), measured sharded compute applies)
SHARDED_SCENARIOS = {
    "Amazon-670K, batch 256/worker": (256 / 985, 256, 128, (135909, 128, 13133), True),
    "Criteo-shaped, batch 2048/worker": (0.125, 2048, 64, (1 << 20, 64, 48932), False),
}


def sharded_seconds(n, batch, hidden, layer0, shard_input):
    """One step's exchange with a sharded output: (seconds, layer 0's form).
    Layer 0 replicated takes the cheaper of dense and rows (by time); with
    shard_input (TrainConfig::shard_input, train/sharded_input.h: rows owned
    by rank feature % n; a worker fetches the current values of the rows its
    batch reads and sends their gradients to the owners: six alltoallvs,
    sizes, ids and values each way, and the bias allreduce) it sends
    2 (n-1)/n x (rows + ids) whatever n (measured: Criteo-shaped 4 x 2048,
    19.05 MB per step and rank, this formula's 19.1)."""
    rows, cols, touched = layer0
    payload, ids = touched * cols * 4, touched * 4
    if shard_input:
        x0, h0, form = 2 * (n - 1) / n * (payload + ids) / BW, 8 * (n - 1), "s"
    else:
        dense = (2 * (n - 1) / n * rows * cols * 4 + (n - 1) * ids) / BW
        sparse = (n - 1) * (payload + ids) / BW
        x0, h0, form = (dense, 3 * (n - 1), "d") if dense < sparse else \
            (sparse, n - 1, "r")
    per_sample = 4 * hidden + 4 + 4 * LABELS_PER_SAMPLE
    out = ((n - 1) * batch * per_sample        # allgatherv
           + 2 * (n - 1) / n * n * batch * 4   # log-sum-exp allreduce
           + (n - 1) * batch * 4 * (hidden + 1))  # reduce-scatter (+ loss)
    hops = 2 * (n - 1) + 2 * (n - 1) + (n - 1) + 2 * (n - 1)  # + counts, biases
    return x0 + out / BW + (h0 + hops) * ALPHA, form


def sharded_table(ns):
    print("\nLabel-sharded output: E = C / (C_s + X); C_s = C with the measured "
          "sharded compute (credit), or C itself (no credit)")
    print("| scenario | cores/worker | input layer | C per step | "
          + " | ".join(f"X({n}) / E({n}) credit / no credit" for n in ns) + " |")
    print("|---|---|---|---|" + "---|" * len(ns))
    for name, (c1, batch, hidden, layer0, measured) in SHARDED_SCENARIOS.items():
        for cores in (1, 4, 16):
            for shard_input in (False, True):
                c = c1 / cores
                cells = []
                for n in ns:
                    x, form = sharded_seconds(n, batch, hidden, layer0, shard_input)
                    cs = (c * SHARD_COMPUTE + (n - 4) * batch * HASH_S / cores
                          if measured else c)
                    cells.append(f"{form}: {x * 1e3:.0f} ms / {100 * c / (cs + x):.0f}%"
                                 f" / {100 * c / (c + x):.0f}%")
                kind = "sharded" if shard_input else "replicated"
                print(f"| {name} | {cores} | {kind} | {c * 1e3:.1f} ms | "
                      + " | ".join(cells) + " |")


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
    sharded_table(ns)


if __name__ == "__main__":
    main()
