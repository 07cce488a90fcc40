"""scikit-learn's parameter protocol, written once for every estimator-like class.

The parameters of a class are the named arguments of its ``__init__`` (not ``*args``/``**kwargs``),
in signature order; ``__init__`` stores each verbatim under the same attribute name. ``get_params``
reads them back, ``set_params`` sets them and refuses an unknown name, so ``sklearn.base.clone`` and
grid searches work without importing scikit-learn. Used by the soft-label generators
(:class:`textsmooth.targets.base.SoftLabelGenerator`) and the sequence generators
(:class:`textsmooth.sequence.SemanticNeighbors`, ``WithinBatchTargets``, ``TokenSwapTargets``).
"""

from __future__ import annotations

import inspect
from typing import Any, Self

from textsmooth.errors import ConfigError

__all__ = ["ParamsMixin"]


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
