#!/usr/bin/env python3
"""Peers as yardsticks (issue 16): frugal's defaults against fastText, scikit-learn, Omikuji and
napkinXC on the same splits of every bundled set, 2 threads each.

Run through bench/peers.sh, which builds the virtual environment and installs fastText:

  bash bench/peers.sh                    # every set
  bash bench/peers.sh bibtex trec        # a subset
  FRUGAL=/path/to/frugal bash bench/peers.sh

Sets and systems (test file scored once per trained model; nothing is tuned on it):
  XMC (bibtex, corel5k, mediamill; XC format): frugal `train --train X --test Y`, Omikuji
      (defaults), napkinXC PLT (defaults); P@1, P@5.
  text (dbpedia14k, sst2, trec, 20newsgroups; `label,text` lines): frugal `text train ...`,
      fastText supervised 10 epochs with -wordNgrams 1 and 2 (fastText's default lr 0.1, and
      lr 1.0 as an extra), fastText -autotune-validation on a fixed 10% of the training rows
      (seed 0; the autotuned model is trained on the other 90%; a run still going after
      --autotune-limit, default 5x its budget, is stopped and recorded as failed), TF-IDF (word 1-2 grams,
      sublinear tf) + LinearSVC with C from 3-fold GridSearchCV on the training rows; accuracy.
  criteo10k (tab-separated): frugal `text train` with its tabular columns; logistic regression
      with bench/external_baselines.py's features and 5-fold CV over C (re-implemented here so
      that LightGBM and pandas are not needed); ROC-AUC.

Randomized methods (frugal, fastText, Omikuji, napkinXC) run once per seed (default 1 2 3) and
report the median quality and the median training wall time; TF-IDF+SVM and logistic
regression are deterministic and run once. Training wall time is the time to a trained model:
reading the training file, any search or cross-validation, the final fit; for the command-line
tools the whole training command (frugal's includes its evaluation on the test file, which its
`train` command runs after every epoch).

fastText input: `__label__N ` + the text lower-cased, split into runs of word characters and
single punctuation characters (Python `re.findall(r"\\w+|[^\\w\\s]", text)`), joined by spaces.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

XMC = ["bibtex", "corel5k", "mediamill"]
TEXT = ["dbpedia14k", "sst2", "trec", "20newsgroups"]
TAB = ["criteo10k"]
ALL = XMC + TEXT + TAB
THREADS = 2


def now():
    return time.perf_counter()


class Recorder:
    def __init__(self, path):
        self.path = path

    def add(self, **rec):
        rec.setdefault("threads", THREADS)
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        q = rec.get("quality") or {}
        qs = ", ".join(f"{k} {v:.4f}" for k, v in q.items())
        err = f" ERROR {rec['error']}" if rec.get("error") else ""
        train_s = rec.get("train_s")
        train_s = float("nan") if train_s is None else train_s  # a failed run: None
        print(f"  {rec['set']:12s} {rec['system']:22s} seed {rec.get('seed')}: {qs}"
              f"  train {train_s:.2f} s{err}", flush=True)


def run(cmd, **kw):
    """Run a command, return (wall seconds, stdout); raise with its stderr on failure."""
    t0 = now()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    wall = now() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: "
                           f"{(p.stderr or p.stdout).strip()[-400:]}")
    return wall, p.stdout


def guarded(rec, set_name, system, seed, fn):
    try:
        fn()
    except Exception as e:  # record why a peer failed, go on with the others
        traceback.print_exc()
        rec.add(set=set_name, system=system, seed=seed, quality=None, train_s=None,
                error=f"{type(e).__name__}: {e}"[:600])


# ------------------------------------------------------------------ XMC
def load_xc(path):
    import numpy as np
    from scipy.sparse import csr_matrix
    rows, cols, vals, labels = [], [], [], []
    with open(path) as f:
        n, d, num_labels = map(int, f.readline().split())
        for i, line in enumerate(f):
            parts = line.split()
            if parts and ":" not in parts[0]:
                labels.append([int(l) for l in parts[0].split(",") if l])
                parts = parts[1:]
            else:
                labels.append([])
            for t in parts:
                k, v = t.split(":")
                rows.append(i)
                cols.append(int(k))
                vals.append(float(v))
    x = csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(labels), d))
    return x, labels, num_labels


def p_at(pred, truth, k):
    """pred: list of ranked label lists; truth: list of label lists. Rows without labels count."""
    tot = 0.0
    for p, t in zip(pred, truth):
        ts = set(t)
        tot += sum(1 for l in p[:k] if l in ts) / k
    return tot / len(truth)


class quiet_output:
    """Send fds 1 and 2 to a log file (Omikuji logs and draws progress bars there)."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = [os.dup(1), os.dup(2)]
        self.f = open(self.path, "a")
        os.dup2(self.f.fileno(), 1)
        os.dup2(self.f.fileno(), 2)

    def __exit__(self, *a):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        self.f.close()


