"""scikit-learn estimators over frugal's classifiers.

``pip install 'frugal[sklearn]'`` adds scikit-learn (and pandas is used when
given DataFrames). Both estimators follow scikit-learn's conventions (``fit``,
``predict``, ``predict_proba``, ``score``, ``classes_``, ``get_params`` /
``set_params``, pickling with the model file inside) and pass its
``parametrize_with_checks`` (python/tests/test_sklearn.py lists the skipped
checks and why). Their defaults are the automatic settings of the CLI
(``frugal text train`` and ``frugal train``).

    from frugal.sklearn import TextTabularClassifier, ExtremeClassifier
    clf = TextTabularClassifier().fit(df[["title", "brand", "price"]], df["category"])
    clf.predict(df_new)                 # column types inferred, or data_types=
    clf.explain(df_new.iloc[[0]])       # the words and values behind a prediction
    xmc = ExtremeClassifier().fit(X_csr, label_lists)
    labels, scores = xmc.predict_topk(X_csr, k=5)
"""

from __future__ import annotations

import csv
import os
import tempfile
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import Model, TextClassifier, _csr_arrays, _frugal, dataset

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover: older scikit-learn
    def _validate_data(est, X="no_validation", y="no_validation", **kw):
        return est._validate_data(X, y, **kw)

__all__ = ["TextTabularClassifier", "ExtremeClassifier", "infer_data_types"]

_TYPES = ("text", "categorical", "numeric", "ignore")


def _seed(random_state) -> int:
    if random_state is None:
        return 1
    if isinstance(random_state, Integral):
        return int(random_state) & 0xFFFFFFFF
    raise ValueError("random_state must be an int or None (frugal is deterministic)")


def _model_bytes(save) -> bytes:
    """The bytes of the model file that ``save(path)`` writes."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.bin")
        save(path)
        with open(path, "rb") as f:
            return f.read()


def _from_bytes(data: bytes, load):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.bin")
        with open(path, "wb") as f:
            f.write(data)
        return load(path)


def _is_dataframe(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2


def _is_text_list(X) -> bool:
    """A list (or 1-D array) of str: one text column."""
    if isinstance(X, str) or sp.issparse(X) or _is_dataframe(X):
        return False
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and all(isinstance(v, str) for v in X)
    dtype = getattr(X, "dtype", None)  # a 1-D array or a pandas Series
    return dtype is not None and getattr(X, "ndim", 0) == 1 and dtype.kind in "OUS" and \
        len(X) > 0 and all(isinstance(v, str) for v in X)


def _field(v) -> str:
    """One value as a CSV field: '' for None/NaN/pandas' NA and NaT; numbers
    exactly."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (Integral, np.integer)):
        return str(int(v))
    if isinstance(v, (Real, np.floating)):
        f = float(v)
        return "" if f != f else repr(f)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _column_strings(values) -> list:
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return [str(int(v)) for v in arr]
    if arr.dtype.kind == "f":
        return ["" if v != v else repr(float(v)) for v in arr]
    return [_field(v) for v in arr.tolist()]


def infer_data_types(columns: dict) -> dict:
    """The type of each column, as TextTabularClassifier infers it.

    Parameters
    ----------
    columns : dict of str to list of str
        Each column's values as CSV fields ('' for missing).

    Returns
    -------
    dict of str to str
        "numeric" when every non-empty value parses as a number, "text" when
        the values average at least two words or repeat little (more than
        half of them distinct, above 20 rows), else "categorical".
    """
    out = {}
    for name, vals in columns.items():
        present = [v for v in vals if v != ""]
        numeric = True
        for v in present:
            try:
                float(v)
            except ValueError:
                numeric = False
                break
        if numeric:
            out[name] = "numeric"
            continue
        words = sum(len(v.split()) for v in present) / max(1, len(present))
        distinct = len(set(present)) / max(1, len(present))
        out[name] = ("text" if words >= 2 or (len(present) > 20 and distinct > 0.5)
                     else "categorical")
    return out


class _PickledModelFile:
    """Pickles the fitted model (attribute ``_model_attr``, with ``save``)
    as its model file's bytes; ``_load_model(path)`` reads it back."""

    _model_attr = ""

    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ is __dict__ itself
        model = state.pop(self._model_attr, None)
        if model is not None:
            state["_model_file_"] = _model_bytes(model.save)
        return state

    def __setstate__(self, state):
        data = state.pop("_model_file_", None)
        super().__setstate__(state)
        if data is not None:
            setattr(self, self._model_attr, _from_bytes(data, self._load_model))


