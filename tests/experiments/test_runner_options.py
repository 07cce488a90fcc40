"""`experiment run` options and faults: --jobs, --seeds, classes by name, run time, corrupt or misplaced
run folders. One tiny recipe (3 trainings on the bundled TREC sample) is run once with --jobs 1 and once
with --jobs 2, and the other tests work on copies of those run folders."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from claim_holders import held_by_another_process
from recipe_copies import copy_recipe
from textsmooth.cli import app
from textsmooth.errors import ArtifactError, ConfigError
from textsmooth.experiments.recipe import load_recipe
from textsmooth.experiments.runner import format_duration, read_result

REPO = Path(__file__).resolve().parents[2]
CI_RECIPE = REPO / "recipes" / "ci-tiny.yaml"
write_recipe = functools.partial(copy_recipe, CI_RECIPE)
runner = CliRunner()
TIMINGS = ("seconds", "resumed")


def run_cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The same recipe run with --jobs 1 and --jobs 2 (seed 0 of two; distill listed before its
    hard-label teacher run, so a parallel run must wait for it to give the sequential result)."""
    folder = tmp_path_factory.mktemp("tiny")
    recipe = write_recipe(
        folder,
        methods=[{"method": "distill", "alpha": 1.0}, {"method": "none"}, {"method": "kwls", "alpha": 1.0}],
    )
    outputs = {}
    for jobs in (1, 2):
        out = folder / f"jobs{jobs}"
        report = "--report" if jobs == 1 else "--no-report"  # the report tests read the --jobs 1 folder
        result = run_cli(
            "experiment", "run", recipe, "-o", out, "--no-progress", "--seeds", "0", "--jobs", jobs, report
        )
        assert result.exit_code == 0, result.output
        outputs[jobs] = (out, result.output)
    return recipe, outputs


def test_jobs_2_gives_the_results_of_jobs_1(tiny_runs):
    _, outputs = tiny_runs
    (one, _), (two, log) = outputs[1], outputs[2]
    names = sorted(p.name for p in (one / "results").glob("*.json"))
    assert len(names) == 3 and names == sorted(p.name for p in (two / "results").glob("*.json"))
    for name in names:
        a, b = (
            json.loads((one / "results" / name).read_text()),
            json.loads((two / "results" / name).read_text()),
        )
        assert set(a) == set(b)
        for key in sorted(set(a) - set(TIMINGS)):
            assert a[key] == b[key], f"{name}: {key} differs between --jobs 1 and --jobs 2"
        with (
            np.load((one / "results" / name).with_suffix(".npz")) as x,
            np.load((two / "results" / name).with_suffix(".npz")) as y,
        ):
            assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
    # progress: every training announced as it starts and as it finishes
    assert "in 2 worker processes" in log
    assert log.count(" started") == 3 and log.count("finished balanced__") == 3
    # the LS-Distill run waited for its teacher (the hard-label run) although it is listed first
    assert log.index("none__seed0 started") < log.index("distill__seed0 started")
    assert log.index("finished balanced__textcnn__none__seed0") < log.index("distill__seed0 started")