def xmc_frugal(a, rec, name, tr, te, seed):
    wall, out = run([a.frugal, "train", "--train", tr, "--test", te, "--json",
                     "--seed", str(seed), "--threads", str(THREADS)])
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    last = lines[-1]  # the choice of the automatic settings (or the last epoch)
    rec.add(set=name, system="frugal", seed=seed,
            quality={"p@1": last["p@1"], "p@5": last["p@5"]}, train_s=wall,
            detail={"chosen": last.get("chosen"),
                    "candidates": [l for l in lines if "candidate" in l],
                    "note": "train_s: whole command, incl. reading, search and test eval"})


def xmc_omikuji(a, rec, name, tr, te, seed, test):
    import omikuji
    xt, yt, _ = test
    log = os.path.join(a.out, "omikuji.log")
    with quiet_output(log):
        t0 = now()
        hp = omikuji.Model.default_hyper_param()
        model = omikuji.Model.train_on_data(tr, hp, n_threads=THREADS)
        train_s = now() - t0
        pred = []
        for i in range(xt.shape[0]):
            row = xt.getrow(i)
            pred.append([l for l, _ in model.predict(
                list(zip(row.indices.tolist(), row.data.tolist())), top_k=5)])
    rec.add(set=name, system="omikuji", seed=seed,
            quality={"p@1": p_at(pred, yt, 1), "p@5": p_at(pred, yt, 5)}, train_s=train_s,
            detail={"note": "defaults (3 trees, k-means arity 2, hinge); no seed option: "
                            "repeated runs"})


def xmc_napkinxc(a, rec, name, tr, te, seed, test):
    from napkinxc.models import PLT
    xt, yt, _ = test
    d = tempfile.mkdtemp(dir=a.out)
    try:
        t0 = now()
        x, y, _ = load_xc(tr)
        model = PLT(d, threads=THREADS, seed=seed)
        model.fit(x, y)
        train_s = now() - t0
        pred = [[int(l) for l in p] for p in model.predict(xt, top_k=5)]
    finally:
        shutil.rmtree(d, ignore_errors=True)
    rec.add(set=name, system="napkinxc-plt", seed=seed,
            quality={"p@1": p_at(pred, yt, 1), "p@5": p_at(pred, yt, 5)}, train_s=train_s,
            detail={"note": "PLT defaults (hierarchical k-means, arity 2, liblinear log loss)"})


def do_xmc(a, rec, name):
    tr = os.path.join(a.data, name, "train.txt")
    te = os.path.join(a.data, name, "test.txt")
    test = load_xc(te)
    for seed in a.seeds:
        guarded(rec, name, "frugal", seed, lambda: xmc_frugal(a, rec, name, tr, te, seed))
    for seed in a.seeds:
        guarded(rec, name, "omikuji", seed,
                lambda: xmc_omikuji(a, rec, name, tr, te, seed, test))
    for seed in a.seeds:
        guarded(rec, name, "napkinxc-plt", seed,
                lambda: xmc_napkinxc(a, rec, name, tr, te, seed, test))


# ------------------------------------------------------------------ text
TOKEN = re.compile(r"\w+|[^\w\s]")


def read_label_text(path):
    labels, texts = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            label, _, text = line.partition(",")
            labels.append(label)
            texts.append(text)
    return labels, texts


def write_ft(path, labels, texts):
    with open(path, "w") as f:
        for l, t in zip(labels, texts):
            f.write(f"__label__{l} {' '.join(TOKEN.findall(t.lower()))}\n")


