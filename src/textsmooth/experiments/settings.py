"""Recipe settings and the data variants they expand into, as typed records.

A *setting* (the recipe's ``setting:`` field) names a study: ``balanced``, ``unbalanced``,
``imbalance-grid``, ``noise``, ``distillation``. It expands into *data variants*, each a frozen
:class:`DataChange` that says what it does to a run's training and dev parts (:meth:`DataChange.apply`),
which classes it under-samples, and whether the run learns from a teacher. Settings are registered by
name (:func:`register_setting`), so a new study plugs in without touching the recipe parser, the
runner or the report.

The JSON form of a variant (``data_change`` in a result record) is :meth:`DataChange.to_json`;
:func:`change_from_json` reads it back and refuses anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from textsmooth.errors import ConfigError
from textsmooth.io.readers import TextDataset

__all__ = [
    "SETTINGS",
    "Balanced",
    "DataChange",
    "GridClasses",
    "GridSize",
    "Minority",
    "Noise",
    "Setting",
    "Teacher",
    "change_from_json",
    "minority_metrics",
    "register_setting",
]


# ---------------------------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class DataChange:
    """A data variant: the identity (``balanced``); subclasses change the training and dev parts."""

    json_keys: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        """The variant as the JSON object result records store (``{}`` for no change)."""
        return {}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> DataChange:
        return cls()

    def undersampled(self, n_classes: int) -> list[int]:
        """The classes this variant under-samples (none by default)."""
        return []

    def apply(self, train: TextDataset, dev: TextDataset, seed: int) -> tuple[TextDataset, TextDataset]:
        """The run's (train, dev) parts with the variant applied; the test split is never changed."""
        return train, dev

    @property
    def teacher_method(self) -> str | None:
        """The method of the teacher whose probabilities the run learns from (``None``: no teacher)."""
        return None


Balanced = DataChange


def _shrink(
    train: TextDataset, dev: TextDataset, sizes: dict[int, int], seed: int
) -> tuple[TextDataset, TextDataset]:
    """Under-sample class ``c`` of ``train`` to ``sizes[c]`` rows; dev classes shrink in the same
    proportion, keeping at least one row."""
    from textsmooth.io.splits import undersample

    counts_train = np.bincount(train.labels, minlength=train.n_classes)  # type: ignore[arg-type]
    counts_dev = np.bincount(dev.labels, minlength=dev.n_classes)  # type: ignore[arg-type]
    dev_sizes = {
        c: max(1, round(counts_dev[c] * size / max(counts_train[c], 1))) for c, size in sizes.items()
    }
    return undersample(train, sizes, seed), undersample(dev, dev_sizes, seed)


def _shrink_by_ratio(
    train: TextDataset, dev: TextDataset, classes: list[int], ratio: float, seed: int
) -> tuple[TextDataset, TextDataset]:
    counts = np.bincount(train.labels, minlength=train.n_classes)  # type: ignore[arg-type]
    return _shrink(train, dev, {c: max(1, round(counts[c] / ratio)) for c in classes}, seed)


@dataclass(frozen=True)
class Minority(DataChange):
    """``minority=c``: class ``c`` under-sampled to ``1/ratio`` of its size (the KWLS paper's Table 4)."""

    json_keys: ClassVar[tuple[str, ...]] = ("minority", "ratio")
    minority: int
    ratio: float

    def to_json(self) -> dict[str, Any]:
        return {"minority": self.minority, "ratio": self.ratio}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Minority:
        return cls(_int(values["minority"]), _float(values["ratio"]))

    def undersampled(self, n_classes: int) -> list[int]:
        return [self.minority]

    def apply(self, train: TextDataset, dev: TextDataset, seed: int) -> tuple[TextDataset, TextDataset]:
        return _shrink_by_ratio(train, dev, self.undersampled(train.n_classes), self.ratio, seed)


@dataclass(frozen=True)
class GridClasses(DataChange):
    """``c=k``: the first ``k`` classes other than ``keep`` at ``1/ratio`` (Table 5 / Figure 1)."""

    json_keys: ClassVar[tuple[str, ...]] = ("grid_c", "keep", "ratio")
    grid_c: int
    keep: int
    ratio: float

    def to_json(self) -> dict[str, Any]:
        return {"grid_c": self.grid_c, "keep": self.keep, "ratio": self.ratio}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> GridClasses:
        return cls(_int(values["grid_c"]), _int(values["keep"]), _float(values["ratio"]))

    def undersampled(self, n_classes: int) -> list[int]:
        return [c for c in range(n_classes) if c != self.keep][: self.grid_c]

    def apply(self, train: TextDataset, dev: TextDataset, seed: int) -> tuple[TextDataset, TextDataset]:
        return _shrink_by_ratio(train, dev, self.undersampled(train.n_classes), self.ratio, seed)