class TextTabularClassifier(_PickledModelFile, ClassifierMixin, BaseEstimator):
    """A classifier of tables with text, categorical and numeric columns.

    The estimator form of ``frugal text train`` (tasks/classifier.h): text
    columns become hashed word n-grams, categorical columns hashed values,
    numeric columns quantile buckets and their scaled value; one ReLU hidden
    layer (or none) and a softmax output, with width, epochs, batch and
    learning rate chosen from the data unless given.

    Parameters
    ----------
    data_types : dict of str to str, optional
        Column name to "text", "categorical", "numeric" or "ignore",
        overriding the inferred types (as BOLT UDT's ``data_types``); columns
        not named keep their inferred type (``infer_data_types``).
    hidden : int, default=0
        Hidden width (0: automatic).
    linear : bool, default=False
        No hidden layer (multinomial logistic regression).
    members : int, default=0
        Ensemble size (0: automatic, 1).
    epochs, batch_size : int, default=0
        0: automatic.
    lr : float, default=0.0
        Adam's peak learning rate (0: automatic).
    num_features : int, default=0
        The hashed feature space (0: automatic, 2^18 doubled up to 2^20 while
        the training rows have more distinct features).
    word_ngrams : int, default=0
        Word n-grams up to this length (0: automatic, 2 or 1 on held-out
        rows).
    search : bool, default=True
        Choose the batch size, learning rate, hidden layer or none and, for text, word
        unigrams alone or with bigrams and character 3-grams on a held-out
        tenth of the training rows (``report_["candidates"]``) instead of
        the rules alone.
    budget_seconds : float, default=0.0
        Wall seconds for that search: no candidate starts that would end
        past it (0: automatic, max(60, 10 x the first candidate's)).
    threads : int, default=0
        Worker threads (0: all cores).
    random_state : int or None, default=1
        Seed of the initialization and sample order (None: 1).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
    n_features_in_ : int
        Columns seen in ``fit`` (1 for a list of strings).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame.
    data_types_ : dict of str to str
        The type used for each column.
    report_ : dict
        The settings chosen (hidden, epochs, batch, lr) and training times.

    Examples
    --------
    >>> clf = TextTabularClassifier().fit(["a great film", "dull and long"] * 50,
    ...                                   ["pos", "neg"] * 50)
    >>> clf.predict(["great"])
    array(['pos'], dtype='<U3')
    """

    _model_attr = "_clf_"

    def __init__(self, data_types=None, hidden=0, linear=False, members=0, epochs=0,
                 batch_size=0, lr=0.0, num_features=0, word_ngrams=0,
                 search=True, budget_seconds=0.0, threads=0, random_state=1):
        self.data_types = data_types
        self.hidden = hidden
        self.linear = linear
        self.members = members
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.num_features = num_features
        self.word_ngrams = word_ngrams
        self.search = search
        self.budget_seconds = budget_seconds
        self.threads = threads
        self.random_state = random_state

    # -- input ---------------------------------------------------------------

    def _columns(self, X, reset: bool):
        """(names, list of columns of CSV fields) of X; checks its shape."""
        if _is_text_list(X):
            if reset:
                self._text_input_ = True
                self.n_features_in_ = 1
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif not getattr(self, "_text_input_", False) and self.n_features_in_ != 1:
                raise ValueError(f"X has 1 features, but {type(self).__name__} is "
                                 f"expecting {self.n_features_in_} features as input")
            return ["text"], [[_field(v) for v in X]]
        if _is_dataframe(X):
            _validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) (shape=(0, "
                                 f"{X.shape[1]})) while a minimum of 1 is required.")
            if X.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape=({X.shape[0]}, 0))"
                                 " while a minimum of 1 is required.")
            names = [str(c) for c in X.columns]
            cols = [_column_strings(X.iloc[:, i].to_numpy()) for i in range(X.shape[1])]
        else:
            kind = getattr(np.asarray(X) if not sp.issparse(X) else X, "dtype", None)
            if kind is not None and kind.kind in "OUS":
                arr = _validate_data(self, X, reset=reset, dtype=None,
                                     ensure_all_finite=False)
            else:
                arr = _validate_data(self, X, reset=reset, dtype=np.float64)
            names = [str(i) for i in range(arr.shape[1])]
            cols = [_column_strings(arr[:, i]) for i in range(arr.shape[1])]
        if reset:
            self._text_input_ = False
        elif self._text_input_:
            raise ValueError("fitted on a list of strings: predict takes one too")
        return names, cols

    def _records(self, X) -> list:
        """The records of X as the model's fields (the target last, empty)."""
        check_is_fitted(self, "classes_")
        if isinstance(X, list) and X and all(isinstance(v, str) for v in X) and \
                self._text_input_:
            return [[v, ""] for v in X]  # the fast path of one text column
        _, cols = self._columns(X, reset=False)
        keep = [i for i, t in enumerate(self._types_) if t != "ignore"]
        rows = list(zip(*(cols[i] for i in keep)))
        return [list(r) + [""] for r in rows]

    # -- fit and predict -------------------------------------------------------

    def fit(self, X, y):
        """Trains on X (a DataFrame, a 2-D array or a list of strings) and y.

        Parameters
        ----------
        X : pandas.DataFrame, array-like of shape (n_samples, n_columns), or list of str
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        names, cols = self._columns(X, reset=True)
        y = np.asarray(y) if not isinstance(y, np.ndarray) else y
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected.",
                          DataConversionWarning, stacklevel=2)
        y = column_or_1d(y, warn=False)
        check_classification_targets(y)
        if len(y) != len(cols[0]):
            raise ValueError(f"X has {len(cols[0])} rows, y {len(y)}")
        self.classes_, y_ids = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"got 1 class ({self.classes_[0]!r})")
        types = infer_data_types(dict(zip(names, cols)))
        for name, t in (self.data_types or {}).items():
            if str(name) not in types:
                raise ValueError(f"data_types names column {name!r}, not in X "
                                 f"(columns: {', '.join(names)})")
            if t not in _TYPES:
                raise ValueError(f"data_types[{name!r}] must be one of {_TYPES}, got {t!r}")
            types[str(name)] = t
        self.data_types_ = types
        self._types_ = [types[n] for n in names]
        keep = [i for i, t in enumerate(self._types_) if t != "ignore"]
        if not keep:
            raise ValueError("every column is ignored")
        settings = {"hidden": self.hidden, "linear": self.linear, "members": self.members,
                    "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                    "num_features": self.num_features, "word_ngrams": self.word_ngrams,
                    "search": self.search, "budget_seconds": self.budget_seconds,
                    "threads": self.threads,
                    "seed": _seed(self.random_state)}
        spec = {f"c{j}": self._types_[i] for j, i in enumerate(keep)}
        spec["y"] = "target"
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "train.csv")
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(list(spec))
                clean = [[v.replace("\n", " ").replace("\r", " ") for v in cols[i]]
                         for i in keep]
                for r, label in zip(zip(*clean), y_ids):
                    w.writerow(list(r) + [str(int(label))])
            self._clf_ = TextClassifier.train(path, spec, **settings)
        self.report_ = self._clf_.report
        if [int(n) for n in self._clf_.labels] != list(range(len(self.classes_))):
            raise RuntimeError("label order mismatch")  # unreachable: ids sort numerically
        return self

    def predict(self, X):
        """The most probable class of each row.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        records = self._records(X)  # checks that the estimator is fitted
        ids, _ = self._clf_._c.predict_many(records, False)
        return self.classes_[ids]

    def predict_proba(self, X):
        """Every class's probability (columns in the order of ``classes_``).

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float32
        """
        records = self._records(X)
        return self._clf_._c.predict_many(records, True)

    def explain(self, X, top: int = 10) -> list:
        """Why each row got its class, by occlusion (tasks/explain.h).

        Each input unit (a distinct word of a text column, the value of a
        categorical or numeric column) is removed in turn; its weight is the
        drop of the predicted class's probability.

        Returns
        -------
        list of dict
            Per row: ``label`` (the class), ``probability`` and ``features``,
            up to ``top`` dicts (``column`` name, ``type``, ``unit``,
            ``weight``), the largest weight first.
        """
        records = self._records(X)
        keep = [i for i, t in enumerate(self._types_) if t != "ignore"]
        names = (["text"] if self._text_input_ else
                 [str(c) for c in getattr(self, "feature_names_in_",
                                          range(self.n_features_in_))])
        out = []
        for r in records:
            label, p, feats = self._clf_._c.explain(r)
            out.append({"label": self.classes_[int(label)], "probability": p,
                        "features": [{"column": names[keep[c]], "type": t, "unit": u,
                                      "weight": w} for c, t, u, w in feats[:top]]})
        return out

    def _load_model(self, path):
        clf = TextClassifier.load(path)
        clf.report = getattr(self, "report_", {})
        return clf

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["2darray", "string"]}


