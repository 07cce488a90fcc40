"""QA regressions: recipe fields that used to pass `experiment check` and then failed mid-run (or were
silently wrong), and run folders that would mix results of another recipe or of other data."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from recipe_copies import copy_recipe
from textsmooth.cli import app
from textsmooth.errors import ConfigError
from textsmooth.experiments.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
CI_RECIPE = REPO / "recipes" / "ci-tiny.yaml"
write_recipe = functools.partial(copy_recipe, CI_RECIPE)
runner = CliRunner()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"seeds": [0, 0]}, "seeds", "without repeated entries"),
        ({"models": ["textcnn", "textcnn"]}, "models", "without repeated entries"),
        ({"max_train": -5}, "max_train", "max_train must be an integer >= 1"),
        ({"max_test": 0}, "max_test", "max_test must be an integer >= 1"),
        ({"dev_fraction": 1.5}, "dev_fraction", "dev_fraction must be a number in (0, 1)"),
        ({"methods": [{"method": "none", "epochs": 1.5}]}, "epochs", "epochs must be an integer"),
        ({"methods": [{"method": "none", "lr": "1e-3"}]}, "lr", "YAML reads 1e-3 as text"),
        ({"methods": [{"method": "classic", "epsilon": 5}]}, "epsilon", "epsilon must be in [0, 1]"),
        ({"train": {"epochs": 1, "device": "gpu0"}}, "device", "unknown device 'gpu0'"),
    ],
)
def test_bad_fields_fail_at_load_naming_recipe_and_field(tmp_path, changes, field, message):
    path = write_recipe(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert message in str(info.value) and str(path) in str(info.value) and info.value.column == field
    result = runner.invoke(app, ["experiment", "check", str(path)])
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_folder_is_not_a_recipe(tmp_path):
    result = runner.invoke(app, ["experiment", "check", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder, not a recipe file" in result.output


def fake_run_folder(out: Path, recipe: Path, **manifest_changes) -> None:
    """A run folder as `experiment run` leaves it: recipe copy, manifest, one finished result."""
    from textsmooth.experiments.runner import load_recipe_data

    parsed = load_recipe(recipe)
    train, test = load_recipe_data(parsed)
    (out / "results").mkdir(parents=True)
    raw = {k: v for k, v in dataclasses.asdict(parsed).items() if k != "path"}  # as the runner copies it
    (out / "recipe.yaml").write_text(yaml.safe_dump(raw))
    manifest = {"recipe": raw["name"], "seeds": [0], "train": train.describe(), "test": test.describe()}
    (out / "manifest.json").write_text(json.dumps({**manifest, **manifest_changes}))
    (out / "results" / "balanced__textcnn__none__seed0.json").write_text("{}")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "other-recipe"}, "holds results of recipe 'ci-tiny', not 'other-recipe'"),
        ({"max_train": 300}, "computed with other data (train data)"),
        ({"max_test": 100}, "computed with other data (test data)"),
        ({"dev_fraction": 0.3}, "dev_fraction 0.25 -> 0.3"),
    ],
)
def test_run_folder_of_another_recipe_or_other_data_is_refused(tmp_path, changes, message):
    out = tmp_path / "run"
    fake_run_folder(out, write_recipe(tmp_path, "first.yaml"))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    edited = write_recipe(tmp_path, "edited.yaml", **changes)
    result = runner.invoke(app, ["experiment", "run", str(edited), "-o", str(out), "--no-progress"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and message in flat and "nothing was trained" in flat, result.output
    assert "Traceback" not in result.output
    # nothing in the folder changed: recipe.yaml and manifest.json were replaced before this check
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
