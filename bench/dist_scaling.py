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
samples; Criteo from dist_bench's single-process CPU seconds, CRITEO_C_*) and
the accumulation time of the single-process run: 44 and 67 s of row accumulation per 400K-sample epoch
on 2 threads (epochs 1 and 2), so 0.335 ms per sample on one core for 3,350
active rows of 128 floats (the later, slower epoch).
"""

ALPHA = 30e-6          # s per ring hop (TCP on a 25 Gbit/s LAN)
BW = 25e9 / 8 * 0.8    # bytes/s: 25 Gbit/s at 80% efficiency
# Phase-2 seconds per active row, per float of the row, on one core.
ACC_PER_FLOAT = 0.335e-3 / (3350 * 128)

# Criteo-shaped compute per step on one core: the CPU seconds of one process
# (`frugal launch -n 1 -- build/bench/frugal_dist_bench --shape criteo --batch
# B`, 1 thread, getrusage: robust to the shared cores), 2026-12-07: 0.017 to
# 0.018 s at batch 2048 (three runs of 12 steps), 0.003 s at 256 (three of
# 40). Before, the model took 0.125 and 0.008 s, wall medians of replicated
# ranks sharing two loaded cores (Adam over the union of the ranks' rows
# included): 7x too much compute at 2048, which flattered E.
CRITEO_C_2048 = 0.018
CRITEO_C_256 = 0.003

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
        CRITEO_C_256, 256, [(1 << 20, 64, False, 6582, None), (2, 64, True, 2, 2)]),
    "Criteo-shaped, batch 2048/worker": (
        CRITEO_C_2048, 2048, [(1 << 20, 64, False, 48932, None), (2, 64, True, 2, 2)]),
}


def exchange_seconds(layers, n, batch, cores, by_time):
    """One step's exchange: (seconds including the factors' accumulation,
    of which accumulation, the forms chosen). Collectives as
    train/data_parallel.cc issues them: a count allgather; per layer one
    allgatherv (ids; rows; factors), plus allreduces of the matrix and its
    biases when dense; layer 0's bias row rides layer 0's allgatherv (its
    (n-1) x cols floats neglected; an allreduce of its own before f62867a)."""
    total, accumulate, forms = 0.0, 0.0, ""
    hops = n - 1  # counts (layer 0's bias rides its allgatherv)
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


# Sharded state (issue 18): per scenario, which of layer 0 (the input layer,
# train/sharded_input.h, TrainConfig::shard_input) and the output layer
# (train/sharded_output.h, TrainConfig::shard_output) are sharded; the hidden
# layers, if any, are replicated.
#
# A label-sharded output (inputs measured by `frugal_dist_bench --shard-output
# 1`, bench/RESULTS.md, "Label-sharded output"): per worker and step, an
# allgatherv of every sample's hidden vector and labels (4 x hidden + 4 + 4 x
# labels bytes per sample; 5.4 labels on average), a log-sum-exp allreduce of
# one float per sample of the global batch, and the hidden vectors' gradient
# back by reduce-scatter (an alltoallv: (n-1) x batch x 4 x (hidden + 1) bytes,
# the last float each sample's loss from the shard); measured at 4 x 256 on
# Amazon: 0.815 MB per rank, this formula's figure. A replicated output is
# exchanged as rows (what `--exchange sparse` does; auto by bytes would take
# dense for Criteo's 2 x 64 output, two allreduces more): (n-1) x its touched
# rows x (an id and cols + 1 floats).
#
# Compute: with the output sharded a worker runs its own samples' hidden
# layers and its shard for all n x batch samples (1/n of the active neurons
# each): its logits, softmax and accumulation stay the work of `batch`
# samples, its Adam covers only its shard's rows, the query's hashing grows
# with n x batch. Measured CPU seconds per step and rank (dist_bench, 1 core
# per rank, Amazon, batch 256): 0.490 one process, 0.360 sharded on 2 ranks,
# 0.349 on 4: SHARD_COMPUTE = 0.349 / 0.490 of C, plus HASH_S per extra query
# (the DWTA hash of one 128-float vector, 160 bins of 8: DwtaBins measured 380
# ns for 300 bins, bench/RESULTS.md) beyond 4 x batch; the shrinking Adam
# beyond 4 ranks is not credited. Criteo gets no credit (its output is not
# sharded; its owners' smaller Adam is not measured).
SHARD_COMPUTE = 0.349 / 0.490
HASH_S = 0.2e-6
LABELS_PER_SAMPLE = 5.4

# Collectives per step, (allreduces, allgathers, alltoallvs), by (layer 0
# sharded, output sharded), layer 0 replicated exchanged as rows (dense adds
# the allreduce of its matrix): rank 0's counts printed by frugal_dist_bench
# ("collectives per step", comm::CommStats) at 4 ranks, at f62867a, and
# asserted by ShardedInput.EqualsTheReplicatedRowsExchangeBitForBit.
#  - neither (Criteo `--exchange sparse`): the layers' counts, layer 0's rows
#    (its bias riding them), the output's rows;
#  - layer 0 (Criteo): 4 alltoallvs (how many ids, the ids and the rows to
#    fetch; the gradients and the bias's to push), the counts, the output's
#    rows (before f62867a: 6 alltoallvs and the bias's allreduce);
#  - both (Amazon; Criteo at 2 ranks): the 4 alltoallvs, the output's
#    allgatherv (sizes, data), its normaliser's allreduce and reduce-scatter
#    (before: 6 + 1 alltoallvs, the counts and the bias's allreduce);
#  - the output (Amazon): the counts, layer 0's rows, the output's 4.
COLLECTIVES = {
    (False, False): (0, 3, 0),
    (True, False): (0, 2, 4),
    (True, True): (1, 2, 5),
    (False, True): (1, 4, 1),
}

# name: (compute s/step on one core, batch/worker, hidden width, layer 0 as
#        (rows, cols, touched rows/worker), the output as (rows, touched
#        rows/worker) when replicated, measured sharded compute applies,
#        [(layer 0 sharded, output sharded)] to tabulate)
SHARDED_SCENARIOS = {
    "Amazon-670K, batch 256/worker": (
        256 / 985, 256, 128, (135909, 128, 13133), (670091, 468147), True,
        [(False, True), (True, True)]),
    # The output is 2 wide: it cannot be split over more than 2 ranks (the
    # code refuses), so "both" is a comparison only.
    "Criteo-shaped, batch 2048/worker": (
        CRITEO_C_2048, 2048, 64, (1 << 20, 64, 48932), (2, 2), False,
        [(False, False), (True, False), (True, True)]),
}


def sharded_seconds(n, batch, hidden, layer0, output, shard_input, shard_output,
                    alltoall_hops=None):
    """One step's exchange: (seconds, layer 0's form, collectives).

    Layer 0 replicated takes the cheaper of dense and rows (by time), its bias
    riding the allgatherv ((n-1) x cols floats). Sharded (rows owned by rank
    feature % n): a worker fetches the ids and current values of the rows its
    batch reads and pushes their gradients to the owners, who kept the ids
    from the fetch, with its bias gradient in every owner's block:
    (n-1)/n x touched x (4 + 2 x 4 x cols) + (n-1) x 4 x cols bytes, whatever
    n (measured: Criteo-shaped 4 x 2048, 18.90 MB per step and rank for
    48,851 rows, this formula's 18.91; 19.05 MB before f62867a, when the push
    sent the ids again). Collectives from COLLECTIVES, alpha per hop: a ring
    allreduce 2 (n-1) hops, an allgather(v) n-1, an alltoallv n-1
    (pessimistic: its messages go out concurrently; alltoall_hops overrides,
    for a sensitivity only)."""
    rows, cols, touched = layer0
    payload, ids, bias = touched * cols * 4, touched * 4, (n - 1) * cols * 4
    allreduces, allgathers, alltoalls = COLLECTIVES[(shard_input, shard_output)]
    if shard_input:
        x0, form = ((n - 1) / n * (ids + 2 * payload) + bias) / BW, "s"
    else:
        dense = (2 * (n - 1) / n * rows * cols * 4 + (n - 1) * ids + bias) / BW
        sparse = ((n - 1) * (payload + ids) + bias) / BW
        if dense < sparse:
            x0, form, allreduces = dense, "d", allreduces + 1
        else:
            x0, form = sparse, "r"
    if shard_output:
        per_sample = 4 * hidden + 4 + 4 * LABELS_PER_SAMPLE
        out = ((n - 1) * batch * per_sample        # allgatherv
               + 2 * (n - 1) / n * n * batch * 4   # log-sum-exp allreduce
               + (n - 1) * batch * 4 * (hidden + 1))  # reduce-scatter (+ loss)
    else:
        out_rows, out_touched = output
        out = (n - 1) * out_touched * (4 + 4 * (hidden + 1))
    a2a = (n - 1) if alltoall_hops is None else alltoall_hops
    hops = 2 * (n - 1) * allreduces + (n - 1) * allgathers + a2a * alltoalls
    return x0 + out / BW + hops * ALPHA, form, (allreduces, allgathers, alltoalls)


def sharded_table(ns):
    print("\nSharded state: E = C / (C_s + X); C_s = C with the measured "
          "sharded compute (credit), or C itself (no credit)")
    print("Collectives per step as measured (allreduces, allgathers, alltoallvs), "
          "layer 0 replicated as rows; as dense (d) one allreduce more")
    print("| scenario | cores/worker | layer 0 | output | collectives/step | C per step | "
          + " | ".join(f"X({n}) / E({n}) credit / no credit" for n in ns) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(ns))
    for name, (c1, batch, hidden, layer0, output, measured, configs) in \
            SHARDED_SCENARIOS.items():
        for cores in (1, 4, 16):
            for shard_input, shard_output in configs:
                c = c1 / cores
                cells = []
                calls = COLLECTIVES[(shard_input, shard_output)]
                for n in ns:
                    x, form, _ = sharded_seconds(n, batch, hidden, layer0, output,
                                                     shard_input, shard_output)
                    credit = measured and shard_output
                    cs = (c * SHARD_COMPUTE + (n - 4) * batch * HASH_S / cores
                          if credit else c)
                    cells.append(f"{form}: {x * 1e3:.0f} ms / {100 * c / (cs + x):.0f}%"
                                 f" / {100 * c / (c + x):.0f}%")
                kinds = ["sharded" if shard_input else "replicated",
                         "sharded" if shard_output else "replicated"]
                print(f"| {name} | {cores} | {kinds[0]} | {kinds[1]} | "
                      f"{calls[0]}, {calls[1]}, {calls[2]} | {c * 1e3:.1f} ms | "
                      + " | ".join(cells) + " |")


def sensitivity(n=48):
    """Criteo-shaped, 1 core, layer 0 sharded, output replicated, at n
    workers: E under the other compute constant and alltoallv latency."""
    name = "Criteo-shaped, batch 2048/worker"
    _, batch, hidden, layer0, output, _, _ = SHARDED_SCENARIOS[name]
    print(f"\nSensitivity ({name}, 1 core, layer 0 sharded, output replicated, "
          f"{n} workers)")
    print("| C per step | alltoallv hops | X | E |")
    print("|---|---|---|---|")
    for c in (CRITEO_C_2048, 0.125):
        for hops in (None, 1):
            x, _, _ = sharded_seconds(n, batch, hidden, layer0, output, True, False,
                                      alltoall_hops=hops)
            label = f"{n - 1} (n-1)" if hops is None else "1"
            print(f"| {c * 1e3:.0f} ms | {label} | {x * 1e3:.1f} ms | "
                  f"{100 * c / (c + x):.0f}% |")


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
    sensitivity()


if __name__ == "__main__":
    main()
