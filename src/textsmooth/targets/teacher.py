"""LS-Distill: soft labels from a teacher model's predictions (Zhang & Sabuncu 2020).

``d_i = softmax(z_i / T)`` for teacher logits ``z_i`` (or ``p_i^(1/T)`` renormalised for teacher
probabilities, the same thing), with temperature ``T``. In the KWLS paper's protocol the teacher is the
same model trained once with hard labels; its predicted probabilities on the training texts become
the soft labels of a second run.

Two ways to supply the teacher:

* ``TeacherSmoother(teacher=fn)`` where ``fn(texts) -> (n, C)`` logits or probabilities;
  ``transform`` calls it.
* ``fit(texts, labels, teacher_outputs=array)`` with precomputed outputs aligned with ``texts``;
  ``transform`` looks texts up (exact string match). A text seen several times gets the mean of its
  outputs; a text never seen raises an error naming its row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from textsmooth.errors import ConfigError, InputError
from textsmooth.targets.base import SoftLabelGenerator, check_labels, check_texts

__all__ = ["TeacherSmoother"]


class TeacherSmoother(SoftLabelGenerator):
    """Soft labels from a teacher: ``softmax(logits / temperature)``.

    Args:
        temperature: > 0; 1 keeps the teacher's distribution, larger flattens it.
        outputs: whether teacher outputs are ``"logits"`` or ``"probabilities"``.
        teacher: optional callable ``texts -> (n, C)`` outputs.
        dtype: dtype of the soft labels.

    Example:
        >>> import numpy as np
        >>> t = TeacherSmoother(temperature=2.0, dtype=float)
        >>> t.fit(["a", "b"], [0, 1], teacher_outputs=np.array([[2.0, 0.0], [0.0, 2.0]]))
        TeacherSmoother(temperature=2.0, outputs='logits', teacher=None, dtype=<class 'float'>)
        >>> t.transform(["b"]).round(3).tolist()
        [[0.269, 0.731]]
    """

    def __init__(
        self,
        temperature: float = 1.0,
        outputs: Literal["logits", "probabilities"] = "logits",
        teacher: Callable[[list[str]], Any] | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self.temperature = temperature
        self.outputs = outputs
        self.teacher = teacher
        self.dtype = dtype

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        teacher_outputs: Any = None,
        n_classes: int | None = None,
        label_names: Sequence[str] | None = None,
    ) -> TeacherSmoother:
        """Record the classes and, if given, the teacher's outputs for ``texts``."""
        self._check_params()
        texts = check_texts(texts)
        _, classes = check_labels(labels, n_rows=len(texts), n_classes=n_classes)
        self.classes_ = classes
        self.label_names_ = [str(c) for c in classes.tolist()] if label_names is None else list(label_names)
        if teacher_outputs is None:
            if self.teacher is None:
                raise InputError(
                    "TeacherSmoother needs a teacher",
                    hint="pass teacher=callable or fit(..., teacher_outputs=array)",
                )
            self.text_index_ = None
            self.teacher_log_probs_ = None
            return self
        log_probs = self._log_probs(teacher_outputs, len(texts))
        index: dict[str, int] = {}
        group = np.empty(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            group[row] = index.setdefault(text, len(index))
        sums = np.zeros((len(index), log_probs.shape[1]))
        np.add.at(sums, group, np.exp(log_probs))
        mean_probs = sums / np.bincount(group, minlength=len(index))[:, None]
        self.text_index_ = index
        self.teacher_log_probs_ = np.log(np.maximum(mean_probs, np.finfo(np.float64).tiny))
        return self

    def transform(self, texts: Sequence[str], labels: Sequence[Any] | None = None) -> np.ndarray:
        """Teacher soft labels for ``texts`` (``labels`` ignored)."""
        self._check_fitted()
        self._check_params()
        texts = check_texts(texts)
        if self.teacher_log_probs_ is None:
            log_probs = self._log_probs(self.teacher(texts), len(texts))  # type: ignore[misc]
        else:
            rows = np.empty(len(texts), dtype=np.int64)
            for row, text in enumerate(texts):
                found = self.text_index_.get(text)  # type: ignore[union-attr]
                if found is None:
                    raise InputError(
                        "text has no teacher output", row=row + 1, hint="fit on these texts or pass teacher="
                    )
                rows[row] = found
            log_probs = self.teacher_log_probs_[rows]
        z = log_probs / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        soft = np.exp(z)
        soft /= soft.sum(axis=1, keepdims=True)
        return soft.astype(self.dtype, copy=False)

    def _check_params(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.outputs not in ("logits", "probabilities"):
            raise ConfigError(f"outputs must be 'logits' or 'probabilities', got {self.outputs!r}")

    def _log_probs(self, outputs: Any, n_rows: int) -> np.ndarray:
        """Teacher outputs as log-probabilities ``(n, C)`` (log-softmax of logits, log of probabilities)."""
        if hasattr(outputs, "detach"):  # a torch tensor
            outputs = outputs.detach().float().cpu().numpy()
        values = np.asarray(outputs, dtype=np.float64)
        n_classes = len(self.classes_)
        if values.shape != (n_rows, n_classes):
            raise InputError(f"teacher outputs have shape {values.shape}, expected ({n_rows}, {n_classes})")
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            raise InputError("teacher output is NaN or infinite", row=int(np.argmax(bad)) + 1)
        if self.outputs == "logits":
            shifted = values - values.max(axis=1, keepdims=True)
            return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        wrong = (values.min(axis=1) < 0) | (np.abs(values.sum(axis=1) - 1) > 1e-4)
        if wrong.any():
            raise InputError(
                "teacher probabilities must be non-negative and sum to 1",
                row=int(np.argmax(wrong)) + 1,
                hint="pass outputs='logits' for raw scores",
            )
        return np.log(np.maximum(values, np.finfo(np.float64).tiny))