class ExtremeClassifier(_PickledModelFile, ClassifierMixin, BaseEstimator):
    """Extreme (many-label) and multi-label classification on sparse features.

    The estimator form of ``frugal train``: settings (hidden width, loss,
    learning rate, batch, epochs) chosen on a held-out tenth of the rows
    unless given (tasks/auto_xmc.h); above 4,096 labels the output layer is
    LSH-sampled.

    Parameters
    ----------
    hidden, batch_size, epochs : int, default=0
        0: automatic.
    loss : {None, "softmax", "sigmoid"}, default=None
        None: automatic (both are tried on multi-label data).
    lr : float, default=0.0
        0: automatic (1e-3 and 3e-3 race).
    sparsity : float, default=0.0
        Output sparsity (0: automatic).
    budget_seconds : float, default=0.0
        Time for the search (0: the CLI's rule, 15 s or more).
    threshold : float, default=0.5
        Multi-label ``predict``: labels scoring at least this (the best
        label always).
    exact : bool, default=True
        Score every label in prediction (False: the LSH candidates only).
    threads : int, default=0
    random_state : int or None, default=1

    Attributes
    ----------
    classes_ : ndarray
        The labels (for an indicator matrix y: 0 .. n_labels - 1).
    multilabel_ : bool
        y was label lists or an indicator matrix.
    report_ : dict
        The settings chosen.
    """

    _model_attr = "_model_"

    def __init__(self, hidden=0, loss=None, lr=0.0, batch_size=0, epochs=0, sparsity=0.0,
                 budget_seconds=0.0, threshold=0.5, exact=True, threads=0, random_state=1):
        self.hidden = hidden
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.sparsity = sparsity
        self.budget_seconds = budget_seconds
        self.threshold = threshold
        self.exact = exact
        self.threads = threads
        self.random_state = random_state

    def _label_ids(self, y, reset: bool, classes=None):
        """Label id lists of y (1-D classes, label lists or an indicator)."""
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if sp.issparse(y) or (isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] > 1):
            Y = sp.csr_matrix(y)
            if reset:
                self.classes_ = np.arange(Y.shape[1])
                self.multilabel_, self._y_form_ = True, "sparse" if sp.issparse(y) else "dense"
            elif Y.shape[1] != len(self.classes_):
                raise ValueError(f"y has {Y.shape[1]} labels, the model {len(self.classes_)}")
            Y.eliminate_zeros()
            return [Y.indices[Y.indptr[i]:Y.indptr[i + 1]].tolist() for i in range(Y.shape[0])]
        if isinstance(y, (list, tuple)) and y and all(
                isinstance(r, (list, tuple, set, np.ndarray)) for r in y):
            if reset:
                self.classes_ = np.asarray(sorted(
                    {v for r in y for v in r} | set(classes if classes is not None else [])))
                self.multilabel_, self._y_form_ = True, "lists"
            index = {c: i for i, c in enumerate(self.classes_.tolist())}
            try:
                return [[index[v] for v in r] for r in y]
            except KeyError as e:
                raise ValueError(f"label {e.args[0]!r} not seen in fit") from None
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected.",
                          DataConversionWarning, stacklevel=3)
        y = column_or_1d(y, warn=False)
        check_classification_targets(y)
        if reset:
            self.classes_ = np.unique(y if classes is None else np.concatenate(
                [np.asarray(classes), y]))
            self.multilabel_, self._y_form_ = False, "classes"
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 "
                                 f"classes; got 1 class ({self.classes_[0]!r})")
        ids = np.searchsorted(self.classes_, y)
        ids = np.minimum(ids, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[ids], y):
            raise ValueError("y has labels not seen in fit")
        return ids.astype(np.int64)

    def _dataset(self, X, y, reset: bool, classes=None):
        X = _validate_data(self, X, reset=reset, accept_sparse="csr", dtype=np.float32)
        ids = self._label_ids(y, reset, classes)
        if len(ids) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows, y {len(ids)}")
        return dataset(X, ids, X.shape[1], len(self.classes_))

    def _settings(self) -> dict:
        s = {"hidden": self.hidden, "loss": self.loss or "", "lr": self.lr,
             "batch_size": self.batch_size, "epochs": self.epochs,
             "sparsity": self.sparsity, "budget_seconds": self.budget_seconds,
             "threads": self.threads, "seed": _seed(self.random_state)}
        return {k: repr(float(v)) if isinstance(v, float) else str(v) for k, v in s.items()}

    def fit(self, X, y):
        """Trains with the automatic settings (those not given).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), list of label lists, or an
            indicator matrix of shape (n_samples, n_labels)

        Returns
        -------
        self
        """
        ds = self._dataset(X, y, reset=True)
        impl, self.report_ = _frugal._Model.train_auto(ds, None, self._settings())
        self._model_ = Model(0, [], _impl=impl)
        return self

    def partial_fit(self, X, y, classes=None):
        """One more epoch on (X, y); the first call fits (one epoch).

        Later calls train with the settings the first chose, at a constant
        learning rate. ``classes`` (first call, 1-D y or label lists): every
        label that may appear.

        Returns
        -------
        self
        """
        if not hasattr(self, "_model_"):
            ds = self._dataset(X, y, reset=True, classes=classes)
            settings = dict(self._settings(), epochs="1")
            impl, self.report_ = _frugal._Model.train_auto(ds, None, settings)
            self._model_ = Model(0, [], _impl=impl)
            return self
        ds = self._dataset(X, y, reset=False)
        self._model_.train(ds, epochs=1, batch_size=int(self.report_["batch"]),
                           lr=float(self.report_["lr"]), schedule="constant",
                           threads=int(self.threads), seed=_seed(self.random_state))
        return self

    def _scores(self, X, k: int):
        check_is_fitted(self, "classes_")
        X = _validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float32)
        indptr, indices, values, _ = _csr_arrays(X)
        return self._model_._m.predict(indptr, indices, values, int(k), bool(self.exact),
                                       int(self.threads))

    def predict_topk(self, X, k: int = 5):
        """The k best labels of each row and their scores, best first.

        Returns
        -------
        labels : ndarray of shape (n_samples, k)
            Labels from ``classes_`` (-1 where fewer than k were scored, for
            integer labels; None for others).
        scores : ndarray of shape (n_samples, k), float32
            The output layer's scores (logits), best first.
        """
        check_is_fitted(self, "classes_")
        ids, scores = self._scores(X, min(int(k), len(self.classes_)))
        if ids.shape[1] < k:
            pad = k - ids.shape[1]
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)))
        found = self.classes_[np.maximum(ids, 0)]
        if self.classes_.dtype.kind in "iu":
            return np.where(ids >= 0, found, -1), scores
        return np.where(ids >= 0, found.astype(object), None), scores

    def _probabilities(self, ids, scores):
        """Dense label probabilities from the k best labels' output scores
        (logits): softmax, or each label's sigmoid for a sigmoid output."""
        L = len(self.classes_)
        logits = np.full((ids.shape[0], L), -np.inf, dtype=np.float64)
        rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
        ok = ids.ravel() >= 0
        logits[rows[ok], ids.ravel()[ok]] = scores.ravel()[ok]
        if self._model_.layers[-1]["activation"] == "sigmoid":
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        top = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - np.where(np.isfinite(top), top, 0))
        total = e.sum(axis=1, keepdims=True)
        # A row with no scored label (no candidates) is uniform, not 0/0.
        return np.where(total > 0, e / np.where(total > 0, total, 1.0),
                        1.0 / L).astype(np.float32)

    def predict_proba(self, X):
        """Every label's probability: the softmax of the output scores
        (multi-class, or multi-label with the softmax loss: a distribution
        over labels), or each label's sigmoid (the sigmoid loss). Dense: for
        many labels prefer ``predict_topk``.

        Returns
        -------
        ndarray of shape (n_samples, n_labels), float32
        """
        check_is_fitted(self, "classes_")
        ids, scores = self._scores(X, len(self.classes_))
        return self._probabilities(ids, scores)

    def predict(self, X):
        """Multi-class: the best class per row. Multi-label: the labels whose
        probability (``predict_proba``) is at least ``threshold``, and the
        best label always, in the form of the y given to fit (label lists,
        or a dense or sparse indicator).
        """
        check_is_fitted(self, "classes_")
        if not self.multilabel_:
            ids, _ = self._scores(X, 1)
            return self.classes_[ids[:, 0]]
        ids, scores = self._scores(X, len(self.classes_))
        keep = self._probabilities(ids, scores) >= self.threshold
        best = ids[:, 0]
        keep[np.arange(len(best))[best >= 0], best[best >= 0]] = True
        if self._y_form_ == "lists":
            return [self.classes_[np.flatnonzero(r)].tolist() for r in keep]
        Y = sp.csr_matrix(keep.astype(np.int64))
        return Y if self._y_form_ == "sparse" else Y.toarray()

    def score(self, X, y, sample_weight=None):
        """Multi-class: accuracy. Multi-label: precision@1 (the best label
        among the row's labels)."""
        check_is_fitted(self, "classes_")
        if not self.multilabel_:
            return super().score(X, y, sample_weight=sample_weight)
        truth = self._label_ids(y, reset=False)
        ids, _ = self._scores(X, 1)
        hits = np.array([ids[i, 0] in set(t) for i, t in enumerate(truth)], dtype=float)
        return float(np.average(hits, weights=sample_weight))

    def _load_model(self, path):
        return Model.load(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True  # an indicator matrix y
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["2darray", "sparse"]}
