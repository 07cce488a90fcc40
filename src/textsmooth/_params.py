"""scikit-learn's parameter protocol, written once for every estimator-like class.

The parameters of a class are the named arguments of its ``__init__`` (not ``*args``/``**kwargs``),
in signature order; ``__init__`` stores each verbatim under the same attribute name. ``get_params``
reads them back, ``set_params`` sets them and refuses an unknown name, so ``sklearn.base.clone`` and
grid searches work without importing scikit-learn. Used by the soft-label generators
(:class:`textsmooth.targets.base.SoftLabelGenerator`) and the sequence generators
(:class:`textsmooth.sequence.SemanticNeighbors`, ``WithinBatchTargets``, ``TokenSwapTargets``).

:class:`ConfigMixin` is the same idea for the dataclass configurations of a training run: building one
from a recipe's mapping (unknown fields are errors), back to a dict, and a short hash of its values.

:func:`check_int` is the one check of an integer parameter (a count, a size, a seed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import numbers
from typing import Any, Literal, Self, overload

from textsmooth.errors import ConfigError

__all__ = ["ConfigMixin", "ParamsMixin", "check_int"]


@overload
def check_int(name: str, value: Any, *, low: int = 1, allow_none: Literal[False] = False) -> int: ...
@overload
def check_int(name: str, value: Any, *, low: int = 1, allow_none: bool) -> int | None: ...
def check_int(name: str, value: Any, *, low: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` when it is an integer ``>= low`` (a Python or numpy integer, not a bool);
    ``None`` passes with ``allow_none``.

    Raises:
        ConfigError: anything else, naming ``name`` as its column: ``"k must be an integer >= 1, got 0"``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        also = " or null" if allow_none else ""
        raise ConfigError(f"{name} must be an integer >= {low}{also}, got {value!r}", column=name)
    return int(value)


class ParamsMixin:
    """``get_params`` / ``set_params`` from the signature of ``__init__``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's named parameters, in signature order."""
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters (scikit-learn protocol); returns ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}",
                    hint=f"valid parameters: {', '.join(sorted(valid))}",
                )
            setattr(self, name, value)
        return self


class ConfigMixin:
    """``from_dict`` / ``to_dict`` / a short hash for the dataclass configurations of a run
    (:class:`textsmooth.training.TrainConfig`, :class:`textsmooth.seq2seq.Seq2SeqConfig`)."""

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> Self:
        """Build from a mapping (a recipe); unknown keys raise :class:`ConfigError` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown field(s) {', '.join(unknown)} in {where}",
                hint=f"known fields: {', '.join(sorted(known))}",
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @staticmethod
    def hash_values(values: dict[str, Any]) -> str:
        """The first 16 hex digits of the sha256 of ``values`` as sorted JSON."""
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
