"""What a recipe run leaves in its run folder, as typed records, and the one place they meet JSON.

* :class:`RunRecord`: a finished training (``results/<run_id>.json``), written by the runner and read by
  the report and by a resumed run (:func:`read_result`, :meth:`RunRecord.to_json`).
* :class:`ExampleRow`: a test text with its KWLS soft label and keywords (``examples.json``), computed by
  the runner from the recipe's training data so that the report never refits anything.

Reading validates: a file that is not valid JSON or not one of these records is an
:class:`~textsmooth.errors.ArtifactError` naming the file and what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textsmooth.errors import ArtifactError, ConfigError
from textsmooth.experiments.settings import DataChange, change_from_json
from textsmooth.io.atomic import atomic_write_text
from textsmooth.training.config import TrainConfig

__all__ = [
    "EXAMPLES_FILE",
    "ExampleRow",
    "RunRecord",
    "format_duration",
    "read_examples",
    "read_result",
    "write_examples",
    "write_result",
]

EXAMPLES_FILE = "examples.json"
# fields every result record has (a JSON file without them is not one of ours)
_RECORD_FIELDS = ("run_id", "method", "model", "seed", "variant", "config", "test")
# config fields a record must state (a missing other field reads as its default)
_REQUIRED_CONFIG = ("model", "method", "seed")
# test metrics every record has (the report's tables read them)
_TEST_FIELDS = ("accuracy", "macro_f1", "ece", "nll", "confidence", "per_class")


def format_duration(seconds: float) -> str:
    """``"4.2 s"``, ``"95 s"`` (under three minutes), ``"12.5 min"`` (under two hours), ``"3 h 05 min"``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 180:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class RunRecord:
    """A finished training of a recipe.

    Attributes:
        run_id, method, model, seed, variant: which run (``method`` is the method row's label).
        config: the training configuration it ran with.
        data_change: its data variant.
        n_train, n_dev, train_class_counts: the sizes of its training and dev parts.
        test: :func:`textsmooth.metrics.classification_report` of the test split, with the minority
            class and recall of the variant's under-sampled classes.
        history: the dev metrics of every epoch; ``best_epoch``: the one whose weights were kept.
        seconds: training time, summed over the sessions it took; ``resumed``: whether it was resumed.
    """

    run_id: str
    method: str
    model: str
    seed: int
    variant: str
    config: TrainConfig
    data_change: DataChange
    n_train: int
    n_dev: int
    train_class_counts: list[int]
    test: dict[str, Any]
    history: list[dict[str, Any]]
    best_epoch: int
    seconds: float
    resumed: bool

    @property
    def overconfidence(self) -> float:
        """Mean test confidence minus test accuracy (positive: over-confident)."""
        return float(self.test["confidence"]) - float(self.test["accuracy"])

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``results/<run_id>.json``."""
        return {
            "run_id": self.run_id,
            "method": self.method,
            "model": self.model,
            "seed": self.seed,
            "variant": self.variant,
            "config": self.config.to_dict(),
            "data_change": self.data_change.to_json(),
            "n_train": self.n_train,
            "n_dev": self.n_dev,
            "train_class_counts": list(self.train_class_counts),
            "test": self.test,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "resumed": self.resumed,
        }

    @classmethod
    def from_json(cls, values: Any, path: str | Path) -> RunRecord:
        """Validate and convert a record read from ``path``.

        Raises:
            ArtifactError: a missing field or a value of the wrong type, naming ``path``.
        """
        hint = _result_hint(Path(path))
        missing = [k for k in _RECORD_FIELDS if not isinstance(values, dict) or k not in values]
        if missing:
            raise ArtifactError(
                f"not a result record of `textsmooth experiment run` (no {', '.join(missing)})",
                path=path,
                hint=hint,
            )
        try:
            config = values["config"]
            if not isinstance(config, dict):
                raise ValueError("config is not an object")
            absent = [k for k in _REQUIRED_CONFIG if k not in config]
            if absent:
                raise ValueError(f"config has no {', '.join(absent)}")
            test = values["test"]
            if not isinstance(test, dict) or any(k not in test for k in _TEST_FIELDS):
                lacking = [k for k in _TEST_FIELDS if not isinstance(test, dict) or k not in test]
                raise ValueError(f"test metrics lack {', '.join(lacking)}")
            history = values.get("history", [])
            if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
                raise ValueError("history is not a list of objects")
            return cls(
                run_id=_typed(values["run_id"], str, "run_id"),
                method=_typed(values["method"], str, "method"),
                model=_typed(values["model"], str, "model"),
                seed=_typed(values["seed"], int, "seed"),
                variant=_typed(values["variant"], str, "variant"),
                config=TrainConfig.from_dict(config, where="the record's config"),
                data_change=change_from_json(values.get("data_change", {})),
                n_train=_typed(values.get("n_train", 0), int, "n_train"),
                n_dev=_typed(values.get("n_dev", 0), int, "n_dev"),
                train_class_counts=[int(c) for c in values.get("train_class_counts", [])],
                test=test,
                history=history,
                best_epoch=_typed(values.get("best_epoch", 0), int, "best_epoch"),
                seconds=float(values.get("seconds") or 0.0),
                resumed=bool(values.get("resumed", False)),
            )
        except ConfigError as exc:
            raise ArtifactError(
                f"not a result record of this version ({exc.message})", path=path, hint=hint
            ) from exc
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"not a result record of this version ({exc})", path=path, hint=hint) from exc


def _typed(value: Any, kind: type, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}")
    return value


def _result_hint(path: Path) -> str:
    return (
        f"delete it and {path.with_suffix('.npz').name} beside it; `textsmooth experiment run` then "
        "trains that run again"
    )


def _read_json(path: Path, what: str, hint: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"corrupt {what} (not valid JSON: {exc.msg})", path=path, row=exc.lineno, hint=hint
        ) from exc
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"corrupt {what} (not UTF-8 text)", path=path, hint=hint) from exc


def read_result(path: str | Path) -> RunRecord:
    """The record of a finished run (``results/<run_id>.json``).

    Raises:
        ArtifactError: the file is not valid JSON or not a result record, naming the file and what to do.
    """
    path = Path(path)
    return RunRecord.from_json(_read_json(path, "result file", _result_hint(path)), path)


def write_result(path: Path, record: RunRecord) -> None:
    """Write ``record`` to ``path`` atomically (the file that marks a run finished)."""
    atomic_write_text(path, json.dumps(record.to_json(), indent=1))


@dataclass(frozen=True)
class ExampleRow:
    """A test text for the report: its tokens, each with the index of the label whose keyword it is
    (``None``: not a keyword), the gold label, and the top soft-label entries ``(label, probability,
    index)``."""

    tokens: list[tuple[str, int | None]]
    gold: str
    soft: list[tuple[str, float, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": [list(t) for t in self.tokens],
            "gold": self.gold,
            "soft": [list(s) for s in self.soft],
        }

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> ExampleRow:
        tokens = [(str(token), None if index is None else int(index)) for token, index in values["tokens"]]
        soft = [(str(name), float(p), int(index)) for name, p, index in values["soft"]]
        return cls(tokens, str(values["gold"]), soft)


def write_examples(run_dir: Path, rows: list[ExampleRow]) -> None:
    atomic_write_text(
        run_dir / EXAMPLES_FILE, json.dumps({"examples": [r.to_json() for r in rows]}, indent=1)
    )


def read_examples(run_dir: Path) -> list[ExampleRow] | None:
    """The example rows of ``run_dir`` (``None`` when the runner has not written them).

    Raises:
        ArtifactError: a corrupt ``examples.json``, naming it.
    """
    path = Path(run_dir) / EXAMPLES_FILE
    if not path.exists():
        return None
    hint = "delete it; `textsmooth experiment run` writes it again"
    values = _read_json(path, "examples file", hint)
    try:
        return [ExampleRow.from_json(row) for row in values["examples"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"not an examples file of `textsmooth experiment run` ({exc})", path=path, hint=hint
        ) from exc
