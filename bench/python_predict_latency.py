"""Single-row predict latency from Python vs the C++ call, on dbpedia14k.

Fits frugal.sklearn.TextTabularClassifier on dbpedia14k's training texts
(automatic settings), saves its model, and times one row at a time over the
test rows (5 passes after a warm-up pass, each call timed alone):

  C++      bench/text_latency.cc (Classifier::Predict on prepared fields)
  fields   TextClassifier.predict([text, ""])  (the binding, a list of fields)
  str      TextClassifier.predict(text)         (one text field)
  sklearn  TextTabularClassifier.predict([text]) (the estimator, a list of str)

and prints p50/p90/p99 of each with the p50 difference from C++. Run it
pinned to one core, as the C++ bench is:

  taskset -c 0 build/pyenv/bin/python bench/python_predict_latency.py \\
      --latency-bin build/bench/frugal_text_latency
"""

import argparse
import csv
import os
import re
import subprocess
import tempfile
import time

import numpy as np

from frugal.sklearn import TextTabularClassifier

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read(path):
    with open(path, encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split(",", 1) for line in f]
    return [t for _, t in pairs], [int(y) for y, _ in pairs]


def quantiles(us):
    us = np.sort(np.asarray(us))
    return {q: float(us[min(len(us) - 1, int(q * len(us)))]) for q in (0.5, 0.9, 0.99)}


def time_calls(fn, items, passes):
    for x in items:  # warm-up
        fn(x)
    out = []
    clock = time.perf_counter_ns
    for _ in range(passes):
        for x in items:
            t0 = clock()
            fn(x)
            out.append((clock() - t0) / 1000.0)
    return quantiles(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "dbpedia14k"))
    ap.add_argument("--latency-bin", default=os.path.join(ROOT, "build", "bench",
                                                          "frugal_text_latency"))
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()

    X, y = read(os.path.join(args.data, "train.csv"))
    X_test, y_test = read(os.path.join(args.data, "test.csv"))
    est = TextTabularClassifier().fit(X, y)
    print(f"fitted: {est.report_}; test accuracy {est.score(X_test, y_test):.4f}")
    clf = est._clf_

    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "db.model")
        clf.save(model)
        rows = os.path.join(d, "test.csv")
        with open(rows, "w", newline="", encoding="utf-8") as f:  # the model's layout
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["c0", "y"])
            for t in X_test:
                w.writerow([t, ""])
        out = subprocess.run([args.latency_bin, "--model", model, "--input", rows,
                              "--passes", str(args.passes)],
                             check=True, capture_output=True, text=True).stdout
    print(out.strip())
    cpp = {0.5: float(re.search(r"p50 ([0-9.]+) us", out).group(1)),
           0.9: float(re.search(r"p90 ([0-9.]+) us", out).group(1)),
           0.99: float(re.search(r"p99 ([0-9.]+) us", out).group(1))}

    fields = [[t, ""] for t in X_test]
    results = {
        "C++ Classifier::Predict": cpp,
        "TextClassifier.predict(fields)": time_calls(clf.predict, fields, args.passes),
        "TextClassifier.predict(str)": time_calls(clf.predict, X_test, args.passes),
        "TextTabularClassifier.predict([str])": time_calls(
            lambda t: est.predict([t]), X_test, args.passes),
    }
    print(f"{len(X_test)} rows x {args.passes} passes, one call timed at a time")
    print(f"{'call':40s} {'p50 us':>8s} {'p90 us':>8s} {'p99 us':>8s} {'p50 - C++':>10s}")
    for name, q in results.items():
        print(f"{name:40s} {q[0.5]:8.1f} {q[0.9]:8.1f} {q[0.99]:8.1f} "
              f"{q[0.5] - cpp[0.5]:+10.1f}")


if __name__ == "__main__":
    main()
