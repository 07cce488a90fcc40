"""Label-only smoothing: LS-Classic (uniform) and smoothing towards a class prior.

Both mix the one-hot hard label with a fixed distribution ``u`` (Szegedy et al. 2016, sec. 7):

    d_i = (1 - epsilon) * onehot(y_i) + epsilon * u

* :class:`UniformSmoother` (LS-Classic): ``u = 1/C`` for every class (``convention="all"``, the
  PyTorch/fairseq/Hugging Face convention, so the gold class gets ``1 - epsilon + epsilon/C``), or
  ``u`` uniform over the *other* classes (``convention="others"``: gold gets exactly ``1 - epsilon``).
* :class:`PriorSmoother`: ``u = prior``, the class frequencies of the training labels by default
  (Pereyra et al. 2017 call this unigram smoothing) or any given distribution.

Neither looks at the text; ``transform`` needs the hard labels.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.targets.base import SoftLabelGenerator, check_labels, check_texts, one_hot

__all__ = ["PriorSmoother", "UniformSmoother"]


def _check_epsilon(epsilon: float) -> None:
    if not (np.isfinite(epsilon) and 0 <= epsilon <= 1):
        raise ConfigError(f"epsilon must be in [0, 1], got {epsilon}")


class _MixtureSmoother(SoftLabelGenerator):
    """``(1 - epsilon) * onehot + epsilon * u`` with ``u`` from :meth:`_mixture`."""

    needs_labels = True
    epsilon: float
    dtype: Any

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        n_classes: int | None = None,
        label_names: Sequence[str] | None = None,
    ) -> _MixtureSmoother:
        """Learn the classes (and, for the class-frequency prior, their frequencies)."""
        _check_epsilon(self.epsilon)
        texts = check_texts(texts)
        ids, classes = check_labels(labels, n_rows=len(texts), n_classes=n_classes)
        self.classes_ = classes
        self.label_names_ = [str(c) for c in classes.tolist()] if label_names is None else list(label_names)
        self.class_counts_ = np.bincount(ids, minlength=len(classes))
        self._fit_mixture(ids)
        return self

    def _fit_mixture(self, ids: np.ndarray) -> None:
        """Hook for subclasses that learn ``u`` from the labels."""

    @abc.abstractmethod
    def _mixture(self, ids: np.ndarray) -> np.ndarray:
        """``u`` for every row, ``(n, C)``."""

    def transform(self, texts: Sequence[str], labels: Sequence[Any] | None = None) -> np.ndarray:
        """Soft labels for the given hard ``labels`` (required); ``texts`` only fixes the row count."""
        self._check_fitted()
        _check_epsilon(self.epsilon)
        ids = self._label_ids(labels, n_rows=len(check_texts(texts)))
        hard = one_hot(ids, len(self.classes_))
        soft = (1.0 - self.epsilon) * hard + self.epsilon * self._mixture(ids)
        return soft.astype(self.dtype, copy=False)


class UniformSmoother(_MixtureSmoother):
    """LS-Classic (Szegedy et al. 2016): ``d = (1 - epsilon) * onehot + epsilon * uniform``.

    Args:
        epsilon: smoothing mass, in [0, 1].
        convention: ``"all"`` spreads ``epsilon`` over all ``C`` classes (gold gets
            ``1 - epsilon + epsilon/C``; PyTorch's ``label_smoothing``), ``"others"`` over the ``C - 1``
            non-gold classes (gold gets ``1 - epsilon``).
        dtype: dtype of the soft labels.

    Example:
        >>> UniformSmoother(0.1, dtype=float).fit_transform(["a", "b"], [0, 1]).round(3).tolist()
        [[0.95, 0.05], [0.05, 0.95]]
    """

    def __init__(
        self,
        epsilon: float = 0.1,
        convention: Literal["all", "others"] = "all",
        dtype: Any = np.float32,
    ) -> None:
        self.epsilon = epsilon
        self.convention = convention
        self.dtype = dtype

    def _fit_mixture(self, ids: np.ndarray) -> None:
        if self.convention not in ("all", "others"):
            raise ConfigError(f"convention must be 'all' or 'others', got {self.convention!r}")
        if self.convention == "others" and len(self.classes_) < 2:
            raise ConfigError("convention='others' needs at least two classes")

    def _mixture(self, ids: np.ndarray) -> np.ndarray:
        n_classes = len(self.classes_)
        if self.convention == "all":
            return np.full((len(ids), n_classes), 1.0 / n_classes)
        u = np.full((len(ids), n_classes), 1.0 / (n_classes - 1))
        u[np.arange(len(ids)), ids] = 0.0
        return u


class PriorSmoother(_MixtureSmoother):
    """Smoothing towards a prior: ``d = (1 - epsilon) * onehot + epsilon * prior``.

    Args:
        epsilon: smoothing mass, in [0, 1].
        prior: ``"class-frequency"`` (the training label frequencies, learned by ``fit``) or an array of
            ``C`` non-negative numbers summing to 1.
        dtype: dtype of the soft labels.

    Example:
        >>> PriorSmoother(0.5, dtype=float).fit_transform(["a", "b", "c", "d"], [0, 0, 0, 1])[3].tolist()
        [0.375, 0.625]
    """

    def __init__(
        self,
        epsilon: float = 0.1,
        prior: Literal["class-frequency"] | Sequence[float] | np.ndarray = "class-frequency",
        dtype: Any = np.float32,
    ) -> None:
        self.epsilon = epsilon
        self.prior = prior
        self.dtype = dtype

    def _fit_mixture(self, ids: np.ndarray) -> None:
        n_classes = len(self.classes_)
        if isinstance(self.prior, str):
            if self.prior != "class-frequency":
                raise ConfigError(
                    f"unknown prior {self.prior!r}", hint="use 'class-frequency' or an array of C numbers"
                )
            self.prior_ = self.class_counts_ / self.class_counts_.sum()
            return
        prior = np.asarray(self.prior, dtype=np.float64)
        if prior.shape != (n_classes,):
            raise InputError(f"prior has shape {prior.shape}, expected ({n_classes},)")
        if not np.all(np.isfinite(prior)) or prior.min() < 0 or abs(prior.sum() - 1) > 1e-6:
            raise InputError("prior must be non-negative and sum to 1", hint=f"got sum {prior.sum():.6g}")
        self.prior_ = prior

    def _mixture(self, ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.prior_, (len(ids), len(self.classes_)))
