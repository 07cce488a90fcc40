"""Recipes end to end: the tiny CI recipe runs, resumes, reports; bad recipes fail before training."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipe_copies import copy_recipe
from textsmooth.cli import app
from textsmooth.errors import ConfigError
from textsmooth.experiments.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
CI_RECIPE = REPO / "recipes" / "ci-tiny.yaml"
write_recipe = functools.partial(copy_recipe, CI_RECIPE)
runner = CliRunner()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_ci_recipe_end_to_end_resume_and_report(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["experiment", "run", str(CI_RECIPE), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    results = sorted((out / "results").glob("*.json"))
    assert len(results) == 6 and len(list((out / "results").glob("*.npz"))) == 6
    record = json.loads(results[0].read_text())
    assert {"accuracy", "macro_f1", "ece", "nll"} <= set(record["test"]) and record["history"]
    # a second run finds every result and trains nothing
    again = runner.invoke(app, ["experiment", "run", str(CI_RECIPE), "-o", str(out), "--no-progress"])
    assert again.exit_code == 0 and "[1/6]" not in again.output
    # an edited recipe run into the same folder must not mix old and new results
    import yaml

    edited = write_recipe(tmp_path, train={**yaml.safe_load(CI_RECIPE.read_text())["train"], "epochs": 2})
    saved_recipe = (out / "recipe.yaml").read_text()
    stale = runner.invoke(app, ["experiment", "run", str(edited), "-o", str(out), "--no-progress"])
    assert stale.exit_code == 2 and "made with other settings (epochs)" in stale.output
    assert (out / "recipe.yaml").read_text() == saved_recipe
    # a result written before a TrainConfig field existed still counts as finished (the field's default)
    first = out / "results" / "balanced__textcnn__none__seed0.json"
    record = json.loads(first.read_text())
    del record["config"]["weight_decay"]
    first.write_text(json.dumps(record))
    older = runner.invoke(app, ["experiment", "run", str(CI_RECIPE), "-o", str(out), "--no-progress"])
    assert older.exit_code == 0 and "[1/6]" not in older.output
    html = (out / "report.html").read_text()
    assert "Main table" in html and "kwls" in html and html.count("data:image/png;base64") >= 3
    assert "KWLS soft label" in html and "examples unavailable" not in html
    assert "alt='training curves' src='data:image/png;base64," in html
    md = (out / "results.md").read_text()
    assert "| textcnn | none |" in md and "| textcnn | kwls |" in md
    # the sign of the miscalibration: mean confidence minus accuracy, from the stored predictions
    assert "conf − acc (pts)" in md
    import numpy as np

    gaps = []
    for seed in (0, 1):
        record = json.loads((out / "results" / f"balanced__textcnn__none__seed{seed}.json").read_text())
        with np.load(out / "results" / f"balanced__textcnn__none__seed{seed}.npz") as data:
            confidence = data["probs"].max(axis=1).mean()
        assert record["test"]["confidence"] == pytest.approx(confidence)
        gaps.append(confidence - record["test"]["accuracy"])
    row = next(line for line in md.splitlines() if line.startswith("| textcnn | none |"))
    assert f"{100 * np.mean(gaps):+.2f} ± " in row
    # the paper column appears only when the recipe quotes the paper
    assert "paper acc" not in md
    quoted = tmp_path / "quoted"
    shutil.copytree(out, quoted)
    saved = yaml.safe_load((quoted / "recipe.yaml").read_text())
    (quoted / "recipe.yaml").write_text(yaml.safe_dump({**saved, "paper": {"none": 91.62}}))
    from textsmooth.experiments.report import build_report

    build_report(quoted, examples=False)
    quoted_md = (quoted / "results.md").read_text()
    assert "| paper acc (%) |" in quoted_md
    assert next(line for line in quoted_md.splitlines() if "| none |" in line).endswith("| 91.62 |")
    browser = chromium()
    if browser is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "<table>" in dom and dom.count("<img") >= 3 and "ci-tiny" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", (out / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"methods": [{"method": "magic"}]}, "unknown method 'magic'"),
        ({"methods": [{"method": "none", "lr_schedule": "cosine"}]}, "unknown field(s) lr_schedule"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"data": {"train": "/nonexistent.csv", "test": "/nonexistent.csv"}}, "data file does not exist"),
        ({"setting": "weird"}, "unknown setting"),
        ({"budget": ""}, "recipe needs a 'budget'"),
        ({"train": {"model": "minilm", "model_path": "/tmp"}}, "not a Hugging Face model folder"),
        ({"model_train": {"bilstm": {"lr": 0.1}}}, "model_train names model(s) bilstm"),
        ({"model_train": {"textcnn": {"learning_rate": 0.1}}}, "unknown field(s) learning_rate"),
        ({"model_train": {"textcnn": 0.1}}, "model_train must map a model name"),
    ],
)
def test_bad_recipes_fail_before_training(tmp_path, changes, message):
    with pytest.raises(ConfigError) as info:
        load_recipe(write_recipe(tmp_path, **changes))
    assert message in str(info.value)


def test_missing_dev_class_is_caught_before_training(tmp_path):
    path = write_recipe(tmp_path, max_train=12, dev_fraction=0.1)
    out = tmp_path / "run"
    result = runner.invoke(app, ["experiment", "run", str(path), "-o", str(out), "--no-progress"])
    assert result.exit_code == 2 and "split has no example of class" in result.output
    assert not list((out / "results").glob("*.json"))


def test_settings_expand_into_runs(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, setting="noise", noise={"rates": [0.0, 0.2]}))
    variants = {spec.variant for spec in recipe.runs(6)}
    assert variants == {"noise=0", "noise=0.2"}
    recipe = load_recipe(write_recipe(tmp_path, setting="unbalanced", unbalanced={"ratio": 10}))
    assert {spec.variant for spec in recipe.runs(6)} == {f"minority={c}" for c in range(6)}
    recipe = load_recipe(write_recipe(tmp_path, setting="imbalance-grid", grid={"c": [1, 3], "m": [10]}))
    assert {spec.variant for spec in recipe.runs(6)} == {"c=1", "c=3", "m=10"}


def test_model_train_overrides_train_for_its_model_only(tmp_path):
    recipe = load_recipe(
        write_recipe(
            tmp_path,
            models=["textcnn", "bilstm"],
            train={"epochs": 1, "lr": 0.002},
            model_train={"bilstm": {"lr": 0.0005, "hidden_dim": 16}},
            methods=[{"method": "none"}, {"method": "classic", "lr": 0.01}],
        )
    )
    lrs = {(spec.model, spec.method_label): spec.config.lr for spec in recipe.runs(6)}
    # train < model_train < the method row
    assert lrs == {
        ("textcnn", "none"): 0.002,
        ("textcnn", "classic"): 0.01,
        ("bilstm", "none"): 0.0005,
        ("bilstm", "classic"): 0.01,
    }
    assert {spec.config.hidden_dim for spec in recipe.runs(6) if spec.model == "bilstm"} == {16}


def test_data_variants_change_only_train_and_dev():
    import numpy as np

    from textsmooth.experiments.runner import load_recipe_data, prepare_run_data
    from textsmooth.experiments.settings import DataChange, GridSize, Minority, Noise

    recipe = load_recipe(CI_RECIPE)
    train_full, _ = load_recipe_data(recipe)
    base = recipe.runs(6)[0]

    def variant(change):
        return type(base)(base.run_id, base.method_label, base.model, base.seed, "v", base.config, change)

    train, dev = prepare_run_data(train_full, variant(DataChange()), 0.25)
    counts = np.bincount(train.labels, minlength=6)
    small, small_dev = prepare_run_data(train_full, variant(Minority(2, 10.0)), 0.25)
    new = np.bincount(small.labels, minlength=6)
    assert new[2] == max(1, round(counts[2] / 10)) and (np.delete(new, 2) == np.delete(counts, 2)).all()
    assert np.bincount(small_dev.labels, minlength=6)[2] >= 1
    grid, _ = prepare_run_data(train_full, variant(GridSize(3, keep=0)), 0.25)
    assert np.bincount(grid.labels, minlength=6).tolist() == [counts[0], 3, 3, 3, 3, 3]
    noisy, noisy_dev = prepare_run_data(train_full, variant(Noise(0.4, "symmetric")), 0.25)
    assert noisy.texts == train.texts and 0.25 < (noisy.labels != train.labels).mean() < 0.55
    assert (noisy_dev.labels != dev.labels).any()


@pytest.mark.parametrize("path", sorted((REPO / "recipes").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_are_valid(path):
    from textsmooth.experiments.autoencoder import is_autoencoder_recipe, load_autoencoder_recipe
    from textsmooth.experiments.seq2seq import is_seq2seq_recipe, load_seq2seq_recipe

    if is_seq2seq_recipe(path):  # a seq2seq recipe: its own loader, every run's configuration built
        recipe = load_seq2seq_recipe(path)
        assert recipe.name == path.stem and recipe.budget
        specs = recipe.runs()
    elif is_autoencoder_recipe(path):  # every row's configuration is built by the loader
        recipe = load_autoencoder_recipe(path)
        assert recipe.name == path.stem and recipe.budget
        ids = [recipe.run_id(row, seed) for seed in recipe.seeds for row in recipe.methods]
        assert len(set(ids)) == len(ids) > 0
        return
    else:
        recipe = load_recipe(path)
        assert recipe.name == path.stem and recipe.budget
        specs = recipe.runs(n_classes=2)
    assert len({spec.run_id for spec in specs}) == len(specs) > 0


def test_minority_recall_is_the_recall_of_the_undersampled_classes():
    from textsmooth.experiments.settings import (
        DataChange,
        GridClasses,
        GridSize,
        Minority,
        Noise,
        minority_metrics,
    )

    assert Minority(2, 100.0).undersampled(4) == [2]
    assert GridClasses(2, keep=1, ratio=100.0).undersampled(4) == [0, 2]
    assert GridSize(10, keep=1).undersampled(4) == [0, 2, 3]
    assert Noise(0.2).undersampled(4) == [] == DataChange().undersampled(4)
    # balanced test set: the test-side "fewest examples" rule would pick class a (index 0) every time
    per_class = {n: {"recall": r} for n, r in zip("abc", [1.0, 0.0, 0.5], strict=True)}
    report = {"minority_class": "a", "minority_recall": 1.0, "per_class": per_class}
    assert minority_metrics(Minority(1, 100.0), report, ["a", "b", "c"]) == {
        "minority_class": "b",
        "minority_recall": 0.0,
    }
    both = minority_metrics(GridClasses(2, keep=0, ratio=100.0), report, ["a", "b", "c"])
    assert both == {"minority_class": "b+c", "minority_recall": 0.25}
    assert minority_metrics(DataChange(), report, ["a", "b", "c"]) == {
        "minority_class": "a",
        "minority_recall": 1.0,
    }
