"""One exception hierarchy for everything textsmooth reports to people.

Every error names *where* the problem is (file, row, column, argument) and *what to do*. Catch
:class:`TextsmoothError` to handle them all; the CLI prints them without a traceback.

Rows are reported 1-based as a person counts them in the file (the header, when there is one,
is row 1 of a CSV; the first JSON line is row 1 of a JSONL file).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "InputError",
    "LabelError",
    "MissingDependencyError",
    "ModelLoadError",
    "NotFittedError",
    "StaleArtifactError",
    "TextsmoothError",
]


class TextsmoothError(Exception):
    """Base class of every error textsmooth raises on purpose.

    Args:
        message: what is wrong, in one sentence.
        path: the file concerned, if any.
        row: 1-based row (or line) in that file, if any.
        column: the column or field concerned, if any.
        option: the command-line option concerned (``"--keep"``), if any; CLI errors name the option
            the user typed rather than the Python parameter behind it.
        hint: what the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        option: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.option = option
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.option is not None:
            where.append(f"option {self.option}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(TextsmoothError, ValueError):
    """Arguments given to a function are inconsistent (shapes, lengths, ranges)."""


class DataError(InputError):
    """A data file or in-memory data set cannot be read as asked (format, encoding, columns, rows)."""


class LabelError(DataError):
    """Labels are missing, NaN, out of range, or a class has no instance."""


class ConfigError(TextsmoothError, ValueError):
    """A recipe, option or parameter value is unknown or out of its allowed range."""


class ArtifactError(TextsmoothError):
    """An artifact (soft labels, neighbour table, fitted model) is missing, corrupt or foreign."""


class StaleArtifactError(ArtifactError):
    """An artifact's manifest does not match the data, model or parameters it is used with."""


class ModelLoadError(TextsmoothError):
    """A model path does not exist or does not hold the kind of model asked for."""


class NotFittedError(TextsmoothError, AttributeError):
    """An estimator method that needs ``fit`` was called before ``fit``."""


class MissingDependencyError(TextsmoothError, ImportError):
    """An optional dependency is not installed; the message names the textsmooth extra that provides it.

    Also an ``ImportError``, so code that falls back when an import fails still does.

    Args:
        feature: what needs the dependency (``textsmooth.losses``, ``SentenceEncoder``).
        package: the name pip installs the dependency by (``torch``, ``faiss-cpu``).
        extra: the textsmooth extra that installs it (``torch``, ``sequence``, ``hf``, ``report`` ...).
        module: the import name that failed (default: ``package``).
        hint: more about the failure, if it was not simply "not installed".
    """

    def __init__(
        self, feature: str, package: str, extra: str, *, module: str | None = None, hint: str | None = None
    ) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {package}: pip install 'textsmooth[{extra}]'", hint=hint
        )
        self.name = module or package  # ImportError's attribute: the module that could not be imported
