"""frugal: sparse (LSH-sampled) neural networks trained and served on CPUs.

A model is a sparse input and a list of fully connected layers; the last is
the output (softmax or sigmoid). Layers with sparsity < 1 compute, per
sample, only the neurons their LSH index picks.

    import frugal
    train = frugal.read_file("train.txt")              # XC format
    model = frugal.Model.auto(train.num_features, train.num_labels, hidden=512)
    model.train(train, epochs=5, batch_size=64)
    print(model.evaluate(frugal.read_file("test.txt")))
    labels, scores = model.predict(X_csr, k=5)

Training data is a file path, a Dataset, or features X (a scipy.sparse
matrix or a dense 2-D numpy array) with labels y (a 1-D array of class ids,
a list of lists of label ids, or a sparse indicator matrix). Predictions read
a float32 CSR matrix with int32/uint32 indices without copying it.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from . import _frugal
from ._frugal import (  # noqa: F401  (re-exported)
    CommError,
    Communicator,
    DataError,
    Dataset,
    FieldError,
    ModelFileError,
    connect,
)

__all__ = [
    "CommError",
    "Communicator",
    "DataError",
    "Dataset",
    "FieldError",
    "Layer",
    "Model",
    "ModelFileError",
    "TextClassifier",
    "connect",
    "dataset",
    "read_file",
]


def Layer(width: int, activation: str = "relu", sparsity: float = 1.0) -> dict:
    """A fully connected layer: `width` neurons, an activation ("relu",
    "linear"; the output "softmax" or "sigmoid"), and the fraction of
    neurons computed per sample (1 = dense)."""
    return {"width": int(width), "activation": activation, "sparsity": float(sparsity)}


def _csr(X) -> sp.csr_matrix:
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError("features must be a 2-D array or a scipy.sparse matrix")
        X = sp.csr_matrix(X)
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _csr_arrays(X):
    """indptr (uint64), indices (uint32) and values (float32) of X; views
    where the dtypes already match (int32 indices are reinterpreted after a
    sign check)."""
    X = _csr(X)
    indices = X.indices
    if indices.dtype in (np.int32, np.int64) and indices.size and indices.min() < 0:
        raise ValueError("negative feature index")
    if indices.dtype == np.int32:
        indices = indices.view(np.uint32)
    indices = np.ascontiguousarray(indices, dtype=np.uint32)
    values = np.ascontiguousarray(X.data, dtype=np.float32)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.uint64)
    return indptr, indices, values, X.shape


def _label_arrays(y, rows: int):
    """label_ptr (uint64), label_ids (uint32) and the label count of y."""
    if sp.issparse(y):
        Y = y.tocsr()
        Y.eliminate_zeros()
        return (np.ascontiguousarray(Y.indptr, dtype=np.uint64),
                np.ascontiguousarray(Y.indices, dtype=np.uint32), Y.shape[1])
    arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if isinstance(arr, np.ndarray) and arr.ndim == 1 and arr.dtype != object:
        ids = np.asarray(arr)
        if ids.size and (ids.min() < 0 or not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError("class ids must be non-negative integers")
        ptr = np.arange(len(ids) + 1, dtype=np.uint64)
        return ptr, ids.astype(np.uint32), int(ids.max()) + 1 if ids.size else 0
    lists = [list(map(int, row)) for row in y]
    ptr = np.zeros(len(lists) + 1, dtype=np.uint64)
    np.cumsum([len(r) for r in lists], out=ptr[1:])
    flat = np.fromiter((i for r in lists for i in r), dtype=np.int64, count=int(ptr[-1]))
    if flat.size and flat.min() < 0:
        raise ValueError("label ids must be non-negative")
    return ptr, flat.astype(np.uint32), int(flat.max()) + 1 if flat.size else 0


def dataset(X, y, num_features: int | None = None, num_labels: int | None = None) -> Dataset:
    """A Dataset (a copy) from features X and labels y (see the module doc)."""
    indptr, indices, values, shape = _csr_arrays(X)
    label_ptr, label_ids, labels = _label_arrays(y, shape[0])
    return _frugal.make_dataset(indptr, indices, values, label_ptr, label_ids,
                                num_features or shape[1], num_labels or labels)


def read_file(path, format: str = "xc", num_features: int = 0,
              num_labels: int = 0) -> Dataset:
    """Reads an Extreme Classification Repository file ("N D L" header, then
    "l1,l2 f:v f:v" rows) or, with format="libsvm", a headerless one
    (dimensions inferred when 0). Malformed input raises DataError naming
    the file, line and what was expected."""
    return _frugal.read_file(os.fspath(path), format, int(num_features), int(num_labels))


def _setting_text(value) -> str:
    """A setting's value as train/settings.h parses it (repr keeps floats exact)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a name, got {value!r}")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _flag_text(value) -> str:
    """A true/false setting as train/settings.h parses it."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"expected True or False, got {value!r}")
    return "true" if value else "false"


def _classifier_setting_text(value) -> str:
    """A text classifier setting as tasks/classifier_settings.h parses it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):  # crosses: [("a", "b"), ...] or ["a*b"]
        return ",".join(v if isinstance(v, str) else "*".join(v) for v in value)
    return _setting_text(value)


