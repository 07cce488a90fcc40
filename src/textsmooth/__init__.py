"""textsmooth: label smoothing that knows language.

Top-level names are imported lazily, so ``import textsmooth`` stays fast; sub-packages
(``textsmooth.losses``, ``textsmooth.sequence``, ``textsmooth.metrics`` ...) are imported on use.

Example:
    >>> from textsmooth import KeywordSmoother
    >>> soft = KeywordSmoother().fit_transform(["good fun film", "dull bad film"], [1, 0])
    >>> soft.shape
    (2, 2)
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from textsmooth._version import __version__

_LAZY = {
    "KeywordSmoother": "textsmooth.targets.keyword",
    "TfidfSmoother": "textsmooth.targets.keyword",
    "UniformSmoother": "textsmooth.targets.classic",
    "PriorSmoother": "textsmooth.targets.classic",
    "TeacherSmoother": "textsmooth.targets.teacher",
    "flip_labels": "textsmooth.targets.flip",
    "read_dataset": "textsmooth.io.readers",
    "TextDataset": "textsmooth.io.readers",
}

__all__ = ["__version__", *sorted(_LAZY)]

if _typing.TYPE_CHECKING:  # pragma: no cover
    from textsmooth.io.readers import TextDataset, read_dataset  # noqa: F401
    from textsmooth.targets.classic import PriorSmoother, UniformSmoother  # noqa: F401
    from textsmooth.targets.flip import flip_labels  # noqa: F401
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother  # noqa: F401
    from textsmooth.targets.teacher import TeacherSmoother  # noqa: F401


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textsmooth' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (``__all__``) and the sub-packages already imported; no import helpers."""
    loaded = {name for name, value in globals().items() if isinstance(value, type(_importlib))}
    return sorted({*__all__, *(name for name in loaded if not name.startswith("_"))})