def test_report_command_names_the_seeds_and_shows_seconds(tiny_runs):
    _, outputs = tiny_runs
    out = outputs[1][0]
    md = (out / "results.md").read_text()
    html = (out / "report.html").read_text()
    assert "--seeds 0`" in md and "--seeds 0</code>" in html
    assert "0.0 min" not in md + html
    total = sum(read_result(p).seconds for p in (out / "results").glob("*.json"))
    assert total < 180 and f"{format_duration(total)} of training" in md
    assert f"total run time:</b> {format_duration(total)}" in html
    # the copy of the recipe keeps all of its seeds; the manifest says which ones ran
    assert yaml.safe_load((out / "recipe.yaml").read_text())["seeds"] == [0, 1]
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [0]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0.0 s"),
        (4.24, "4.2 s"),
        (95.4, "95 s"),
        (179, "179 s"),
        (750, "12.5 min"),
        (11100, "3 h 05 min"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_status_lists_finished_and_waiting_runs(tiny_runs):
    recipe, outputs = tiny_runs
    result = run_cli("experiment", "status", recipe, "-o", outputs[1][0])
    assert result.exit_code == 0, result.output
    assert "balanced__textcnn__none__seed0: finished (1 epochs" in result.output
    record = json.loads((outputs[1][0] / "results" / "balanced__textcnn__none__seed0.json").read_text())
    assert f"test accuracy {record['test']['accuracy']:.4f})" in result.output
    assert "balanced__textcnn__none__seed1: waiting" in result.output  # the folder ran --seeds 0
    assert "3 of 6 runs finished, 0 started, 3 waiting" in result.output


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="Linux's lock table")
def test_status_names_the_process_training_a_run(tiny_runs, tmp_path):
    from textsmooth.io.atomic import claim

    recipe, outputs = tiny_runs
    out = tmp_path / "run"
    shutil.copytree(outputs[1][0], out)
    run_id, other = "balanced__textcnn__kwls__seed0", "balanced__textcnn__none__seed0"
    for suffix in (".json", ".npz"):
        (out / "results" / f"{run_id}{suffix}").unlink()  # started: its folder is there
    with claim(out / "runs" / run_id):  # this test process is "training" it
        result = run_cli("experiment", "status", recipe, "-o", out)
        again = run_cli(
            "experiment", "run", recipe, "-o", out, "--seeds", "0", "--no-progress", "--no-report"
        )
        for suffix in (".json", ".npz"):
            (out / "results" / f"{other}{suffix}").unlink()
        with held_by_another_process(out / "runs" / other) as pid:  # a second process trains another run
            two = run_cli("experiment", "status", recipe, "-o", out)
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0]: line for line in result.output.splitlines() if "__seed" in line}
    assert lines[run_id].startswith(f"{run_id}: started: 1 of 1 epochs")
    assert lines[run_id].endswith(f"; training now (process {os.getpid()})")
    assert sum("training now" in line for line in lines.values()) == 1
    assert "wall time" not in result.output  # one process: the training time left is the wall time
    assert "skipped: another process is training it now" in again.output  # status took no lock
    assert two.exit_code == 0, two.output
    assert f"{other}: started: 1 of 1 epochs" in two.output and f"(process {pid})" in two.output
    assert "of wall time with the 2 processes training now" in " ".join(two.output.split())
    after = run_cli("experiment", "status", recipe, "-o", out)
    assert "training now" not in after.output


def test_seeds_the_recipe_does_not_list_are_refused(tmp_path):
    out = tmp_path / "run"
    result = run_cli("experiment", "run", CI_RECIPE, "-o", out, "--seeds", "0,5")
    assert result.exit_code == 2 and "option --seeds" in result.output
    assert "seed(s) 5 not in the recipe" in result.output and "[0, 1]" in result.output
    assert not out.exists() and "Traceback" not in result.output
    bad = run_cli("experiment", "run", CI_RECIPE, "-o", out, "--seeds", "zero")
    assert bad.exit_code == 2 and "option --seeds" in bad.output and "comma-separated integers" in bad.output
    with pytest.raises(ConfigError, match="seed"):
        load_recipe(CI_RECIPE).check_seeds([7])


def test_a_row_with_its_own_seeds_runs_only_those(tmp_path):
    methods = [{"method": "none"}, {"method": "classic", "epsilon": 0.1, "seeds": [1]}]
    recipe = load_recipe(write_recipe(tmp_path, methods=methods))
    ids = [spec.run_id for spec in recipe.runs(n_classes=6)]
    assert ids == [
        "balanced__textcnn__none__seed0",
        "balanced__textcnn__none__seed1",
        "balanced__textcnn__classic__seed1",
    ]
    assert [spec.run_id for spec in recipe.runs(n_classes=6, seeds=[0])] == ids[:1]
    # `seeds` is the row's, not a training field (TrainConfig would refuse an unknown one)
    assert all(spec.config.epsilon == 0.1 for spec in recipe.runs(n_classes=6)[2:])
    check = run_cli("experiment", "check", write_recipe(tmp_path, methods=methods))
    assert check.exit_code == 0, check.output
    assert "row none: seeds 0, 1" in check.output and "row classic: seed 1" in check.output
    assert "3 runs" in check.output


@pytest.mark.parametrize("row_seeds", [[5], [], 0, [0, 0], [True]])
def test_bad_row_seeds_name_the_row_and_field(tmp_path, row_seeds):
    methods = [{"method": "none"}, {"method": "classic", "seeds": row_seeds}]
    path = write_recipe(tmp_path, methods=methods)
    with pytest.raises(ConfigError, match="row 'classic'") as error:
        load_recipe(path)
    assert error.value.column == "methods.seeds" and path.name in str(error.value)


