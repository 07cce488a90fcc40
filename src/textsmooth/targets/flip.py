"""Label flipping: inject label noise on purpose (for robustness studies and noise experiments).

Each label ``y`` is replaced, independently, by a draw from row ``y`` of a transition matrix ``T``
(``T[i, j]`` = probability that true class ``i`` becomes ``j``):

* ``kind="symmetric"``: ``T = (1 - rate) I + rate / (C - 1) (1 - I)``: a flipped label goes to any
  *other* class with equal probability, so the expected fraction of changed labels is exactly ``rate``;
* ``kind="pair"``: ``T = (1 - rate) I + rate P`` where ``P`` sends class ``i`` to ``(i + 1) mod C``
  (the "pair flipping" of Han et al. 2018, a structured noise);
* ``kind=matrix``: any row-stochastic ``C x C`` matrix, used as ``T`` (``rate`` is then ignored).

See ``label-smoothing-vs-label-flipping-qa.txt``: flipping simulates noisy annotation; label smoothing
regularises whatever the noise. Sampling is vectorised (inverse CDF on each row of ``T``) and seeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.targets.base import check_labels

__all__ = ["FlipKind", "flip_labels", "transition_matrix"]

#: the named transition matrices (the CLI's ``--kind`` takes these values)
FlipKind = Literal["symmetric", "pair"]


def transition_matrix(n_classes: int, rate: float, kind: FlipKind = "symmetric") -> np.ndarray:
    """The ``C x C`` flip matrix of ``kind`` with flip probability ``rate`` (see the module docs)."""
    if not (np.isfinite(rate) and 0 <= rate <= 1):
        raise ConfigError(f"rate must be in [0, 1], got {rate}")
    if n_classes < 2:
        raise ConfigError(f"flipping needs at least two classes, got {n_classes}")
    eye = np.eye(n_classes)
    if kind == "symmetric":
        return (1 - rate) * eye + rate / (n_classes - 1) * (1 - eye)
    if kind == "pair":
        return (1 - rate) * eye + rate * np.roll(eye, 1, axis=1)
    raise ConfigError(f"unknown flip kind {kind!r}", hint="use 'symmetric', 'pair' or a C x C matrix")


def flip_labels(
    labels: Sequence[int] | np.ndarray,
    rate: float = 0.2,
    kind: FlipKind | np.ndarray | Sequence[Sequence[float]] = "symmetric",
    seed: int | None = 0,
    *,
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flip labels at random; returns ``(noisy_labels, flipped_mask)``.

    Args:
        labels: integer class ids ``0..C-1``.
        rate: flip probability per label (ignored when ``kind`` is a matrix).
        kind: ``"symmetric"``, ``"pair"`` or a row-stochastic ``C x C`` transition matrix.
        seed: seed of the random generator (``None`` for fresh entropy).
        n_classes: ``C`` (default: max id + 1, or the matrix size).

    Example:
        >>> noisy, flipped = flip_labels([0, 1, 2, 0, 1, 2] * 100, rate=0.2, seed=0)
        >>> bool(0.1 < flipped.mean() < 0.3)
        True
    """
    if isinstance(kind, str):
        ids, classes = check_labels(labels, n_classes=n_classes)
        matrix = transition_matrix(len(classes), rate, kind)  # type: ignore[arg-type]
    else:
        matrix = np.asarray(kind, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise InputError(f"transition matrix must be square, got shape {matrix.shape}")
        if n_classes is not None and n_classes != matrix.shape[0]:
            raise InputError(
                f"transition matrix is {matrix.shape[0]}x{matrix.shape[0]} but n_classes={n_classes}"
            )
        if not np.all(np.isfinite(matrix)) or matrix.min() < 0:
            raise InputError("transition matrix must be finite and non-negative")
        bad_rows = np.flatnonzero(np.abs(matrix.sum(axis=1) - 1) > 1e-6)
        if bad_rows.size:
            raise InputError(f"transition matrix row {int(bad_rows[0])} does not sum to 1")
        ids, _ = check_labels(labels, n_classes=matrix.shape[0])
    if ids.dtype.kind not in "iu":
        raise InputError("flip_labels needs integer class ids", hint="map names to ids first")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(matrix, axis=1)
    cdf[:, -1] = 1.0  # guard against rounding: every draw lands in some class
    u = rng.random(len(ids))
    noisy = (u[:, None] >= cdf[ids]).sum(axis=1)
    noisy = np.minimum(noisy, matrix.shape[0] - 1).astype(np.int64)
    return noisy, noisy != ids
