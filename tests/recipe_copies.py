"""Test helper: copies of the repository's recipes with fields changed, written where a test wants them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def copy_recipe(recipe: str | Path, folder: Path, file_name: str | None = None, /, **changes: Any) -> Path:
    """Write ``recipe`` (a path, or a file name in ``recipes/``) to ``folder / file_name`` with ``changes``
    applied (the first three arguments are positional, so any recipe field, ``name`` included, can be
    changed). Relative ``data`` paths of classification recipes become absolute, so the copy reads the
    same files; the other recipe kinds name their data by corpus or by shared folder. ``file_name``
    defaults to the next free ``recipe-N.yaml``, so copies made by one test never overwrite each other."""
    source = Path(recipe) if Path(recipe).is_absolute() else RECIPES / recipe
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    if isinstance(raw.get("data"), dict):
        raw["data"] = {
            k: str((source.parent / v).resolve()) if k in ("train", "test") else v
            for k, v in raw["data"].items()
        }
    raw.update(changes)
    path = folder / (file_name or f"recipe-{len(list(folder.glob('recipe-*.yaml')))}.yaml")
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path
