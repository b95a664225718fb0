#!/usr/bin/env bash
# Runs frugal_bench (5 repetitions, medians), keeps the JSON under bench/out/
# and prints a table: median time, GB/s, GFLOPS, speedup over "reference"
# (the plain scalar oracle) and over "scalar" (Highway's scalar target), and
# for the memory-bound cases the fraction of Triad/1thread and RowTriad/1thread
# bandwidth; then the two bars of bench/RESULTS.md.
#
#   bench/run.sh                      everything (~6-8 minutes here)
#   bench/run.sh '^(Dot|Triad)/'      a --benchmark_filter regex
#   bench/run.sh . --benchmark_min_time=0.5   extra flags go to frugal_bench
#   bench/run.sh --table FILE.json    print the table of an earlier run
#   bench/run.sh --compare A.json B.json ...   bar (b) of several runs side
#                                     by side (e.g. 4 KB pages vs
#                                     FRUGAL_BENCH_HUGEPAGES=1), each kernel
#                                     against the Triad of its own run
#
# Environment: FRUGAL_BUILD_DIR (default build/), MIN_TIME (seconds per
# repetition, default 0.2), REPS (default 5), FRUGAL_BENCH_HUGEPAGES=1
# (madvise the big arrays for transparent huge pages).
# The %-of-triad columns need Triad/1thread and RowTriad/1thread in the same
# run: a filter that leaves them out also leaves those columns empty.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out_dir=$here/out

table() {
  python3 - "$1" <<'PY'
import json, re, sys

data = json.load(open(sys.argv[1]))
ctx = data.get("context", {})
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

# Medians only; names are Kernel/variant/size, maybe with a /real_time tail.
rows = {}
order = []
for b in data["benchmarks"]:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    name = re.sub(r"/(real_time|manual_time|min_time:[0-9.]+|iterations:\d+)",
                  "", b["run_name"])
    real = "/real_time" in b["run_name"]
    secs = (b["real_time"] if real else b["cpu_time"]) * UNIT[b["time_unit"]]
    rec = {
        "secs": secs,
        "gbps": b.get("bytes_per_second", 0.0) / 1e9,
        "gflops": b.get("GFLOPS", 0.0),
        "timing": "real" if real else "cpu",
    }
    if name not in rows:
        order.append(name)
    rows[name] = rec

def parts(name):
    p = name.split("/")
    if len(p) == 3:
        return p[0], p[1], p[2]
    return p[0], p[1] if len(p) > 1 else "", ""

def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"

triad = rows.get("Triad/1thread", {}).get("gbps")
rowtriad = rows.get("RowTriad/1thread", {}).get("gbps")
# DRAM-resident sizes (16M arrays, 64-192 MB, are partly in L3 here).
MEMBOUND = {"dram", "32M", "64M"}

# Group Kernel/size, variants in run order.
groups = {}
gorder = []
for name in order:
    kernel, variant, size = parts(name)
    key = (kernel, size)
    if key not in groups:
        groups[key] = []
        gorder.append(key)
    groups[key].append((variant, rows[name]))

print(f"# {ctx.get('date', '')}  host {ctx.get('host_name', '')}  "
      f"cpu {ctx.get('frugal_cpu', '')}  isa [{ctx.get('frugal_isa', '')}]  "
      f"{ctx.get('num_cpus', '')} cpus @ {ctx.get('mhz_per_cpu', '')} MHz  "
      f"hugepages {ctx.get('frugal_hugepages', '')}  "
      f"xsimd {ctx.get('xsimd_arch', '-')}")
print("# medians; times are CPU time (real time for */real_time); "
      "x_ref / x_scalar: speedup over 'reference' / 'scalar' (time ratio)")
hdr = (f"{'kernel/size':<28} {'variant':<10} {'time':>10} {'GB/s':>8} "
       f"{'GFLOPS':>8} {'x_ref':>7} {'x_scalar':>8} {'%triad':>7} {'%rowtriad':>9}")
print(hdr)
print("-" * len(hdr))
for key in gorder:
    kernel, size = key
    variants = dict(groups[key])
    ref = variants.get("reference")
    sca = variants.get("scalar")
    label = f"{kernel}/{size}" if size else kernel
    for variant, r in groups[key]:
        xr = f"{ref['secs'] / r['secs']:.2f}" if ref else ""
        xs = f"{sca['secs'] / r['secs']:.2f}" if sca else ""
        pt = ptr = ""
        if size in MEMBOUND:
            if triad:
                pt = f"{100 * r['gbps'] / triad:.0f}%"
            if rowtriad:
                ptr = f"{100 * r['gbps'] / rowtriad:.0f}%"
        gf = f"{r['gflops']:.2f}" if r["gflops"] else "-"
        print(f"{label:<28} {variant:<10} {fmt_time(r['secs']):>10} "
              f"{r['gbps']:8.2f} {gf:>8} {xr:>7} {xs:>8} {pt:>7} {ptr:>9}")
        label = ""

# The bars: the best Highway variant (the first listed, which dispatch picks
# on this CPU) against the reference, and against the triads.
def best(kernel, size):
    for variant, r in groups.get((kernel, size), []):
        if variant not in ("reference", "scalar", "xsimd"):
            return variant, r
    return None, None

print()
print("Bar (a): dense Dot / RowGatherDot, best variant vs reference, >= 8x")
for kernel in ("Dot", "RowGatherDot", "DotBf16", "RowGatherDotBf16"):
    for size in ("128", "256", "512", "1024"):
        v, r = best(kernel, size)
        ref = dict(groups.get((kernel, size), [])).get("reference")
        if not r or not ref:
            continue
        x = ref["secs"] / r["secs"]
        status = "ok" if x >= 8 else "MISSED"
        if kernel.endswith("Bf16"):
            status = "(info)"
        print(f"  {kernel + '/' + size:<24} {v:<8} {x:6.2f}x  {status}")
print()
print("Bar (b): DRAM-resident memory-bound kernels vs Triad/1thread, >= 70% "
      f"(Triad/1thread {triad or 0:.2f} GB/s, RowTriad/1thread "
      f"{rowtriad or 0:.2f} GB/s; huge pages "
      f"{ctx.get('frugal_hugepages', '?')})")
for kernel in ("RowAccumulate", "AdamRows", "ScatterAddRows", "RowGatherDot",
               "RowAccumulateBf16", "RowGatherDotBf16"):
    v, r = best(kernel, "dram")
    if not r or not triad:
        continue
    frac = r["gbps"] / triad
    status = "ok" if frac >= 0.7 else "MISSED"
    if kernel not in ("RowAccumulate", "AdamRows"):
        status = "(info)"
    rt = f"{100 * r['gbps'] / rowtriad:4.0f}% of RowTriad" if rowtriad else ""
    print(f"  {kernel + '/dram':<24} {v:<8} {r['gbps']:6.2f} GB/s "
          f"{100 * frac:4.0f}% of Triad  {rt}  {status}")
PY
}