def _as_dataset(data, y, model: "Model") -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_file(data)
    return dataset(data, y, model.input_dim, model.output_dim)


class Model:
    """A network; build with Model(input_dim, layers), Model.auto(...) or
    Model.load(path)."""

    def __init__(self, input_dim: int, layers: Sequence[dict], seed: int = 1,
                 metadata: dict | None = None, *, _impl=None):
        self._m = _impl if _impl is not None else _frugal._Model.create(
            int(input_dim), list(layers), int(seed), dict(metadata or {}))

    @classmethod
    def auto(cls, input_dim: int, num_labels: int, hidden: int = 128,
             sparsity: float = 0.0, seed: int = 1) -> "Model":
        """Defaults from the data's shape: one ReLU hidden layer (none when
        hidden is 0) and a softmax output, LSH-sampled above 4,096 labels
        unless `sparsity` says otherwise (1 = dense)."""
        return cls(0, [], _impl=_frugal._Model.auto(int(input_dim), int(num_labels),
                                                    int(hidden), float(sparsity), int(seed)))

    @classmethod
    def load(cls, path: str, comm: Communicator | None = None) -> "Model":
        """A model file, or a label-sharded model saved under `path` (its
        manifest ``path + ".shards"``): with ``comm`` (the ranks that train
        it on, as many as saved it) this rank's shard, else the shards
        assembled into the whole model for evaluation and prediction."""
        return cls(0, [], _impl=_frugal._Model.load(os.fspath(path), comm))

    def save(self, path: str, optimizer_state: bool = True,
             comm: Communicator | None = None) -> None:
        """Writes atomically (temporary file, fsync, rename). A label-sharded
        model (``output_shard`` set) is saved by every rank with ``comm``: one
        file per shard, then the manifest ``path + ".shards"``, written last."""
        self._m.save(os.fspath(path), bool(optimizer_state), comm)

    def train(self, data, y=None, *, epochs: int = 1, total_epochs: int | None = None,
              batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0,
              schedule: str = "linear", threads: int = 0, seed: int = 1,
              comm: Communicator | None = None, exchange: str = "auto",
              exchange_bandwidth: float = 0.0, shard_output: bool = False,
              shard_input: bool = False, on_epoch=None) -> list:
        """Trains `epochs` more epochs, continuing the model's run.

        Parameters
        ----------
        epochs : int
            Epochs in this call. The run's position (epochs done) is kept in
            the model, so calling ``train(data, epochs=1, total_epochs=10)``
            ten times trains exactly as one ``train(data, epochs=10)``: the
            same sample orders (each epoch its own) and the same weights, bit
            for bit.
        total_epochs : int, optional
            The run's whole length in epochs: the horizon of the ``linear``
            schedule. When omitted, the horizon is the end of this call, so
            calls in a loop each decay the rate to 2% of ``lr`` by their end;
            pass it whenever a run is split over several calls.
        schedule : {"linear", "constant"}
        seed : int
            Orders the rows of every epoch.
        comm : Communicator, optional
            Sums gradients over its ranks (each rank passes its own shard);
            ``exchange`` (auto, dense, sparse, factors) and
            ``exchange_bandwidth`` (Gbit/s; 0: auto picks the fewest bytes) as
            ``frugal train --exchange`` and ``--exchange-bandwidth``.
        shard_output : bool
            With ``comm``: each rank holds 1/N of the output layer's labels
            (``frugal train --shard-output``). A whole model becomes this
            rank's shard on the first call (``output_shard``); save, evaluate
            it with ``comm`` on every rank, or load the saved manifest whole
            to predict.
        shard_input : bool
            With ``comm``: the input layer's rows are updated by their owner
            rank (``--shard-input``); the model stays whole.
        on_epoch : callable, optional
            Called with each epoch's dict as the epoch ends (e.g. to report to
            Ray Train or save a checkpoint); an exception it raises stops
            training and propagates.

        Returns
        -------
        list of dict
            One per epoch: epoch, samples, loss, seconds, samples_per_s, lr.
        """
        ds = _as_dataset(data, y, self)
        settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                    "weight_decay": weight_decay, "schedule": schedule,
                    "threads": threads, "exchange": exchange,
                    "exchange_bandwidth": exchange_bandwidth}
        if total_epochs is not None:
            settings["total_epochs"] = total_epochs
        texts = {k: _setting_text(v) for k, v in settings.items()}
        texts["shard_output"] = _flag_text(shard_output)
        texts["shard_input"] = _flag_text(shard_input)
        return self._m.train(ds, texts, int(seed), comm, on_epoch)

    def evaluate(self, data, y=None, *, exact: bool = False, threads: int = 0,
                 comm: Communicator | None = None) -> dict:
        """Precision@1/3/5 and recall@5 of the top-5 predictions. With
        ``comm``, every rank calls it on the same data: each ranks its share
        of the rows, or a label-sharded model's shards merge their top 5."""
        return self._m.evaluate(_as_dataset(data, y, self), bool(exact), int(threads), comm)

    def predict(self, X, k: int = 5, *, exact: bool = False, threads: int = 0):
        """Top-k labels (int64, -1 where fewer exist) and scores (float32),
        each of shape (rows, k)."""
        indptr, indices, values, _ = _csr_arrays(X)
        return self._m.predict(indptr, indices, values, int(k), bool(exact), int(threads))

    input_dim = property(lambda self: self._m.input_dim)
    output_dim = property(lambda self: self._m.output_dim)
    output_shard = property(
        lambda self: self._m.output_shard,
        doc="None, or a label-sharded model's (first label, labels held, total)")
    step = property(lambda self: self._m.step, doc="Adam steps taken")
    metadata = property(lambda self: self._m.metadata)
    epochs_done = property(lambda self: self._m.epochs_done,
                           doc="epochs of the model's run so far (train continues it)")
    layers = property(lambda self: self._m.layers)

    def weights_hash(self) -> int:
        """A 64-bit hash of every weight (equal on identical replicas)."""
        return self._m.weights_hash()

    @property
    def inference_candidates(self) -> int:
        """Output candidates scored per LSH prediction (a serving knob)."""
        return self._m.inference_candidates

    @inference_candidates.setter
    def inference_candidates(self, n: int) -> None:
        self._m.inference_candidates = int(n)

    def __repr__(self) -> str:
        shape = " > ".join(f"{l['width']} {l['activation']}" for l in self.layers)
        return f"frugal.Model({self.input_dim} > {shape})"