def ft_test(model, test_ft):
    _, out = run(["fasttext", "test", model, test_ft])
    for line in out.splitlines():
        if line.startswith("P@1"):
            return float(line.split()[1])
    raise RuntimeError(f"fasttext test printed no P@1: {out!r}")


def text_fasttext(a, rec, name, work, seed, kind):
    out = os.path.join(work, f"ft_{kind}_{seed}")
    if kind == "autotune":
        cmd = ["fasttext", "supervised", "-input", os.path.join(work, "train90.ft"),
               "-output", out, "-autotune-validation", os.path.join(work, "val10.ft"),
               "-autotune-duration", str(a.autotune_duration), "-thread", str(THREADS),
               "-seed", str(seed), "-verbose", "0"]
        system = "fasttext-autotune"
    else:
        ngrams, lr = {"uni": (1, None), "bi": (2, None), "uni-lr1": (1, 1.0),
                      "bi-lr1": (2, 1.0)}[kind]
        cmd = ["fasttext", "supervised", "-input", os.path.join(work, "train.ft"),
               "-output", out, "-epoch", "10", "-wordNgrams", str(ngrams),
               "-thread", str(THREADS), "-seed", str(seed), "-verbose", "0"]
        if lr:
            cmd += ["-lr", str(lr)]
        system = "fasttext-" + kind
    if kind == "autotune":
        # Autotune checks its budget between trials only; a trial of large
        # settings (or the final training) can run far past it and fill the
        # memory, so it is stopped at autotune_limit and recorded as failed.
        try:
            wall, _ = run(cmd, timeout=a.autotune_limit)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"autotune still running after {a.autotune_limit} s (budget "
                               f"{a.autotune_duration} s): stopped") from None
    else:
        wall, _ = run(cmd)
    acc = ft_test(out + ".bin", os.path.join(work, "test.ft"))
    detail = {"cmd": " ".join(cmd[1:])}
    if kind == "autotune":
        try:
            _, dump = run(["fasttext", "dump", out + ".bin", "args"])
            detail["chosen"] = " ".join(dump.split())
        except Exception as e:
            detail["chosen"] = f"(dump failed: {e})"
    for ext in (".bin", ".vec"):
        if os.path.exists(out + ext):
            os.remove(out + ext)
    rec.add(set=name, system=system, seed=seed, quality={"accuracy": acc}, train_s=wall,
            detail=detail)


def text_frugal(a, rec, name, tr, te, seed, extra):
    cmd = [a.frugal, "text", "train", "--train", tr, "--test", te] + extra + [
        "--json", "--seed", str(seed), "--threads", str(THREADS)]
    wall, out = run(cmd)
    r = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    q = {k: r["test"][k] for k in ("accuracy", "roc_auc") if k in r["test"]}
    rec.add(set=name, system="frugal", seed=seed, quality=q, train_s=wall,
            detail={"total_s_inprocess": r["total_s"], "train_s_inprocess": r["train_s"],
                    "hidden": r["hidden"], "epochs": r["epochs"], "lr": r["lr"],
                    "batch": r["batch"], "bad_rows": r["bad_rows"],
                    "note": "train_s: whole command, incl. one test evaluation"})


def text_svm(a, rec, name, train, test):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC
    grid = [0.1, 0.3, 1.0, 3.0]
    t0 = now()
    pipe = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                     ("svm", LinearSVC())])
    gs = GridSearchCV(pipe, {"svm__C": grid}, scoring="accuracy", n_jobs=THREADS,
                      cv=StratifiedKFold(3, shuffle=True, random_state=0), refit=True)
    gs.fit(train[1], train[0])
    train_s = now() - t0
    acc = float(np.mean(gs.predict(test[1]) == np.array(test[0])))
    cv = {str(c): round(float(s), 4)
          for c, s in zip(grid, gs.cv_results_["mean_test_score"])}
    rec.add(set=name, system="tfidf-linearsvc", seed=None, quality={"accuracy": acc},
            train_s=train_s, detail={"cv_accuracy": cv, "chosen_C": gs.best_params_["svm__C"]})