compare() {
  python3 - "$@" <<'PY'
import json, re, sys

def load(path):
    data = json.load(open(path))
    gbps = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = re.sub(r"/(real_time|manual_time|min_time:[0-9.]+|iterations:\d+)",
                      "", b["run_name"])
        gbps[name] = b.get("bytes_per_second", 0.0) / 1e9
    return data.get("context", {}), gbps

runs = [(p,) + load(p) for p in sys.argv[1:]]
KERNELS = ("RowAccumulate", "AdamRows", "ScatterAddRows", "RowGatherDot",
           "RowAccumulateBf16", "RowGatherDotBf16")
BARRED = ("RowAccumulate", "AdamRows")
print("# bar (b): avx512 on the dram size, GB/s and % of Triad/1thread "
      "(and of RowTriad/1thread) of the same run; >= 70% of Triad to pass")
for i, (path, ctx, _) in enumerate(runs):
    print(f"# run {i + 1}: {path.rsplit('/', 1)[-1]}  {ctx.get('date', '')}  "
          f"hugepages {ctx.get('frugal_hugepages', '?')}")
w = 26
hdr = f"{'kernel (avx512/dram)':<24}" + "".join(
    f"{'run ' + str(i + 1) + ' GB/s  %triad %rowtr':>{w}}" for i in range(len(runs)))
print(hdr)
print("-" * len(hdr))
for name in ("Triad/1thread", "RowTriad/1thread"):
    line = f"{name:<24}"
    for _, _, g in runs:
        v = g.get(name)
        line += f"{(f'{v:.2f}' if v else '-'):>{w - 14}}{'':>14}"
    print(line)
for k in KERNELS:
    line = f"{k:<24}"
    verdicts = []
    for _, _, g in runs:
        v, t, rt = g.get(f"{k}/avx512/dram"), g.get("Triad/1thread"), g.get("RowTriad/1thread")
        if not v:
            line += f"{'-':>{w}}"
            continue
        pt = f"{100 * v / t:.0f}%" if t else "-"
        prt = f"{100 * v / rt:.0f}%" if rt else "-"
        line += f"{v:>{w - 14}.2f}{pt:>7}{prt:>7}"
        if t:
            verdicts.append("ok" if v / t >= 0.7 else "MISSED")
    tag = " / ".join(verdicts) if k in BARRED else "(info)"
    print(f"{line}  {tag}")
PY
}

if [[ ${1:-} == --table ]]; then
  table "$2"
  exit 0
fi
if [[ ${1:-} == --compare ]]; then
  shift
  compare "$@"
  exit 0
fi

filter=${1:-.}
shift || true
build=${FRUGAL_BUILD_DIR:-$root/build}
bin=$build/bench/frugal_bench
if [[ ! -x $bin ]]; then
  echo "no $bin: build it first:" >&2
  echo "  cmake -S $root -B $build && cmake --build $build -j2 --target frugal_bench" >&2
  exit 1
fi

mkdir -p "$out_dir"
# Results are not committed.
[[ -f $out_dir/.gitignore ]] || printf '*\n' >"$out_dir/.gitignore"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$out_dir/frugal_bench_$stamp.json
log=$out_dir/frugal_bench_$stamp.txt

count=$("$bin" --benchmark_list_tests --benchmark_filter="$filter" | wc -l)
echo "running $count benchmarks x ${REPS:-5} repetitions; console log: $log" >&2
start=$(date +%s)
"$bin" --benchmark_filter="$filter" \
  --benchmark_repetitions="${REPS:-5}" \
  --benchmark_report_aggregates_only=true \
  --benchmark_min_time="${MIN_TIME:-0.2}" \
  --benchmark_out="$json" --benchmark_out_format=json \
  "$@" >"$log" 2>&1
echo "done in $(( $(date +%s) - start )) s; JSON: $json" >&2
table "$json"