class TextClassifier:
    """A classifier trained from a CSV/TSV file: text, categorical and
    numeric columns are featurized (hashed n-grams, value ids, buckets) with
    no feature engineering; width, epochs and rate are chosen from the data.

        clf = frugal.TextClassifier.train("train.csv", {"label": "target", "text": "text"})
        clf.evaluate("test.csv")["accuracy"]
        clf.predict(["", "some new text"])          # fields as in the file
    """

    def __init__(self, impl, report: dict | None = None):
        self._c = impl
        self.report = report or {}

    @classmethod
    def train(cls, path: str, columns, *, header: bool = True, delimiter: str = ",",
              quote: str | None = '"', rest_in_last_column: bool = False,
              num_columns: int = 0, **settings) -> "TextClassifier":
        """Trains a classifier on a CSV/TSV file.

        Parameters
        ----------
        path : str or os.PathLike
            The training file.
        columns : dict or list of (name, type)
            Column name (header name, or 0-based index) to type: "text",
            "categorical", "numeric", "target" (exactly one) or "ignore".
        header, delimiter, rest_in_last_column, num_columns
            The CSV dialect (``delimiter`` one character or "tab"). Without a
            header, ``num_columns`` 0 means the largest column index + 1.
        quote : str or None
            '"' (RFC 4180 quoting) or None/"" (quotes are ordinary characters).
        **settings
            Any other setting of ``frugal text train``, by its Python name
            (tasks/classifier_settings.h, one mapping for the CLI and Python):
            hidden, linear, members, epochs, batch_size, lr, threads, seed,
            num_features, word_ngrams, char_ngrams, numeric_buckets, binning,
            numeric_values, min_count, crosses, label_delimiter,
            skip_bad_rows, search, stream. 0 for hidden, members, epochs,
            batch_size and lr means automatic (the CLI's defaults); 0 for
            num_features and word_ngrams, their defaults.

        Returns
        -------
        TextClassifier
            With ``report``: the settings chosen and the training times.
        """
        items = columns.items() if isinstance(columns, dict) else columns
        cols = [(str(k), str(v)) for k, v in items]
        if quote not in ('"', "", None):
            raise ValueError("quote must be '\"' or None")
        if not header and not num_columns and all(k.isdigit() for k, _ in cols):
            num_columns = max(int(k) for k, _ in cols) + 1
        for key in ("num_features", "word_ngrams"):  # 0: the default, as before
            if settings.get(key) == 0:
                del settings[key]
        given = dict(settings, columns=",".join(f"{k}:{v}" for k, v in cols),
                     header=header, delimiter=delimiter, quotes=bool(quote),
                     rest_in_last_column=rest_in_last_column, num_columns=num_columns)
        impl, report = _frugal._Classifier.train(
            os.fspath(path), {k: _classifier_setting_text(v) for k, v in given.items()})
        return cls(impl, report)

    @classmethod
    def load(cls, path: str) -> "TextClassifier":
        return cls(_frugal._Classifier.load(os.fspath(path)))

    def save(self, path: str) -> None:
        self._c.save(os.fspath(path))

    def evaluate(self, path: str, *, skip_bad_rows: bool = False) -> dict:
        """Accuracy (and roc_auc for a binary target) on a labelled file laid
        out like the training file."""
        return self._c.evaluate(os.fspath(path), bool(skip_bad_rows))

    def _fields(self, record: Sequence[str] | str) -> list:
        if isinstance(record, str):
            if self._c.num_columns != 2:
                raise ValueError("a str record needs a two-column layout")
            fields = ["", ""]
            fields[1 - self._c.target_column] = record
            return fields
        return list(record)

    def predict(self, record: Sequence[str] | str):
        """(label, probability) of one record: its fields laid out like the
        training file (the target field is not read). A str is taken as the
        one non-target field of a two-column file."""
        return self._c.predict(self._fields(record))

    def predict_many(self, records: Iterable[Sequence[str] | str]) -> list:
        """(label, probability) of each record, in one call (the GIL released)."""
        ids, probs = self._c.predict_many([self._fields(r) for r in records], False)
        names = self._c.labels
        return [(names[i], float(p)) for i, p in zip(ids, probs)]

    def predict_proba(self, records: Iterable[Sequence[str] | str]) -> np.ndarray:
        """Every label's probability (float32, rows x labels, columns in the
        order of ``labels``); labels outside a row's 64 best get 0."""
        return self._c.predict_many([self._fields(r) for r in records], True)

    def explain(self, record: Sequence[str] | str, top: int = 10) -> dict:
        """Why one record got its label, by occlusion (tasks/explain.h).

        Each input unit (a distinct word of a text column, the value of a
        categorical or numeric column) is removed in turn; its weight is the
        drop of the predicted label's probability.

        Returns
        -------
        dict
            ``label``, ``probability`` and ``features``: up to ``top`` dicts
            (column index, type, unit, weight), the largest weight first.
        """
        label, p, feats = self._c.explain(self._fields(record))
        return {"label": label, "probability": p,
                "features": [{"column": c, "type": t, "unit": u, "weight": w}
                             for c, t, u, w in feats[:top]]}

    labels = property(lambda self: self._c.labels)
