"""Autoencoder recipes end to end: the tiny CI recipe trains, probes, reports; reruns and stale or bad
recipes are handled. Reads SentEval, MRPC and SICK from ../shared/data (skipped when absent)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("transformers")
pytest.importorskip("sklearn")
pytest.importorskip("gensim")

from recipe_copies import copy_recipe
from textsmooth.cli import app
from textsmooth.errors import ConfigError, DataError, StaleArtifactError
from textsmooth.experiments.autoencoder import (
    load_autoencoder_data,
    load_autoencoder_recipe,
    run_autoencoder_recipe,
)

REPO = Path(__file__).resolve().parents[2]
CI_RECIPE = REPO / "recipes" / "ci-autoencoder-tiny.yaml"
write_recipe = functools.partial(copy_recipe, CI_RECIPE)
runner = CliRunner()


@pytest.fixture(scope="module")
def shared_data():
    from textsmooth.io.corpora import find_data_dir

    try:
        for name in ("senteval", "mrpc_original", "sick_full"):
            find_data_dir(name)
    except DataError:
        pytest.skip("SentEval / MRPC / SICK are not beside the repository")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("ci-autoencoder") / "run"
    result = runner.invoke(app, ["experiment", "run", str(CI_RECIPE), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def test_the_ci_recipe_trains_probes_and_reports(finished):
    records = [json.loads(p.read_text()) for p in sorted((finished / "results").glob("*.json"))]
    assert [r["label"] for r in records] == ["cross-entropy", "soft-label N=3"]
    for record in records:
        assert record["config"]["architecture"] == "lstm"
        assert set(record["probe"]) == {"mrpc", "sick-e"}
        assert len(record["probe"]["mrpc"]["correct"]) == 100  # max_test
        assert 0 <= record["probe"]["sick-e"]["accuracy"] <= 1
        recon = record["reconstruction"]
        assert recon["exact"] + recon["near_synonym"] + recon["other"] == pytest.approx(1)
        assert recon["sentences"] == 20 and len(record["examples"]) == 3
        hyps = (finished / "results" / f"{record['run_id']}.hyp.txt").read_text().splitlines()
        assert len(hyps) == 20
        # The training time sums the epochs, so a resumed run still reports all of its training.
        assert record["train_seconds"] == pytest.approx(sum(h["seconds"] for h in record["history"]), abs=0.1)
    assert records[1]["method"] == "similarity-soft" and records[1]["config"]["similarity_top_n"] == 3
    assert sorted(p.name for p in (finished / "tables").glob("*.npz")) == [
        "similarity-n3-soft.npz",
        "similarity-n5-raw.npz",
    ]
    page = (finished / "report.html").read_text()
    md = (finished / "results.md").read_text()
    for text in (page, md):
        assert "MRPC F1 (poster)" in text and "71.8" in text  # the poster's SICK-E for soft labels N=3
        assert "near-synonym" in text and "Reconstruction examples" in text
        assert records[0]["examples"][0]["input"].split()[0] in text


def test_a_rerun_trains_nothing_and_the_report_command_rewrites_the_report(finished):
    logs: list[str] = []
    recipe = load_autoencoder_recipe(CI_RECIPE)
    again = run_autoencoder_recipe(recipe, finished, log=logs.append, progress=False)
    assert any("2 finished, 0 to train" in line for line in logs)
    assert [r["run_id"] for r in again] == ["cross-entropy__seed0", "soft-label_N=3__seed0"]
    (finished / "report.html").unlink()
    result = runner.invoke(app, ["report", str(finished)])
    assert result.exit_code == 0, result.output
    assert (finished / "report.html").is_file()


def test_status_of_the_finished_folder(finished):
    result = runner.invoke(app, ["experiment", "status", str(CI_RECIPE), "-o", str(finished)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 runs finished, 0 started, 0 waiting" in result.output
    assert "cross-entropy__seed0: finished (" in result.output


def test_results_of_other_settings_or_other_data_are_refused(finished, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    changed = write_recipe(tmp_path, train={**yaml.safe_load(CI_RECIPE.read_text())["train"], "lr": 2e-3})
    with pytest.raises(StaleArtifactError, match="other settings"):
        run_autoencoder_recipe(load_autoencoder_recipe(changed), run, log=lambda _: None)
    other_data = write_recipe(tmp_path, max_sentences=430)
    with pytest.raises(StaleArtifactError, match="other data"):
        run_autoencoder_recipe(load_autoencoder_recipe(other_data), run, log=lambda _: None)


def test_check_lists_the_data_tables_and_runs(shared_data):
    result = runner.invoke(app, ["experiment", "check", str(CI_RECIPE)])
    assert result.exit_code == 0, result.output
    assert "400 training, 20 validation and 20 test sentences" in result.output
    assert "2 runs" in result.output


def test_a_row_with_its_own_seeds_runs_only_those(tmp_path, shared_data):
    methods = [{"method": "none"}, {"method": "weighted-ce", "seeds": [1]}]
    path = write_recipe(tmp_path, seeds=[0, 1], methods=methods)
    recipe = load_autoencoder_recipe(path)
    runs = [recipe.run_id(row, seed) for row, seed in recipe.runs()]
    assert runs == ["cross-entropy__seed0", "cross-entropy__seed1", "weighted-ce__seed1"]
    assert [recipe.run_id(row, seed) for row, seed in recipe.runs(seeds=[0])] == runs[:1]
    assert recipe.config(methods[1], 1).method == "weighted-ce"  # `seeds` is not a training field
    with pytest.raises(ConfigError, match="seed"):
        recipe.runs(seeds=[2])
    check = runner.invoke(app, ["experiment", "check", str(path)])
    assert check.exit_code == 0, check.output
    assert "row cross-entropy: seeds 0, 1" in check.output and "row weighted-ce: seed 1" in check.output


def test_the_split_is_seeded_and_disjoint(shared_data):
    data = load_autoencoder_data(load_autoencoder_recipe(CI_RECIPE))
    again = load_autoencoder_data(load_autoencoder_recipe(CI_RECIPE))
    assert data == again
    assert not set(data.test) & set(data.train) and not set(data.val) & set(data.train)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"probe": {"tasks": ["snli"]}}, "probe"),
        ({"methods": [{"method": "none"}, {"method": "none"}]}, "same label"),
        ({"methods": [{"method": "semantic-ish"}]}, "unknown method"),
        ({"methods": [{"lr": 1e-3}]}, "methods"),
        ({"holdout": {"val": 0}}, "holdout"),
        ({"seeds": ["a"]}, "seeds"),
        ({"seeds": [0, 0]}, "repeat"),
        ({"methods": [{"method": "none", "seeds": [3]}]}, "row 'cross-entropy'"),
        ({"shuffle": True}, "unknown field"),
        ({"task": "seq2seq-ae"}, "task"),
    ],
)
def test_bad_recipes_name_the_field(tmp_path, changes, message):
    path = write_recipe(tmp_path, **changes)
    with pytest.raises(ConfigError, match=message) as error:
        load_autoencoder_recipe(path)
    assert path.name in str(error.value)


def test_too_few_sentences_for_the_holdout(tmp_path, shared_data):
    path = write_recipe(tmp_path, max_sentences=30)
    with pytest.raises(ConfigError, match="none to train on"):
        load_autoencoder_data(load_autoencoder_recipe(path))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_another_process_is_training_is_skipped(finished, tmp_path, jobs):
    # two `experiment run` processes on one folder: the run the other one holds is neither trained nor
    # recorded, the other is (with --jobs 2 in a worker process)
    import shutil

    from textsmooth.io.atomic import claim

    recipe = load_autoencoder_recipe(CI_RECIPE)
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    held_run = "soft-label_N=3__seed0"
    deleted = [held_run] if jobs == 1 else ["cross-entropy__seed0", held_run]
    for run_id in deleted:
        for path in (out / "results").glob(f"{run_id}.*"):
            path.unlink()
    logs: list[str] = []
    with claim(out / "runs" / held_run) as held:
        assert held
        records = run_autoencoder_recipe(recipe, out, jobs=jobs, log=logs.append, progress=False)
    assert [r["run_id"] for r in records] == ["cross-entropy__seed0"]
    assert any("skipped: another process is training it now" in line for line in logs), logs
    assert not (out / "results" / f"{held_run}.json").exists()