def test_classes_by_name_or_id(tmp_path):
    from textsmooth.experiments.runner import load_recipe_data

    names = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    recipe = load_recipe(
        write_recipe(tmp_path, setting="unbalanced", unbalanced={"ratio": 10, "classes": ["HUM", 1]})
    )
    train, _ = load_recipe_data(recipe)
    assert train.label_names == names
    specs = recipe.runs(label_names=train.label_names)
    assert {s.variant for s in specs} == {"minority=3", "minority=1"}
    assert {s.data_change.minority for s in specs} == {3, 1}
    grid = load_recipe(
        write_recipe(tmp_path, setting="imbalance-grid", grid={"keep": "DESC", "c": [1], "m": [5]})
    )
    assert {s.data_change.keep for s in grid.runs(label_names=names)} == {1}
    # an unknown name: the recipe file, the field and the known names
    path = write_recipe(tmp_path, "unknown.yaml", setting="unbalanced", unbalanced={"classes": ["HUMAN"]})
    with pytest.raises(ConfigError) as info:
        load_recipe(path).runs(label_names=names)
    message = str(info.value)
    assert str(path) in message and "unbalanced.classes" in message and "unknown class 'HUMAN'" in message
    assert "known classes: ABBR, DESC, ENTY, HUM, LOC, NUM" in message
    with pytest.raises(ConfigError, match="class id 6 is out of range"):
        load_recipe(write_recipe(tmp_path, setting="unbalanced", unbalanced={"classes": [6]})).runs(
            label_names=names
        )
    with pytest.raises(ConfigError, match=r"unbalanced\.classes"):
        load_recipe(write_recipe(tmp_path, setting="unbalanced", unbalanced={"classes": [-1]}))
    with pytest.raises(ConfigError, match="must be a list"):
        load_recipe(write_recipe(tmp_path, setting="unbalanced", unbalanced={"classes": "HUM"}))
    # the command line: `check` lists the runs of a recipe naming its classes, and reports a bad name
    good = run_cli(
        "experiment",
        "check",
        write_recipe(tmp_path, "good.yaml", setting="unbalanced", unbalanced={"classes": ["LOC"]}),
    )
    assert good.exit_code == 0 and "minority=4__textcnn__none__seed0" in good.output
    result = run_cli("experiment", "check", path)
    assert (
        result.exit_code == 2
        and "unknown class 'HUMAN'" in result.output
        and "Traceback" not in result.output
    )
    result = run_cli("experiment", "run", path, "-o", tmp_path / "run")
    assert result.exit_code == 2 and "unbalanced.classes" in result.output


def test_run_folder_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    result = run_cli("experiment", "run", CI_RECIPE, "-o", target)
    assert result.exit_code == 2 and "option -o" in result.output and "is a file" in result.output
    assert target.read_text() == "keep me"
    below = run_cli("experiment", "run", CI_RECIPE, "-o", target / "run")
    assert below.exit_code == 2 and "is a file, not a folder" in below.output


@pytest.mark.parametrize(
    ("content", "message"), [('{"run_id": ', "not valid JSON"), ("[]", "not a result record")]
)
def test_corrupt_result_file_is_named(tiny_runs, tmp_path, content, message):
    recipe, outputs = tiny_runs
    out = tmp_path / "run"
    shutil.copytree(outputs[1][0], out)
    broken = out / "results" / "balanced__textcnn__kwls__seed0.json"
    broken.write_text(content)
    with pytest.raises(ArtifactError, match=message):
        read_result(broken)
    for args in (("report", out), ("experiment", "run", recipe, "-o", out, "--seeds", "0", "--no-progress")):
        result = run_cli(*args)
        assert result.exit_code == 2, result.output
        flat = " ".join(result.output.split())
        assert "balanced__textcnn__kwls__seed0.json" in flat and message in flat and "delete it" in flat
        assert "Traceback" not in result.output and "started" not in result.output
    assert broken.read_text() == content


