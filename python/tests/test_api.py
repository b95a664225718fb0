"""The Python API over the C++ core: training from files and from arrays,
evaluation, prediction, model files, errors, the CSV classifier, and that
training releases the GIL."""

import os
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

import frugal

DATA = os.environ.get(
    "FRUGAL_DATA_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
BIBTEX = os.path.join(DATA, "bibtex")
DBPEDIA = os.path.join(DATA, "dbpedia14k")

needs_data = pytest.mark.skipif(not os.path.isdir(BIBTEX), reason="shared/data not found")


def read_xc(path):
    """The XC file parsed in Python: (CSR features, label lists)."""
    with open(path) as f:
        n, d, l = map(int, f.readline().split())
        indptr, indices, values, labels = [0], [], [], []
        for line in f:
            parts = line.rstrip("\n").split(" ")
            head = parts[0]
            feats = parts[1:]
            if ":" in head:  # a row without labels
                feats, head = parts, ""
            labels.append([int(x) for x in head.split(",")] if head else [])
            for fv in feats:
                if fv:
                    i, v = fv.split(":")
                    indices.append(int(i))
                    values.append(float(v))
            indptr.append(len(indices))
    X = sp.csr_matrix((np.array(values, np.float32), np.array(indices, np.int32),
                       np.array(indptr, np.int64)), shape=(n, d))
    return X, labels, l


@needs_data
def test_bibtex_from_files_reaches_precision():
    train = frugal.read_file(os.path.join(BIBTEX, "train.txt"))
    test = frugal.read_file(os.path.join(BIBTEX, "test.txt"))
    assert (train.size, train.num_features, train.num_labels) == (4880, 1836, 159)
    model = frugal.Model.auto(train.num_features, train.num_labels, hidden=512)
    epochs = model.train(train, epochs=10, batch_size=64)
    assert len(epochs) == 10
    assert epochs[-1]["loss"] < 0.7 * epochs[0]["loss"]
    result = model.evaluate(test, exact=True)
    assert result["samples"] == 2515
    assert result["p@1"] >= 0.58, result


@needs_data
def test_arrays_train_exactly_like_the_file():
    X, labels, num_labels = read_xc(os.path.join(BIBTEX, "train.txt"))
    file_model = frugal.Model.auto(X.shape[1], num_labels, hidden=32, seed=3)
    array_model = frugal.Model.auto(X.shape[1], num_labels, hidden=32, seed=3)
    file_model.train(os.path.join(BIBTEX, "train.txt"), epochs=1, threads=1)
    array_model.train(X, labels, epochs=1, threads=1)
    Xt, _, _ = read_xc(os.path.join(BIBTEX, "test.txt"))
    l1, s1 = file_model.predict(Xt, k=5, exact=True)
    l2, s2 = array_model.predict(Xt, k=5, exact=True)
    assert l1.shape == (2515, 5) and s1.dtype == np.float32
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(s1, s2)


def separable(n=400, features=40, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = np.zeros((n, features), np.float32)
    for i, c in enumerate(y):
        X[i, c + classes * rng.integers(0, features // classes)] = 1.0
        X[i, rng.integers(0, features)] += 0.5
    return X, y


def test_dense_arrays_and_class_ids_multilayer():
    X, y = separable()
    model = frugal.Model(40, [frugal.Layer(32), frugal.Layer(16, "linear"),
                              frugal.Layer(4, "softmax")], metadata={"k": "v"})
    assert [l["width"] for l in model.layers] == [32, 16, 4]
    model.train(X, y, epochs=20, batch_size=32, lr=0.01)
    assert model.evaluate(X, y)["p@1"] > 0.95
    labels, _ = model.predict(sp.csr_matrix(X[:10]), k=1)
    np.testing.assert_array_equal(labels[:, 0], y[:10])
    assert model.metadata == {"k": "v"}  # the run's position is not metadata
    assert model.epochs_done == 20


def test_predict_pads_with_minus_one_and_reads_float32_csr_without_copy():
    X, y = separable()
    model = frugal.Model.auto(40, 4, hidden=8, sparsity=1.0)
    labels, scores = model.predict(sp.csr_matrix(X), k=6)
    assert labels.shape == (400, 6)
    assert (labels[:, 4:] == -1).all() and np.isneginf(scores[:, 4:]).all()
    assert sorted(labels[0, :4]) == [0, 1, 2, 3]


def test_save_load_round_trip(tmp_path):
    X, y = separable()
    model = frugal.Model(40, [frugal.Layer(16), frugal.Layer(4, "sigmoid")])
    model.train(X, y, epochs=2)
    path = tmp_path / "m.bin"
    model.save(path)
    loaded = frugal.Model.load(path)
    assert loaded.step == model.step > 0
    assert loaded.layers == model.layers
    for a, b in zip(model.predict(X, k=2), loaded.predict(X, k=2)):
        np.testing.assert_array_equal(a, b)


def test_errors_arrive_with_the_cpp_messages(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 10 5\n0 1:x\n")
    with pytest.raises(frugal.DataError, match=r"bad.txt:2:.*finite feature value"):
        frugal.read_file(bad)
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"FRUGALMD" + b"\0" * 40)
    with pytest.raises(frugal.ModelFileError, match="corrupt.bin"):
        frugal.Model.load(corrupt)
    with pytest.raises(ValueError, match="sigmoid activation"):
        frugal.Model(10, [frugal.Layer(4, "relu")])
    with pytest.raises(ValueError, match="unknown activation"):
        frugal.Model(10, [frugal.Layer(4, "tanh")])
    model = frugal.Model.auto(10, 3, hidden=4)
    with pytest.raises(ValueError, match="feature index 12"):
        model.predict(sp.csr_matrix(([1.0], ([0], [12])), shape=(1, 13)))
    with pytest.raises(ValueError, match="negative"):
        model.train(np.ones((2, 10), np.float32), [[0], [-1]])
    with pytest.raises(ValueError, match=r"unknown gradient exchange 'rowz' \(auto, dense"):
        model.train(np.ones((2, 10), np.float32), [[0], [1]], exchange="rowz")
    with pytest.raises(ValueError, match="exchange_bandwidth"):
        model.train(np.ones((2, 10), np.float32), [[0], [1]], exchange_bandwidth=-1)


def test_training_releases_the_gil():
    X, y = separable(n=20000, features=400, classes=8)
    model = frugal.Model.auto(400, 8, hidden=256)
    ds = frugal.dataset(X, y)
    ticks = 0
    done = threading.Event()

    def train():
        model.train(ds, epochs=3, threads=1)
        done.set()

    t = threading.Thread(target=train)
    start = time.perf_counter()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.perf_counter() - start
    assert elapsed > 0.05, "training too short to tell"
    # With the GIL held for the whole run the loop could not tick at all.
    assert ticks >= 10, (ticks, elapsed)


def test_local_communicator():
    comm = frugal.connect(rank=0, size=1, rendezvous="")
    assert (comm.rank, comm.size) == (0, 1)
    np.testing.assert_array_equal(comm.allreduce_sum(np.array([1.0, 2.0])), [1.0, 2.0])


@pytest.mark.skipif(not os.path.isdir(DBPEDIA), reason="shared/data not found")
def test_text_classifier_dbpedia(tmp_path):
    clf = frugal.TextClassifier.train(
        os.path.join(DBPEDIA, "train.csv"), [("0", "target"), ("1", "text")],
        header=False, rest_in_last_column=True)
    assert len(clf.labels) == 14
    # The default search: its candidates, the chosen one among them.
    r = clf.report
    assert len(r["candidates"]) >= 5 and r["valid_rows"] == 1120 and r["search_seconds"] > 0
    chosen = [c for c in r["candidates"]
              if (c["word_ngrams"], c["char_ngrams"], c["hidden"], c["batch"])
              == (r["word_ngrams"], r["char_ngrams"], r["hidden"], r["batch"])]
    assert chosen and chosen[0]["valid_accuracy"] == r["valid_accuracy"]
    result = clf.evaluate(os.path.join(DBPEDIA, "test.csv"))
    assert result["accuracy"] >= 0.95, result
    label, p = clf.predict("Bell Mountain is a mountain in the Cascade Range of Oregon.")
    assert label in clf.labels and 0 < p <= 1
    path = tmp_path / "clf.bin"
    clf.save(path)
    again = frugal.TextClassifier.load(path)
    assert again.predict("Some school in Ohio") == clf.predict("Some school in Ohio")


def test_split_run_equals_one_run_bit_for_bit():
    """Ten calls of train(epochs=1, total_epochs=10) are one train(epochs=10)."""
    train = frugal.read_file(os.path.join(BIBTEX, "train.txt"))
    one = frugal.Model.auto(train.num_features, train.num_labels, hidden=64)
    split = frugal.Model.auto(train.num_features, train.num_labels, hidden=64)
    assert one.weights_hash() == split.weights_hash()
    whole = one.train(train, epochs=10, batch_size=64, threads=2)
    parts = []
    for _ in range(10):
        parts += split.train(train, epochs=1, total_epochs=10, batch_size=64, threads=2)
    assert [e["epoch"] for e in parts] == list(range(1, 11))
    assert [e["lr"] for e in parts] == [e["lr"] for e in whole]
    assert [e["loss"] for e in parts] == [e["loss"] for e in whole]
    assert split.weights_hash() == one.weights_hash()
    # Without total_epochs each call decays to its own end: a different run.
    naive = frugal.Model.auto(train.num_features, train.num_labels, hidden=64)
    for _ in range(2):
        naive.train(train, epochs=1, batch_size=64, threads=2)
    assert naive.train(train, epochs=1, batch_size=64, threads=2)[0]["lr"] < 1e-4


def test_train_setting_errors_name_the_keyword():
    model = frugal.Model(4, [frugal.Layer(2, "softmax")])
    X = np.eye(4, dtype=np.float32)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="batch_size: expected a positive integer"):
        model.train(X, y, batch_size=0)
    with pytest.raises(ValueError, match="schedule"):
        model.train(X, y, schedule="cosine")
    assert model.epochs_done == 0


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """A run saved with its optimizer state after 3 of 6 epochs and resumed
    from the file ends with the uninterrupted run's weights (dense model)."""
    train = frugal.read_file(os.path.join(BIBTEX, "train.txt"))
    whole = frugal.Model.auto(train.num_features, train.num_labels, hidden=32)
    whole.train(train, epochs=6, batch_size=128, threads=2)
    part = frugal.Model.auto(train.num_features, train.num_labels, hidden=32)
    seen = []
    part.train(train, epochs=3, total_epochs=6, batch_size=128, threads=2,
               on_epoch=lambda e: seen.append(e["epoch"]))
    assert seen == [1, 2, 3]
    path = str(tmp_path / "half.model")
    part.save(path, optimizer_state=True)
    resumed = frugal.Model.load(path)
    assert resumed.epochs_done == 3
    resumed.train(train, epochs=3, total_epochs=6, batch_size=128, threads=2)
    assert resumed.weights_hash() == whole.weights_hash()


def on_two_ranks(tmp_path, fn):
    """fn(comm) on ranks 0 and 1 of a communicator, one thread each (the
    C++ calls release the GIL); returns their results."""
    results, errors = [None, None], []

    def rank(r):
        try:
            comm = frugal.connect(rank=r, size=2, rendezvous=f"file://{tmp_path}",
                                  run_id="py", timeout=60)
            results[r] = fn(comm)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=rank, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_sharded_output_trains_saves_and_loads(tmp_path):
    """shard_output=True: each rank keeps its half of the labels; saved
    with comm, the manifest loads as each rank's shard (comm) or as the
    whole model, which evaluates as the ranks' merged top 5 do."""
    X, y = separable(n=400, features=40, classes=5)
    path = str(tmp_path / "m.bin")
    rdv = tmp_path / "rdv"
    rdv.mkdir()

    def train(comm):
        model = frugal.Model(40, [frugal.Layer(16), frugal.Layer(5, "softmax")])
        Xs, ys = X[comm.rank::2], y[comm.rank::2]
        model.train(Xs, ys, epochs=10, batch_size=16, lr=0.01, threads=1, comm=comm,
                    shard_output=True)
        with pytest.raises(ValueError, match="every rank"):
            model.save(path)
        with pytest.raises(ValueError, match="holds only some labels"):
            model.predict(Xs[:1])
        model.save(path, comm=comm)
        p1 = model.evaluate(X, y, exact=True, comm=comm)["p@1"]
        again = frugal.Model.load(path, comm=comm)
        return model.output_shard, again.output_shard, model.weights_hash(), \
            again.weights_hash(), again.step == model.step > 0, p1

    results = on_two_ranks(rdv, train)
    assert [r[0] for r in results] == [(0, 3, 5), (3, 2, 5)]
    assert all(r[0] == r[1] and r[2] == r[3] and r[4] for r in results)
    whole = frugal.Model.load(path)
    assert whole.output_shard is None and whole.output_dim == 5
    assert abs(whole.evaluate(X, y, exact=True)["p@1"] - results[0][5]) <= 1e-9
    assert results[0][5] > 0.9
    step = whole.step
    assert sorted(os.listdir(tmp_path)) == [f"m.bin.shard-0-of-2.step-{step}",
                                            f"m.bin.shard-1-of-2.step-{step}", "m.bin.shards",
                                            "rdv"]
    with pytest.raises(ValueError, match="expected True or False"):
        whole.train(X, y, shard_output="yes")


def test_shard_input_equals_the_replicated_rows_exchange(tmp_path):
    """shard_input=True (input-layer rows updated by their owner rank)
    trains the weights the replicated sparse-rows exchange does, bit for
    bit; both replicas stay identical."""
    X, y = separable(n=400, features=40, classes=5)

    def train(shard_input, rdv):
        rdv.mkdir()

        def rank(comm):
            model = frugal.Model(40, [frugal.Layer(16), frugal.Layer(5, "softmax")])
            model.train(X[comm.rank::2], y[comm.rank::2], epochs=2, batch_size=16, threads=1,
                        comm=comm, exchange="sparse", shard_input=shard_input)
            return model.weights_hash()
        return on_two_ranks(rdv, rank)

    owned = train(True, tmp_path / "owned")
    assert owned[0] == owned[1]
    assert owned == train(False, tmp_path / "replicated")