def do_text(a, rec, name):
    import numpy as np
    tr = os.path.join(a.data, name, "train.csv")
    te = os.path.join(a.data, name, "test.csv")
    train, test = read_label_text(tr), read_label_text(te)
    work = tempfile.mkdtemp(dir=a.out)
    try:
        write_ft(os.path.join(work, "train.ft"), *train)
        write_ft(os.path.join(work, "test.ft"), *test)
        n = len(train[0])
        perm = np.random.RandomState(0).permutation(n)
        val = set(perm[: n // 10].tolist())
        write_ft(os.path.join(work, "train90.ft"),
                 *[[v for i, v in enumerate(col) if i not in val] for col in train])
        write_ft(os.path.join(work, "val10.ft"),
                 *[[v for i, v in enumerate(col) if i in val] for col in train])
        flags = ["--no-header", "--label-col", "0", "--text-col", "1", "--last-column-rest"]
        for seed in a.seeds:
            guarded(rec, name, "frugal", seed,
                    lambda: text_frugal(a, rec, name, tr, te, seed, flags))
        for kind in ("uni", "bi", "uni-lr1", "bi-lr1", "autotune"):
            for seed in a.seeds:
                guarded(rec, name, "fasttext-" + kind, seed,
                        lambda: text_fasttext(a, rec, name, work, seed, kind))
        guarded(rec, name, "tfidf-linearsvc", None, lambda: text_svm(a, rec, name, train, test))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ criteo10k
def criteo_logreg(a, rec, name, tr_path, te_path):
    """bench/external_baselines.py's logistic regression: same features, folds, grid."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    def read(path):
        y, num, cat = [], [], []
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                p += [""] * (40 - len(p))
                y.append(int(p[0]))
                num.append([float(v) if v != "" else np.nan for v in p[1:14]])
                cat.append(p[14:40])
        return np.array(y), np.array(num, dtype=float), np.array(cat, dtype=object)

    def features(a_num, a_cat, b_num, b_cat):
        fill = -1.0
        squash = lambda v: np.nan_to_num(np.sign(v) * np.log1p(np.abs(v)), nan=0.0)
        bins = KBinsDiscretizer(n_bins=32, encode="onehot", strategy="quantile",
                                subsample=None).fit(np.nan_to_num(a_num, nan=fill))
        scale = np.abs(squash(a_num)).max(axis=0) + 1e-12
        onehot = OneHotEncoder(handle_unknown="ignore").fit(a_cat)

        def sparse(v, c):
            return hstack([bins.transform(np.nan_to_num(v, nan=fill)),
                           csr_matrix(squash(v) / scale), onehot.transform(c)]).tocsr()

        return sparse(a_num, a_cat), sparse(b_num, b_cat)

    import warnings
    warnings.filterwarnings("ignore")
    t0 = now()
    y, num, cat = read(tr_path)
    yt, numt, catt = read(te_path)
    idx = np.arange(len(y))
    folds = [(idx[idx % 5 != f], idx[idx % 5 == f]) for f in range(5)]
    split = [(features(num[p], cat[p], num[q], cat[q]), y[p], y[q]) for p, q in folds]
    grid = [0.01, 0.03, 0.1]
    cv = {}
    for c in grid:
        cv[c] = float(np.mean([roc_auc_score(yb, LogisticRegression(C=c, max_iter=3000)
                                             .fit(f[0], ya).predict_proba(f[1])[:, 1])
                               for f, ya, yb in split]))
    best = max(cv, key=cv.get)
    xa, xb = features(num, cat, numt, catt)
    model = LogisticRegression(C=best, max_iter=3000).fit(xa, y)
    train_s = now() - t0
    auc = float(roc_auc_score(yt, model.predict_proba(xb)[:, 1]))
    rec.add(set=name, system="logreg-cv", seed=None, quality={"roc_auc": auc}, train_s=train_s,
            detail={"cv_auc": {str(c): round(v, 4) for c, v in cv.items()}, "chosen_C": best,
                    "note": "external_baselines.py's features and 5-fold CV (row % 5)"})


def do_criteo(a, rec, name):
    tr = os.path.join(a.data, name, "train.txt")
    te = os.path.join(a.data, name, "test.txt")
    flags = ["--delimiter", "tab", "--no-header", "--columns",
             "0:target,1-13:numeric,14-39:categorical"]
    for seed in a.seeds:
        guarded(rec, name, "frugal", seed, lambda: text_frugal(a, rec, name, tr, te, seed, flags))
    guarded(rec, name, "logreg-cv", None, lambda: criteo_logreg(a, rec, name, tr, te))


# ------------------------------------------------------------------ table
METRIC = {**{s: "p@1" for s in XMC}, **{s: "accuracy" for s in TEXT},
          **{s: "roc_auc" for s in TAB}}
ORDER = ["frugal", "omikuji", "napkinxc-plt", "fasttext-uni", "fasttext-bi",
         "fasttext-autotune", "tfidf-linearsvc", "fasttext-uni-lr1", "fasttext-bi-lr1",
         "logreg-cv"]
LABEL = {
    "frugal": "frugal defaults",
    "omikuji": "Omikuji defaults",
    "napkinxc-plt": "napkinXC PLT defaults",
    "fasttext-uni": "fastText 10 ep, unigrams",
    "fasttext-bi": "fastText 10 ep, bigrams",
    "fasttext-autotune": "fastText autotune 60 s",
    "tfidf-linearsvc": "TF-IDF 1-2 grams + LinearSVC (3-fold CV C)",
    "fasttext-uni-lr1": "(extra) fastText 10 ep, unigrams, lr 1.0",
    "fasttext-bi-lr1": "(extra) fastText 10 ep, bigrams, lr 1.0",
    "logreg-cv": "logistic regression (5-fold CV C)",
}


def summarize(records):
    """{set: {system: {quality: {metric: median}, range, train_s median, n, errors}}}"""
    out = {}
    for r in records:
        out.setdefault(r["set"], {}).setdefault(r["system"], []).append(r)
    summary = {}
    for s, systems in out.items():
        summary[s] = {}
        for name, rs in systems.items():
            ok = [r for r in rs if not r.get("error")]
            e = {"n": len(ok), "errors": [r["error"] for r in rs if r.get("error")]}
            if ok:
                keys = ok[0]["quality"].keys()
                e["quality"] = {k: statistics.median(r["quality"][k] for r in ok) for k in keys}
                e["range"] = {k: (min(r["quality"][k] for r in ok),
                                  max(r["quality"][k] for r in ok)) for k in keys}
                e["train_s"] = statistics.median(r["train_s"] for r in ok)
                e["detail"] = ok[-1].get("detail", {})
            summary[s][name] = e
    return summary


def fmt_q(e, k):
    if "quality" not in e or k not in e["quality"]:
        return "-"
    v = e["quality"][k]
    lo, hi = e["range"][k]
    return f"{v:.4f}" + (f" ({lo:.4f}-{hi:.4f})" if e["n"] > 1 and hi > lo else "")


def bar(s, sm):
    """The bar frugal's defaults must clear on set s (issue 16), or None if a peer is missing."""
    g = lambda sys, k: sm.get(sys, {}).get("quality", {}).get(k)
    t = lambda sys: sm.get(sys, {}).get("train_s")
    if s in XMC:
        qs = [g("omikuji", "p@1"), g("napkinxc-plt", "p@1")]
        ts = [t("omikuji"), t("napkinxc-plt")]
        if None in qs or None in ts:
            return None
        return ("p@1", max(qs), max(max(ts), 15.0),
                f"P@1 >= max(Omikuji, napkinXC) = {max(qs):.4f}; "
                f"train <= max(slower peer {max(ts):.1f} s, 15 s) = {max(max(ts), 15.0):.1f} s")
    if s in TEXT:
        ft = [g(k, "accuracy") for k in ("fasttext-uni", "fasttext-bi", "fasttext-autotune")]
        svm = g("tfidf-linearsvc", "accuracy")
        if None in ft or svm is None or t("fasttext-autotune") is None:
            return None
        q = max(max(ft), svm - 0.005)
        return ("accuracy", q, t("fasttext-autotune"),
                f"accuracy >= max(best fastText {max(ft):.4f}, TF-IDF+SVM {svm:.4f} - 0.005) "
                f"= {q:.4f}; train <= fastText autotune {t('fasttext-autotune'):.1f} s")
    lr = g("logreg-cv", "roc_auc")
    if lr is None:
        return None
    return ("roc_auc", lr - 0.002, None, f"ROC-AUC >= tuned LR {lr:.4f} - 0.002 = {lr - 0.002:.4f}")


def table(records, seeds):
    sm = summarize(records)
    lines = [f"Quality: median over seeds {' '.join(map(str, seeds))} for the randomized "
             "methods (frugal, fastText, Omikuji, napkinXC; min-max in brackets when they "
             "differ), one run for the deterministic ones (TF-IDF+LinearSVC, logistic "
             "regression). Train s: median training wall time (search / CV included).", "",
             "| set | system | P@1 / accuracy / ROC-AUC | P@5 | train s |",
             "|---|---|---|---|---|"]
    for s in ALL:
        if s not in sm:
            continue
        k = METRIC[s]
        for name in ORDER + sorted(set(sm[s]) - set(ORDER)):
            if name not in sm[s]:
                continue
            e = sm[s][name]
            label = LABEL.get(name, name) + (f" x{e['n']}" if e["n"] > 1 else "")
            if e["errors"] and not e["n"]:
                lines.append(f"| {s} | {label} | failed: {e['errors'][0][:150]} | | |")
                continue
            p5 = fmt_q(e, "p@5") if s in XMC else ""
            lines.append(f"| {s} | {label} | {fmt_q(e, k)} | {p5} | {e['train_s']:.2f} |")
    lines += ["", "| set | bar for frugal's defaults (issue 16) | frugal now | met |",
              "|---|---|---|---|"]
    for s in ALL:
        if s not in sm:
            continue
        b = bar(s, sm[s])
        f = sm[s].get("frugal", {})
        if b is None or "quality" not in f:
            lines.append(f"| {s} | (a peer or frugal failed: no bar) | | |")
            continue
        k, q, tmax, text = b
        fq, ft = f["quality"][k], f["train_s"]
        ok_q = fq >= q
        ok_t = tmax is None or ft <= tmax
        verdict = "yes" if ok_q and ok_t else "no (" + ", ".join(
            x for x, ok in (("quality", ok_q), ("time", ok_t)) if not ok) + ")"
        lines.append(f"| {s} | {text} | {k} {fq:.4f}, {ft:.1f} s | {verdict} |")
    return "\n".join(lines) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", help=f"any of {' '.join(ALL)} (default: all)")
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--frugal", default=os.path.join(here, "..", "build", "apps", "frugal"))
    ap.add_argument("--out", default=os.path.join(here, "..", "build", "peers"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--autotune-duration", type=int, default=60)
    ap.add_argument("--autotune-limit", type=int, default=0,
                    help="seconds after which an autotune run is stopped (default 5x the duration)")
    ap.add_argument("--table-only", action="store_true",
                    help="rewrite the table from the existing results.jsonl")
    a = ap.parse_args()
    a.autotune_limit = a.autotune_limit or 5 * a.autotune_duration
    bad = [s for s in a.sets if s not in ALL]
    if bad:
        sys.exit(f"peers.py: unknown set(s) {bad}; known: {ALL}")
    sets = [s for s in ALL if s in a.sets] if a.sets else ALL
    os.makedirs(a.out, exist_ok=True)
    results = os.path.join(a.out, "results.jsonl")
    table_path = os.path.join(a.out, "peers.md")
    if not a.table_only:
        a.frugal = os.path.abspath(a.frugal)
        if not os.access(a.frugal, os.X_OK):
            sys.exit(f"peers.py: {a.frugal} is not an executable frugal")
        open(results, "w").close()
        rec = Recorder(results)
        t_all = now()
        for s in sets:
            t_set = now()
            print(f"{s}:", flush=True)
            (do_xmc if s in XMC else do_text if s in TEXT else do_criteo)(a, rec, s)
            print(f"  [{s}: {now() - t_set:.0f} s]", flush=True)
        print(f"all sets: {now() - t_all:.0f} s", flush=True)
    with open(results) as f:
        records = [json.loads(l) for l in f if l.strip()]
    md = table(records, a.seeds)
    with open(table_path, "w") as f:
        f.write(md)
    print("\n" + md)
    print(f"results: {results}\ntable: {table_path}")


if __name__ == "__main__":
    main()