def test_resumed_run_counts_the_time_before_the_interruption(tiny_runs, tmp_path):
    """A training interrupted after 25 s of checkpointed work (on top of 40 s from an earlier session)
    and then resumed: its record counts those 65 s plus the time after the resume."""
    recipe, outputs = tiny_runs
    out = tmp_path / "run"
    shutil.copytree(outputs[1][0], out)
    run_id = "balanced__textcnn__kwls__seed0"
    for suffix in (".json", ".npz"):
        (out / "results" / f"{run_id}{suffix}").unlink()
    ledger = out / "runs" / run_id / "timing.json"
    account = json.loads(ledger.read_text())
    since = time.time() - 1000
    ledger.write_text(json.dumps({**account, "seconds": 40.0, "since": since}))
    for saved in (out / "runs" / run_id).iterdir():  # the interrupted session's last checkpoint
        if saved.is_file() and saved != ledger:
            os.utime(saved, (since + 25, since + 25))
    # a record written before TrainConfig had min_delta counts as made with its default
    old = out / "results" / "balanced__textcnn__none__seed0.json"
    record = json.loads(old.read_text())
    record["config"].pop("min_delta", None)
    old.write_text(json.dumps(record))
    result = run_cli("experiment", "run", recipe, "-o", out, "--seeds", "0", "--no-progress", "--no-report")
    assert result.exit_code == 0, result.output
    assert re.findall(r"\[\d+/3\] (\S+)", result.output) == [run_id]  # only the deleted run trained
    resumed = read_result(out / "results" / f"{run_id}.json")
    assert resumed.resumed is True and 65 <= resumed.seconds < 65 + 120
    assert json.loads(ledger.read_text())["since"] is None
    # a recipe with another min_delta does not reuse these results
    edited = write_recipe(
        tmp_path,
        "edited.yaml",
        train={**yaml.safe_load(CI_RECIPE.read_text())["train"], "min_delta": 0.01},
        methods=[{"method": "distill", "alpha": 1.0}, {"method": "none"}, {"method": "kwls", "alpha": 1.0}],
    )
    stale = run_cli("experiment", "run", edited, "-o", out, "--seeds", "0", "--no-progress")
    assert stale.exit_code == 2 and "made with other settings (min_delta)" in " ".join(stale.output.split())


def test_min_delta_reaches_the_training_config(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, train={"epochs": 2, "min_delta": 0.005}))
    assert {spec.config.min_delta for spec in recipe.runs(6)} == {0.005}
    path = write_recipe(tmp_path, train={"epochs": 2, "min_delta": -1})
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert str(path) in str(info.value) and "min_delta must be a number >= 0" in str(info.value)


def test_interrupted_training_leaves_no_record(tmp_path, monkeypatch):
    import textsmooth.training.loop as loop
    from textsmooth.experiments.runner import run_recipe

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_classifier", interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_recipe(load_recipe(CI_RECIPE), out, seeds=[0], progress=False, log=lambda line: None)
    assert list((out / "results").iterdir()) == []
    assert json.loads((out / "runs" / "balanced__textcnn__none__seed0" / "timing.json").read_text())["since"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_another_process_is_training_is_skipped_with_the_runs_that_need_it(tiny_runs, tmp_path, jobs):
    """Two `experiment run` processes on one folder: a run the other one holds (its claim,
    RUN_DIR/runs/<run>.lock) is neither trained nor recorded, nor the LS-Distill run whose teacher it is;
    once the claim is released a run trains them."""
    from textsmooth.io.atomic import claim

    recipe, outputs = tiny_runs
    out = tmp_path / "run"
    shutil.copytree(outputs[1][0], out)
    teacher, student = "balanced__textcnn__none__seed0", "balanced__textcnn__distill__seed0"
    for run_id in (teacher, student):
        for suffix in (".json", ".npz"):
            (out / "results" / f"{run_id}{suffix}").unlink()
    args = ("experiment", "run", recipe, "-o", out, "--seeds", "0", "--no-progress", "--no-report")
    with claim(out / "runs" / teacher) as held:  # "the other process", training the teacher run
        assert held
        result = run_cli(*args, "--jobs", str(jobs))
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "skipped: another process is training it now" in flat
    assert (
        f"{student}: skipped: it takes its teacher from {teacher}, which another process is training" in flat
    )
    assert "1 of 3 runs finished; 2 skipped (see above)" in flat  # the kwls run, finished before
    assert sorted(p.stem for p in (out / "results").glob("*.json")) == ["balanced__textcnn__kwls__seed0"]
    if jobs == 1:  # released: the next run trains both (the teacher first)
        again = run_cli(*args)
        assert again.exit_code == 0 and "skipped" not in again.output, again.output
        assert re.findall(r"\[\d+/3\] (\S+)", again.output) == [teacher, student]
        for run_id in (teacher, student):
            assert read_result(out / "results" / f"{run_id}.json").run_id == run_id


def test_a_claimed_run_another_process_finished_meanwhile_is_read_not_trained(tmp_path):
    # the race two processes can have: B lists a run as to do, A finishes it, then B takes the claim
    from textsmooth.experiments.runner import train_claimed
    from textsmooth.io.atomic import claim

    def train():
        raise AssertionError("trained a finished run")

    assert train_claimed(tmp_path, "r", lambda: "A's record", train) == "A's record"
    assert train_claimed(tmp_path, "r", lambda: None, lambda: "trained") == "trained"
    with claim(tmp_path / "runs" / "r"):
        assert train_claimed(tmp_path, "r", lambda: "A's record", train) is None  # held: skipped
