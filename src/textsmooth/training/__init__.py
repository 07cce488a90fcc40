"""Training: a small trainer loop with every smoothing method, saved classifiers, and Hugging Face Trainer
integration.

* :func:`train_classifier` (``textsmooth.training.loop``) trains one classifier; with ``out_dir`` it
  checkpoints, resumes and saves the best model to ``out_dir/model``;
* :func:`load_classifier` (``textsmooth.training.saved``) reads a saved model folder back, verified, as an
  object with ``predict_proba``, ``predict`` and ``classes_``; :func:`save_classifier` writes one.

Names are imported lazily, so ``import textsmooth.training`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import textsmooth._extras as _extras

if not _extras.installed("torch"):
    raise _extras.missing("torch", extra="torch", feature="textsmooth.training")

_LAZY = {
    "TrainConfig": "textsmooth.training.config",
    "TrainResult": "textsmooth.training.loop",
    "train_classifier": "textsmooth.training.loop",
    "SavedClassifier": "textsmooth.training.saved",
    "load_classifier": "textsmooth.training.saved",
    "save_classifier": "textsmooth.training.saved",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.training.config import TrainConfig  # noqa: F401
    from textsmooth.training.loop import TrainResult, train_classifier  # noqa: F401
    from textsmooth.training.saved import SavedClassifier, load_classifier, save_classifier  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textsmooth.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
