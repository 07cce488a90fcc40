"""SentEval-style probing of frozen sentence representations on sentence-pair tasks (MRPC, SICK-E).

For a pair with representations ``u`` and ``v`` the features are ``[u, v, |u - v|, u * v]`` (Conneau et
al. 2017, the SentEval pair classifier); a logistic regression (scikit-learn) is trained on the training
pairs, its inverse regularisation ``C`` chosen by stratified k-fold cross-validation on them (or on a
given dev split), then scored on the test pairs: accuracy, macro-F1 and, for two classes, the F1 of
class 1 (MRPC's reported F1). Features are standardised with the training statistics. The encoder is any
function from a list of sentences to an ``(n, d)`` array, so the same probe judges an autoencoder's
encoder, MiniLM, or a bag of word vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, InputError

__all__ = ["DEFAULT_CS", "ProbeResult", "pair_features", "probe_pairs"]

DEFAULT_CS: tuple[float, ...] = tuple(2.0**p for p in range(-4, 5))
"""The grid of inverse regularisation strengths ``C`` searched (SentEval searches powers of 2)."""


@dataclass(frozen=True)
class ProbeResult:
    """Test scores of a probe, with the chosen ``C`` and the cross-validated accuracy of every ``C``."""

    accuracy: float
    macro_f1: float
    f1: float | None
    best_c: float
    cv_accuracy: dict[float, float] = field(default_factory=dict)
    predictions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``[u, v, |u - v|, u * v]`` row by row: ``(n, 4d)`` float32."""
    u, v = np.asarray(u, dtype=np.float32), np.asarray(v, dtype=np.float32)
    if u.shape != v.shape or u.ndim != 2:
        raise InputError(f"u and v must be (n, d) arrays of the same shape, got {u.shape} and {v.shape}")
    return np.hstack([u, v, np.abs(u - v), u * v])


def _encode_pairs(encode: Callable[[list[str]], np.ndarray], pairs) -> np.ndarray:
    u = np.asarray(encode(list(pairs.first)))
    v = np.asarray(encode(list(pairs.second)))
    if u.ndim != 2 or u.shape[0] != len(pairs):
        raise InputError(f"the encoder returned shape {u.shape} for {len(pairs)} sentences", column="encode")
    return pair_features(u, v)


def _fit_path(
    x_fit: np.ndarray, y_fit: np.ndarray, x_eval: np.ndarray, cs: Sequence[float], seed: int
) -> dict[float, np.ndarray]:
    """Predictions on ``x_eval`` of a logistic regression fitted on ``(x_fit, y_fit)`` for every ``C``.

    The features are standardised with the fitting rows' statistics once; the regressions are fitted
    from the strongest regularisation to the weakest, each starting from the previous solution (warm
    start): the same optima as separate fits (to the solver's tolerance) in a fraction of the iterations.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_fit)
    a, b = scaler.transform(x_fit), scaler.transform(x_eval)
    model = LogisticRegression(max_iter=2000, warm_start=True, random_state=seed)
    out: dict[float, np.ndarray] = {}
    for c in sorted(float(c) for c in cs):
        model.set_params(C=c)
        out[c] = model.fit(a, y_fit).predict(b)
    return out


def probe_pairs(
    encode: Callable[[list[str]], np.ndarray],
    train,
    test,
    *,
    dev=None,
    cs: Sequence[float] = DEFAULT_CS,
    folds: int = 5,
    seed: int = 0,
    num_threads: int | None = None,
) -> ProbeResult:
    """Probe ``encode`` on a sentence-pair task (module docstring).

    Args:
        encode: sentences -> ``(n, d)`` representations (frozen: called, never trained).
        train, test: :class:`~textsmooth.io.pairs.SentencePairs`. dev: choose ``C`` on it instead of by
            cross-validation on ``train``.
        cs: the ``C`` grid. folds: cross-validation folds. seed: of the folds and the solver.
        num_threads: BLAS threads of the fits (``None``: the library's default); 1 in a worker process
            that shares the machine (threads that wait for a busy core slow every fit down).

    Raises:
        ConfigError: an empty ``C`` grid or fewer than 2 folds.
    """
    from textsmooth._extras import require

    require("sklearn", extra="probing", feature="probe_pairs")
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    if not cs or any(c <= 0 for c in cs):
        raise ConfigError("cs must be a non-empty list of positive numbers", column="cs")
    check_int("folds", folds, low=2)
    x_train, y_train = _encode_pairs(encode, train), np.asarray(train.labels)
    x_test, y_test = _encode_pairs(encode, test), np.asarray(test.labels)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=num_threads):
        scores: dict[float, float] = {}
        if dev is not None:
            x_dev, y_dev = _encode_pairs(encode, dev), np.asarray(dev.labels)
            for c, predicted in _fit_path(x_train, y_train, x_dev, cs, seed).items():
                scores[c] = float(accuracy_score(y_dev, predicted))
        else:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            correct = dict.fromkeys((float(c) for c in cs), 0)
            for fit_rows, held_rows in splitter.split(x_train, y_train):
                path = _fit_path(x_train[fit_rows], y_train[fit_rows], x_train[held_rows], cs, seed)
                for c, predicted in path.items():
                    correct[c] += int((predicted == y_train[held_rows]).sum())
            scores = {c: n / len(y_train) for c, n in correct.items()}
        best = max(scores, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
        predictions = _fit_path(x_train, y_train, x_test, [best], seed)[best]
    binary = len(np.unique(np.concatenate([y_train, y_test]))) == 2
    return ProbeResult(
        accuracy=float(accuracy_score(y_test, predictions)),
        macro_f1=float(f1_score(y_test, predictions, average="macro")),
        f1=float(f1_score(y_test, predictions, pos_label=1)) if binary else None,
        best_c=best,
        cv_accuracy=scores,
        predictions=np.asarray(predictions, dtype=np.int64),
    )