@dataclass(frozen=True)
class GridSize(DataChange):
    """``m=n``: every class other than ``keep`` cut to ``n`` training rows (Table 5 / Figure 1)."""

    json_keys: ClassVar[tuple[str, ...]] = ("grid_m", "keep")
    grid_m: int
    keep: int

    def to_json(self) -> dict[str, Any]:
        return {"grid_m": self.grid_m, "keep": self.keep}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> GridSize:
        return cls(_int(values["grid_m"]), _int(values["keep"]))

    def undersampled(self, n_classes: int) -> list[int]:
        return [c for c in range(n_classes) if c != self.keep]

    def apply(self, train: TextDataset, dev: TextDataset, seed: int) -> tuple[TextDataset, TextDataset]:
        return _shrink(train, dev, dict.fromkeys(self.undersampled(train.n_classes), self.grid_m), seed)


@dataclass(frozen=True)
class Noise(DataChange):
    """``noise=r``: training and dev labels flipped at rate ``r`` (of ``kind``), test labels clean."""

    json_keys: ClassVar[tuple[str, ...]] = ("noise", "noise_kind")
    noise: float
    noise_kind: str = "symmetric"

    def to_json(self) -> dict[str, Any]:
        return {"noise": self.noise, "noise_kind": self.noise_kind}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Noise:
        return cls(_float(values["noise"]), _str(values["noise_kind"]))

    def apply(self, train: TextDataset, dev: TextDataset, seed: int) -> tuple[TextDataset, TextDataset]:
        if not self.noise:
            return train, dev
        from textsmooth.targets.flip import flip_labels

        for part, offset in ((train, 0), (dev, 1)):
            noisy, _ = flip_labels(
                part.labels, self.noise, self.noise_kind, seed=seed * 2 + offset, n_classes=part.n_classes
            )
            part.labels = noisy
        return train, dev


@dataclass(frozen=True)
class Teacher(DataChange):
    """``teacher=M``: a teacher trained with method ``M``; the run's model is a student trained on the
    teacher's probabilities at ``temperature`` (Mueller et al. 2019's distillation caveat)."""

    json_keys: ClassVar[tuple[str, ...]] = ("teacher_method", "temperature")
    method: str
    temperature: float

    def to_json(self) -> dict[str, Any]:
        return {"teacher_method": self.method, "temperature": self.temperature}

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Teacher:
        return cls(_str(values["teacher_method"]), _float(values["temperature"]))

    @property
    def teacher_method(self) -> str | None:
        return self.method


_CHANGES: dict[frozenset[str], type[DataChange]] = {
    frozenset(kind.json_keys): kind for kind in (DataChange, Minority, GridClasses, GridSize, Noise, Teacher)
}


def register_change(kind: type[DataChange]) -> type[DataChange]:
    """Make :func:`change_from_json` read a new variant type (keyed by its ``json_keys``)."""
    _CHANGES[frozenset(kind.json_keys)] = kind
    return kind


