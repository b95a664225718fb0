"""Peers on an XC-format data set: exact k-NN vote, Omikuji, napkinXC PLT.

Usage (bench/xmc_peers.sh runs these inside its own virtual environment):
  python xmc_peers.py stats TRAIN            # label and non-zero statistics
  python xmc_peers.py knn TRAIN TEST [--k 10] [--threads 2]
  python xmc_peers.py omikuji TRAIN TEST [--threads 2]
  python xmc_peers.py napkinxc TRAIN TEST [--threads 2]
Each method prints one line 'RESULT method p@1 p@3 p@5 train_s predict_s'.
"""
import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp


def read_xc(path):
    """Reads an XC file ('N D L' header, 'l1,l2 f:v f:v' rows) into a float32
    CSR matrix and a list of label-id arrays."""
    with open(path, "rb") as f:
        n, d, num_labels = (int(x) for x in f.readline().split())
        indptr = [0]
        idx_parts, val_parts, labels = [], [], []
        for line in f:
            head, _, rest = line.partition(b" ")
            if b":" in head:  # a row without labels
                head, rest = b"", line
            labels.append(np.array(head.split(b","), dtype=np.int64)
                          if head else np.zeros(0, np.int64))
            toks = rest.replace(b":", b" ").split()
            arr = np.array(toks, dtype=np.float64)
            idx_parts.append(arr[0::2].astype(np.int32))
            val_parts.append(arr[1::2].astype(np.float32))
            indptr.append(indptr[-1] + len(toks) // 2)
    x = sp.csr_matrix((np.concatenate(val_parts), np.concatenate(idx_parts),
                       np.array(indptr)), shape=(len(labels), d))
    return x, labels, num_labels


def precision_at(pred, labels, ks=(1, 3, 5)):
    """pred: list of ranked label arrays; labels: list of true-label arrays."""
    out = []
    for k in ks:
        hits = 0
        for p, y in zip(pred, labels):
            ys = set(y.tolist())
            hits += sum(1 for l in list(p)[:k] if l in ys)
        out.append(hits / (k * len(labels)))
    return out


def l2_normalise(x):
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sp.diags(1 / norms).dot(x).tocsr().astype(np.float32)


def knn_predict(xtr, ytr, xte, k=10, threads=2, chunk=256, top=5):
    """Exact k nearest neighbours by cosine, similarity-weighted label vote."""
    xtr = l2_normalise(xtr)
    xte = l2_normalise(xte)
    xtr_t = xtr.T.tocsr()

    def run(start):
        sims = (xte[start:start + chunk] @ xtr_t).tocsr()
        preds = []
        for r in range(sims.shape[0]):
            a, b = sims.indptr[r], sims.indptr[r + 1]
            data, cols = sims.data[a:b], sims.indices[a:b]
            if len(data) > k:
                sel = np.argpartition(-data, k)[:k]
                data, cols = data[sel], cols[sel]
            votes = {}
            for s, c in zip(data.tolist(), cols.tolist()):
                for l in ytr[c].tolist():
                    votes[l] = votes.get(l, 0.0) + s
            preds.append([l for l, _ in sorted(votes.items(),
                                                key=lambda t: -t[1])[:top]])
        return preds

    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(run, range(0, xte.shape[0], chunk)))
    return [p for part in parts for p in part]


def label_matrix(labels, num_labels):
    indptr = np.cumsum([0] + [len(y) for y in labels])
    idx = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(len(idx), np.float32), idx, indptr),
                         shape=(len(labels), num_labels))


def cmd_stats(args):
    x, y, num_labels = read_xc(args.train)
    counts = np.bincount(np.concatenate(y), minlength=num_labels)
    seen = counts[counts > 0]
    nnz = np.diff(x.indptr)
    print(f"rows {x.shape[0]}  features {x.shape[1]}  labels {num_labels}")
    print(f"labels/row {np.mean([len(l) for l in y]):.3f}  "
          f"nnz/row mean {nnz.mean():.2f} median {np.median(nnz):.0f} "
          f"p5 {np.percentile(nnz, 5):.0f} p95 {np.percentile(nnz, 95):.0f}")
    print(f"rows/label (all labels) {counts.mean():.3f}  (seen labels) "
          f"{seen.mean():.3f}  labels seen {len(seen)} "
          f"({len(seen) / num_labels:.1%})  max {counts.max()}")
    for lo, hi in ((1, 1), (2, 5), (6, 20), (21, 100), (101, 1000),
                   (1001, 10 ** 9)):
        m = ((counts >= lo) & (counts <= hi)).sum()
        print(f"  labels in {lo}-{hi if hi < 10**9 else 'inf'} rows: {m} "
              f"({m / max(1, len(seen)):.1%} of seen)")
    top = np.sort(counts)[::-1]
    print(f"top label counts {top[:5].tolist()}; top 1% of labels hold "
          f"{top[:num_labels // 100].sum() / counts.sum():.1%} of positives")


def report(name, pred, yte, train_s, predict_s):
    p1, p3, p5 = precision_at(pred, yte)
    print(f"RESULT {name} p@1 {p1:.4f} p@3 {p3:.4f} p@5 {p5:.4f} "
          f"train_s {train_s:.1f} predict_s {predict_s:.1f}", flush=True)


def cmd_knn(args):
    t0 = time.time()
    xtr, ytr, _ = read_xc(args.train)
    xte, yte, _ = read_xc(args.test)
    if args.limit_test:
        xte, yte = xte[:args.limit_test], yte[:args.limit_test]
    print(f"read in {time.time() - t0:.1f} s", file=sys.stderr)
    t0 = time.time()
    pred = knn_predict(xtr, ytr, xte, k=args.k, threads=args.threads)
    report(f"knn{args.k}", pred, yte, 0.0, time.time() - t0)


def cmd_omikuji(args):
    import omikuji
    # Omikuji reads its own format (libsvm with the XC header), as the XC
    # files are: train from the file directly.
    t0 = time.time()
    model = omikuji.Model.train_on_data(
        args.train, omikuji.Model.default_hyper_param(),
        n_threads=args.threads)
    train_s = time.time() - t0
    xte, yte, _ = read_xc(args.test)
    t0 = time.time()
    pred = []
    for r in range(xte.shape[0]):
        a, b = xte.indptr[r], xte.indptr[r + 1]
        feats = list(zip(xte.indices[a:b].tolist(), xte.data[a:b].tolist()))
        pred.append([l for l, _ in model.predict(feats, top_k=5)])
    report("omikuji", pred, yte, train_s, time.time() - t0)


def cmd_napkinxc(args):
    from napkinxc.models import PLT
    xtr, ytr, _ = read_xc(args.train)
    xte, yte, _ = read_xc(args.test)
    model = PLT(args.model_dir, threads=args.threads)
    t0 = time.time()
    model.fit(xtr, [y.tolist() for y in ytr])
    train_s = time.time() - t0
    t0 = time.time()
    pred = model.predict(xte, top_k=5)
    report("napkinxc-plt", [list(p) for p in pred], yte, train_s,
           time.time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("method", choices=["stats", "knn", "omikuji", "napkinxc"])
    ap.add_argument("train")
    ap.add_argument("test", nargs="?")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--model-dir", default="napkinxc-model")
    args = ap.parse_args()
    {"stats": cmd_stats, "knn": cmd_knn, "omikuji": cmd_omikuji,
     "napkinxc": cmd_napkinxc}[args.method](args)


if __name__ == "__main__":
    main()