def change_from_json(values: Any) -> DataChange:
    """The variant a result record's ``data_change`` object describes.

    Raises:
        ValueError: not an object of one of the registered variants, or a value of the wrong type.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"data_change must be an object, got {values!r}")
    kind = _CHANGES.get(frozenset(values))
    if kind is None:
        raise ValueError(f"unknown data variant {dict(values)!r}")
    return kind.from_json(values)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def minority_metrics(
    change: DataChange, test_report: Mapping[str, Any], label_names: Sequence[str]
) -> dict[str, Any]:
    """``minority_class`` and ``minority_recall`` for a run: the under-sampled classes (names joined by
    ``+``) and their mean test recall; the report's own choice (fewest test examples) when the variant
    under-samples nothing."""
    shrunk = change.undersampled(len(label_names))
    if not shrunk:
        return {k: test_report[k] for k in ("minority_class", "minority_recall") if k in test_report}
    recalls = [test_report["per_class"][label_names[c]]["recall"] for c in shrunk]
    known = [r for r in recalls if r is not None]
    return {
        "minority_class": "+".join(label_names[c] for c in shrunk),
        "minority_recall": float(np.mean(known)) if known else None,
    }


# ---------------------------------------------------------------------------------------------- settings
# (value, recipe field) -> class id; given by the recipe, which knows the data's label names
ClassResolver = Callable[[Any, str], int]
Variants = list[tuple[str, DataChange]]


def _no_class_fields(options: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return []


@dataclass(frozen=True)
class Setting:
    """A recipe setting: its options (the recipe field ``options_field``, with ``defaults``), how they
    expand into named data variants, and which of them name classes.

    Attributes:
        name: the recipe's ``setting:`` value.
        options_field: the recipe field holding the options (``None``: the setting has none).
        defaults: every option with its default; other keys are refused.
        expand: ``(options, n_classes, resolve) -> [(variant name, DataChange), ...]``, where
            ``resolve(value, field)`` turns a class name or id into an id.
        class_fields: ``options -> [(field, value), ...]``, the options that name classes (checked
            before the data is loaded); raises :class:`ConfigError` for a malformed option.
        pooled: the report pools the variants into one main table (``True``) or shows one per variant.
        plots: ``(metric, title, relative)`` of the per-variant plots the report draws.
    """

    name: str
    options_field: str | None
    defaults: Mapping[str, Any]
    expand: Callable[[Mapping[str, Any], int | None, ClassResolver], Variants]
    class_fields: Callable[[Mapping[str, Any]], list[tuple[str, Any]]] = _no_class_fields
    pooled: bool = False
    plots: tuple[tuple[str, str, bool], ...] = field(default_factory=tuple)


SETTINGS: dict[str, Setting] = {}


def register_setting(setting: Setting) -> Setting:
    """Add (or replace) a setting by name; recipes may then use ``setting: <name>``."""
    SETTINGS[setting.name] = setting
    return setting


def _unbalanced(options: Mapping[str, Any], n_classes: int | None, resolve: ClassResolver) -> Variants:
    given = options["classes"] if options["classes"] is not None else list(range(n_classes or 0))
    ids = [resolve(c, "unbalanced.classes") for c in given]
    # the variant names the class by id, so that naming it or numbering it reuses the same results
    return [(f"minority={c}", Minority(c, float(options["ratio"]))) for c in ids]


def _unbalanced_classes(options: Mapping[str, Any]) -> list[tuple[str, Any]]:
    classes = options["classes"]
    if classes is not None and not isinstance(classes, list):
        raise ConfigError(
            "classes must be a list of label names or ids (or null: every class)", column="unbalanced.classes"
        )
    return [("unbalanced.classes", c) for c in classes or []]


def _grid(options: Mapping[str, Any], n_classes: int | None, resolve: ClassResolver) -> Variants:
    keep = resolve(options["keep"], "grid.keep")
    ratio = float(options["ratio"])
    out: Variants = [(f"c={c}", GridClasses(int(c), keep, ratio)) for c in options["c"]]
    return out + [(f"m={m}", GridSize(int(m), keep)) for m in options["m"]]


def _noise(options: Mapping[str, Any], n_classes: int | None, resolve: ClassResolver) -> Variants:
    return [(f"noise={r:g}", Noise(float(r), options["kind"])) for r in options["rates"]]


def _distillation(options: Mapping[str, Any], n_classes: int | None, resolve: ClassResolver) -> Variants:
    temperature = float(options["temperature"])
    return [(f"teacher={m}", Teacher(m, temperature)) for m in options["teacher_methods"]]


register_setting(
    Setting("balanced", None, {}, lambda options, n, resolve: [("balanced", DataChange())], pooled=True)
)
register_setting(
    Setting(
        "unbalanced",
        "unbalanced",
        {"ratio": 100, "classes": None},
        _unbalanced,
        class_fields=_unbalanced_classes,
        pooled=True,
    )
)
register_setting(
    Setting(
        "imbalance-grid",
        "grid",
        {"keep": 0, "c": [0, 1, 2, 3], "m": [300, 200, 100, 50, 10, 1], "ratio": 100},
        _grid,
        class_fields=lambda options: [("grid.keep", options["keep"])],
        plots=(("accuracy", "accuracy gain over hard labels", True),),
    )
)
register_setting(
    Setting(
        "noise",
        "noise",
        {"rates": [0.0, 0.1, 0.2, 0.4], "kind": "symmetric"},
        _noise,
        plots=(
            ("accuracy", "accuracy versus noise rate", False),
            ("ece", "ECE versus noise rate", False),
        ),
    )
)
register_setting(
    Setting(
        "distillation",
        "distillation",
        {"teacher_methods": ["none", "classic"], "temperature": 2.0},
        _distillation,
    )
)
