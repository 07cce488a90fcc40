"""Seq2seq recipes end to end: the tiny CI recipe runs, resumes, reports; stale or bad runs are refused.

The recipe reads the first pairs of Multi30k; the test is skipped when the corpus is not beside the
repository (CI has it in ../shared/data)."""

from __future__ import annotations

import functools
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("transformers")

from recipe_copies import copy_recipe
from textsmooth.cli import app
from textsmooth.errors import ArtifactError, ConfigError, DataError
from textsmooth.experiments.seq2seq import load_seq2seq_recipe, run_seq2seq_recipe
from textsmooth.sequence import NeighborTable

REPO = Path(__file__).resolve().parents[2]
CI_RECIPE = REPO / "recipes" / "ci-seq2seq-tiny.yaml"
write_recipe = functools.partial(copy_recipe, CI_RECIPE)
runner = CliRunner()


@pytest.fixture(scope="module")
def multi30k():
    from textsmooth.sequence import multi30k_root

    try:
        return multi30k_root()
    except DataError:
        pytest.skip("Multi30k is not beside the repository")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def finished(tmp_path_factory, multi30k):
    out = tmp_path_factory.mktemp("ci-seq2seq") / "run"
    result = invoke("experiment", "run", CI_RECIPE, "-o", out, "--no-progress")
    assert result.exit_code == 0, result.output
    return out


def test_ci_recipe_runs_and_reports(finished):
    records = sorted((finished / "results").glob("*.json"))
    assert len(records) == 2
    for path in records:
        record = json.loads(path.read_text())
        assert {"bleu", "bleu3", "bleu5", "chrf"} <= set(record["test"]) and record["history"]
        hyps = (finished / "results" / path.name.replace(".json", ".hyp.txt")).read_text().splitlines()
        assert len(hyps) == record["n_test"] == 40
        assert not (finished / "runs" / record["run_id"] / "checkpoint.pt").exists()
    semantic = json.loads(next(p for p in records if "semantic" in p.name).read_text())
    assert semantic["table"]["name"] == "semantic-bleu4" and len(semantic["table"]["sha256"]) == 64
    md = (finished / "results.md").read_text()
    assert "| none |" in md and "| semantic alpha=0.1 k=3 m=2 |" in md
    assert "(strongest baseline)" in md and "BLEU-5" in md and "Related targets (semantic-bleu4)" in md
    html = (finished / "report.html").read_text()
    assert html.count("data:image/png;base64") == 1 and "the paper's Table 1" in html
    # the report command rebuilds the same tables
    assert invoke("report", finished).exit_code == 0
    assert (finished / "results.md").read_text() == md


def test_the_report_gives_every_two_rows_their_p_value(finished):
    from textsmooth.experiments.seq2seq_report import paired_bleu_p_value

    records = [json.loads(p.read_text()) for p in sorted((finished / "results").glob("*.json"))]
    by_method = {r["method"]: r for r in records}
    none, semantic = by_method["none"], by_method["semantic alpha=0.1 k=3 m=2"]

    def hyps(record):
        return (finished / "results" / f"{record['run_id']}.hyp.txt").read_text().splitlines()

    references = (finished / "data" / "de-en.test.ref.txt").read_text().splitlines()
    expected = paired_bleu_p_value(hyps(none), hyps(semantic), references)
    md = (finished / "results.md").read_text()
    matrix = md.split("Paired bootstrap p-values of every two rows, seed 0")[1].split("\n\n")[1].splitlines()
    assert matrix[0] == "| row (test BLEU-4) | 1 | 2 |"  # the recipe's order: none, then semantic
    assert matrix[2] == f"| 1. none ({none['test']['bleu']:.2f}) | · | {expected:.3f} |"
    assert matrix[3] == f"| 2. semantic alpha=0.1 k=3 m=2 ({semantic['test']['bleu']:.2f}) |  | · |"


def test_the_report_tests_the_seed_means_of_rows_with_two_seeds(tmp_path, finished):
    """A second seed of both rows (seed 0's records and hypotheses, each line's last word dropped): the
    strongest-baseline table gives the p-value of each seed and of the two rows' seed means."""
    import sacrebleu

    from textsmooth.seq2seq.decode import paired_bleu_p_value_over_seeds

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("runs", "*.parquet"))
    references = (copy / "data" / "de-en.test.ref.txt").read_text().splitlines()
    hyps = {}
    for path in sorted((copy / "results").glob("*__seed0.json")):
        record = json.loads(path.read_text())
        lines = (copy / "results" / f"{record['run_id']}.hyp.txt").read_text().splitlines()
        shorter = [" ".join(line.split()[:-1]) for line in lines]
        hyps[record["method"]] = (lines, shorter)
        run_id = record["run_id"].replace("__seed0", "__seed1")
        record.update(run_id=run_id, seed=1)
        record["test"]["bleu"] = sacrebleu.corpus_bleu(shorter, [references]).score
        (copy / "results" / f"{run_id}.json").write_text(json.dumps(record))
        (copy / "results" / f"{run_id}.hyp.txt").write_text("\n".join(shorter) + "\n")
    assert invoke("report", copy).exit_code == 0
    md = (copy / "results.md").read_text()
    table = md.split("| method | BLEU-4 (test) |")[1].split("\n\n")[0].splitlines()
    assert table[0].endswith("| p vs strongest baseline (per seed) | p vs strongest baseline (seed means) |")
    none, semantic = hyps["none"], hyps["semantic alpha=0.1 k=3 m=2"]
    expected = paired_bleu_p_value_over_seeds(none, semantic, references)
    row = next(line for line in table if line.startswith("| semantic alpha=0.1 k=3 m=2 |"))
    assert row.endswith(f"| {expected:.3f} |") and "| 2 |" in row
    assert next(line for line in table if line.startswith("| none |")).endswith("| (strongest baseline) |  |")
    matrix = md.split("every two rows' seed means, seeds 0, 1")[1].split("\n\n")[1].splitlines()
    assert matrix[2].startswith("| 1. none (") and matrix[2].endswith(f"| · | {expected:.3f} |")


def test_the_report_tests_each_two_runs_once(tmp_path, finished, monkeypatch):
    # the strongest-baseline table and the every-two-rows triangle share the none/semantic comparison
    from textsmooth.experiments import seq2seq_report

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("runs", "*.parquet"))
    calls = []
    original = seq2seq_report.paired_bleu_p_value

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(seq2seq_report, "paired_bleu_p_value", counted)
    seq2seq_report.build_seq2seq_report(copy)
    assert len(calls) == 1
    assert (copy / "results.md").read_text() == (finished / "results.md").read_text()


def test_a_second_run_trains_nothing_and_edited_settings_are_refused(tmp_path, finished):
    again = invoke("experiment", "run", CI_RECIPE, "-o", finished, "--no-progress", "--no-report")
    assert again.exit_code == 0 and "[1/2]" not in again.output and "built" not in again.output
    raw = yaml.safe_load(CI_RECIPE.read_text())
    edited = write_recipe(tmp_path, train={**raw["train"], "lr": 1.0e-3})
    stale = invoke("experiment", "run", edited, "-o", finished, "--no-progress")
    assert stale.exit_code == 2 and "made with other settings (lr)" in stale.output
    other = write_recipe(tmp_path, max_train=200)
    changed = invoke("experiment", "run", other, "-o", finished, "--no-progress")
    assert changed.exit_code == 2 and "computed on other data (de-en train)" in changed.output
    wrong_seed = invoke("experiment", "run", CI_RECIPE, "-o", finished, "--seeds", "3")
    assert wrong_seed.exit_code == 2 and "--seeds" in wrong_seed.output


def test_runtime_settings_keep_finished_results(tmp_path, finished):
    # how a run executes (threads, device, mid-epoch checkpoints, fused projection) is not what it computes
    raw = yaml.safe_load(CI_RECIPE.read_text())
    runtime = write_recipe(
        tmp_path, train={**raw["train"], "checkpoint_every": 3, "num_threads": 2, "output_chunk_size": 64}
    )
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    again = invoke("experiment", "run", runtime, "-o", copy, "--no-progress", "--no-report")
    assert again.exit_code == 0, again.output
    assert "[1/2]" not in again.output and "2 of 2 runs finished" in again.output


def test_interrupted_run_resumes_and_parallel_runs_agree(tmp_path, finished, monkeypatch):
    from textsmooth.seq2seq import objective

    recipe = load_seq2seq_recipe(CI_RECIPE)
    calls = {"n": 0}
    original = objective.seq2seq_loss

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 13:  # in the second run (10 steps each)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    out = tmp_path / "run"
    monkeypatch.setattr(objective, "seq2seq_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_seq2seq_recipe(recipe, out, progress=False, log=lambda _: None)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    assert len(list((out / "results").glob("*.json"))) == 1
    records = run_seq2seq_recipe(recipe, out, progress=False, log=lambda _: None)
    expected = {p.name: p.read_text() for p in (finished / "results").glob("*.hyp.txt")}
    assert {p.name: p.read_text() for p in (out / "results").glob("*.hyp.txt")} == expected
    assert [r.test for r in records] == [
        json.loads((finished / "results" / f"{r.run_id}.json").read_text())["test"] for r in records
    ]
    parallel = run_seq2seq_recipe(recipe, tmp_path / "jobs2", jobs=2, progress=False, log=lambda _: None)
    assert [r.test for r in parallel] == [r.test for r in records]


def test_bad_recipes_fail_before_training(tmp_path, multi30k):
    cases = [
        ({"methods": [{"method": "semantic-ls"}]}, "unknown method"),
        ({"methods": [{"method": "none", "alpah": 0.1}]}, "unknown field"),
        ({"pairs": ["de-de"]}, "pairs"),
        ({"neighbors": {"k": 2}}, "neighbors.k"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"train": {"epochs": 0}}, "epochs"),
        ({"methods": [{"method": "none", "seeds": [5]}]}, "methods.seeds"),
        ({"methods": [{"method": "none", "seeds": []}]}, "methods.seeds"),
        ({"methods": [{"method": "none", "seeds": 0}]}, "methods.seeds"),
        ({"methods": [{"method": "token-ls", "min_cosine": 0.5}]}, "methods.min_cosine"),
        ({"methods": [{"method": "semantic", "min_cosine": 2}]}, "methods.min_cosine"),
        ({"neighbors": {"k": 10, "min_cosine": "high"}}, "neighbors.min_cosine"),
    ]
    for changes, message in cases:
        path = write_recipe(tmp_path, **changes)
        with pytest.raises(ConfigError) as info:
            load_seq2seq_recipe(path)
        assert message in str(info.value) and str(path) in str(info.value), (changes, info.value)
    check = invoke("experiment", "check", CI_RECIPE)
    assert check.exit_code == 0 and "2 runs" in check.output and "semantic-bleu4" in check.output
    assert "row none: seed 0" in check.output and "row semantic alpha=0.1 k=3 m=2: seed 0" in check.output
    methods = [{"method": "none"}, {"method": "token-ls", "seeds": [1]}]
    two = invoke("experiment", "check", write_recipe(tmp_path, seeds=[0, 1], methods=methods))
    assert "row none: seeds 0, 1" in two.output and "row token-ls: seed 1" in two.output, two.output


def test_a_row_with_its_own_seeds_runs_only_those(tmp_path, multi30k):
    methods = [
        {"method": "none"},
        {"method": "semantic", "alpha": 0.1, "related_k": 3},
        {"method": "semantic", "alpha": 0.01, "related_k": 5, "seeds": [1]},
    ]
    recipe = load_seq2seq_recipe(write_recipe(tmp_path, seeds=[0, 1], methods=methods))
    ids = [spec.run_id for spec in recipe.runs()]
    assert ids == [
        "de-en__none__seed0",
        "de-en__none__seed1",
        "de-en__semantic_alpha=0.1_k=3__seed0",
        "de-en__semantic_alpha=0.1_k=3__seed1",
        "de-en__semantic_alpha=0.01_k=5__seed1",
    ]
    assert [spec.run_id for spec in recipe.runs(seeds=[0])] == ids[0:1] + ids[2:3]
    # the row's seeds are not a training setting (runs() would fail on an unknown field), and the
    # table keeps the largest k' of the rows using it
    assert recipe.runs()[-1].config.seed == 1
    assert {spec.table.keep for spec in recipe.runs() if spec.table} == {5}


def test_a_corrupt_result_is_named(tmp_path, finished):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    bad = next((copy / "results").glob("*.json"))
    bad.write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt result file"):
        run_seq2seq_recipe(load_seq2seq_recipe(CI_RECIPE), copy, progress=False, log=lambda _: None)
    result = invoke("report", copy)
    assert result.exit_code == 2 and bad.name in result.output


def test_the_report_shows_each_seed(tmp_path, finished):
    out = tmp_path / "run"
    shutil.copytree(finished, out)  # seed 0's two runs are reused; maximum likelihood trains on seed 1
    raw = yaml.safe_load(CI_RECIPE.read_text())
    methods = [raw["methods"][0], {**raw["methods"][1], "seeds": [0]}]
    result = invoke("experiment", "run", write_recipe(tmp_path, seeds=[0, 1], methods=methods), "-o", out,
                    "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    bleu = {(r["method"], r["seed"]): r["test"]["bleu"] for r in records}
    md = (out / "results.md").read_text()
    table = md.split("BLEU-4 (test) per seed:")[1].split("\n\n")[1].splitlines()
    assert table[0] == "| method | seed 0 | seed 1 |"
    none, semantic = "none", next(label for label, _ in bleu if label != "none")
    assert f"| {none} | {bleu[none, 0]:.2f} | {bleu[none, 1]:.2f} |" in table
    assert f"| {semantic} | {bleu[semantic, 0]:.2f} | – |" in table
    assert "BLEU-4 (test) per seed" in (out / "report.html").read_text()
    assert "BLEU-4 (test) per seed" not in (finished / "results.md").read_text()  # one seed: no table


def test_the_report_sets_ablations_against_the_first_semantic_row(tmp_path, finished):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)  # the two finished runs are reused; only the new rows train
    raw = yaml.safe_load(CI_RECIPE.read_text())
    extra = [
        {"method": "semantic", "alpha": 0.01, "related_k": 3, "related_per_step": 2},
        {"method": "semantic-no-rerank", "alpha": 0.1, "related_k": 3, "related_per_step": 2},
        {"method": "semantic", "alpha": 0.1, "related_k": 3, "related_per_step": 2, "min_cosine": 0.6},
    ]
    result = invoke("experiment", "run", write_recipe(tmp_path, methods=raw["methods"] + extra), "-o", out,
                    "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    records = {r["method"]: r for r in (json.loads(p.read_text()) for p in (out / "results").glob("*.json"))}
    reference = records["semantic alpha=0.1 k=3 m=2"]["test"]["bleu"]
    md = (out / "results.md").read_text()
    assert "Ablations of the semantic row" in md
    lines = {
        line.split(" | ")[0].strip("| "): line.split(" | ")
        for line in md.splitlines()
        if line.startswith("| ")
    }
    assert lines["semantic alpha=0.1 k=3 m=2"][1] == "(reference)"
    alpha = lines["semantic alpha=0.01 k=3 m=2"]
    assert alpha[1] == "alpha 0.1 -> 0.01"
    delta = records["semantic alpha=0.01 k=3 m=2"]["test"]["bleu"] - reference
    assert alpha[3] == f"{delta:+.2f} (1 seed)" and 0 <= float(alpha[4].strip(" |")) <= 1
    assert lines["semantic-no-rerank alpha=0.1 k=3 m=2"][1] == "method semantic-no-rerank"
    # a cosine floor: its own table, every kept neighbour at or above it (fewer kept where too few are)
    floored = records["semantic alpha=0.1 k=3 m=2 min-cos=0.6"]
    assert (
        floored["table"]["name"] == "semantic-bleu4-min0.6"
        and floored["table"]["params"]["min_cosine"] == 0.6
    )
    assert lines["semantic alpha=0.1 k=3 m=2 min-cos=0.6"][1] == "table semantic-bleu4-min0.6"
    table = NeighborTable.read(out / "tables" / "de-en" / "semantic-bleu4-min0.6.parquet")
    full = NeighborTable.read(out / "tables" / "de-en" / "semantic-bleu4.parquet")
    assert len(table) > 0 and table.cosine.min() >= 0.6 - 1e-6 and len(table) < len(full)
    assert "Ablations of the semantic row" in (out / "report.html").read_text()
    assert "Ablations" not in (finished / "results.md").read_text()  # one semantic row: no section


def test_status_and_the_run_time_of_a_resumed_run(tmp_path, multi30k, monkeypatch):
    from textsmooth.seq2seq import objective

    raw = yaml.safe_load(CI_RECIPE.read_text())
    methods = [{"method": "none"}, {"method": "token-ls", "label_smoothing": 0.1}]
    train = {**raw["train"], "epochs": 2, "checkpoint_every": 3}
    path = write_recipe(tmp_path, train=train, methods=methods)
    out = tmp_path / "run"
    calls = {"n": 0}
    original = objective.seq2seq_loss

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 15:  # 10 steps an epoch: in the first run's second epoch
            raise KeyboardInterrupt
        if calls["n"] <= 10:
            time.sleep(0.5)  # a first epoch longer than what the resuming process spends (5 s)
        if calls["n"] in (11, 12):
            time.sleep(1.0)  # the second epoch's 2 s before its checkpoint at step 12
        return original(*args, **kwargs)

    monkeypatch.setattr(objective, "seq2seq_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_seq2seq_recipe(load_seq2seq_recipe(path), out, progress=False, log=lambda _: None)
    monkeypatch.setattr(objective, "seq2seq_loss", original)
    status = invoke("experiment", "status", path, "-o", out)
    assert status.exit_code == 0, status.output
    # the last checkpoint (step 12 of the 14 trained) was 2 batches into the second epoch
    assert "de-en__none__seed0: started: 1 of 2 epochs, epoch 2 at batch 2 of 10 (" in status.output
    # the run time so far counts the checkpointed part of the second epoch (its 2 s of sleeps)
    within = json.loads((out / "runs" / "de-en__none__seed0" / "progress.json").read_text())["seconds"]
    assert within >= 2.0
    val_bleu = json.loads((out / "runs" / "de-en__none__seed0" / "metrics.jsonl").read_text())["val_bleu"]
    assert f"so far, val BLEU-4 {val_bleu:.2f})" in status.output
    assert "de-en__token-ls_ls=0.1__seed0: waiting" in status.output
    assert "0 of 2 runs finished, 1 started, 1 waiting" in status.output
    assert "of training left at the epoch times measured so far" in status.output
    first_epoch = json.loads((out / "runs" / "de-en__none__seed0" / "metrics.jsonl").read_text())["seconds"]
    from textsmooth.experiments.records import format_duration

    assert f"({format_duration(first_epoch + within)} so far," in status.output

    records = run_seq2seq_recipe(load_seq2seq_recipe(path), out, progress=False, log=lambda _: None)
    resumed = next(r for r in records if r.run_id == "de-en__none__seed0")
    assert resumed.resumed and len(resumed.history) == 2
    # the epoch trained before the interruption (over 5 s) and the checkpointed part of the second (2 s)
    # count in the run's time, with this process's
    assert first_epoch >= 5 and resumed.history[1]["seconds"] >= 2.0
    assert resumed.seconds >= first_epoch + resumed.history[1]["seconds"]
    done = invoke("experiment", "status", path, "-o", out)
    assert "2 of 2 runs finished, 0 started, 0 waiting" in done.output, done.output
    assert "de-en__none__seed0: finished (2 epochs" in done.output
    assert f"test BLEU-4 {resumed.test['bleu']:.2f})" in done.output
    missing = invoke("experiment", "status", path, "-o", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "is not a run folder" in missing.output


def test_a_table_another_process_is_building_is_waited_for_then_reused(tmp_path, multi30k):
    import threading

    from filelock import FileLock

    from textsmooth.experiments.seq2seq import _build_table, _build_table_locked, load_seq2seq_data

    methods = [{"method": "token-swap", "alpha": 0.1, "related_k": 2}]
    recipe = load_seq2seq_recipe(write_recipe(tmp_path, methods=methods))
    (spec,) = recipe.tables()
    train = load_seq2seq_data(recipe)[spec.pair][0]
    out, logs = tmp_path / "run", []
    path = spec.path(out)
    path.parent.mkdir(parents=True)
    holder = FileLock(str(path) + ".lock")  # another process building this table
    holder.acquire()
    worker = threading.Thread(target=_build_table, args=(spec, train, out, 2, False, logs.append))
    worker.start()
    worker.join(timeout=2.0)
    assert worker.is_alive() and not path.exists() and not logs  # it waits; it builds nothing yet
    table = _build_table_locked(spec, train, out, 2, False, logs.append)  # what the holder does in it
    holder.release()
    worker.join(timeout=60)
    assert not worker.is_alive() and path.is_file()
    assert logs[0].startswith("  built") and logs[1].startswith("  reusing"), logs  # built once
    assert len(table) > 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_another_process_is_training_is_skipped(tmp_path, finished, jobs):
    # two `experiment run` processes on one folder: the run the other one holds is neither trained nor
    # recorded; the rest are (with --jobs 2 the other run trains in a worker process)
    from textsmooth.experiments.seq2seq import _run_claimed
    from textsmooth.io.atomic import claim

    recipe = load_seq2seq_recipe(CI_RECIPE)
    plain, semantic = recipe.runs()
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    deleted = [semantic] if jobs == 1 else [plain, semantic]
    for spec in deleted:
        for path in (out / "results").glob(f"{spec.run_id}.*"):
            path.unlink()
    logs: list[str] = []
    with claim(out / "runs" / semantic.run_id) as held:
        assert held
        records = run_seq2seq_recipe(recipe, out, jobs=jobs, progress=False, log=logs.append)
    assert [r.run_id for r in records] == [plain.run_id]
    assert any("skipped: another process is training it now" in line for line in logs), logs
    assert not (out / "results" / f"{semantic.run_id}.json").exists()
    expected = json.loads((finished / "results" / f"{plain.run_id}.json").read_text())["test"]
    assert records[0].test == expected
    if jobs == 1:  # the record the other process wrote meanwhile is read, not trained again
        for path in (finished / "results").glob(f"{semantic.run_id}.*"):
            shutil.copy(path, out / "results")

        def train():
            raise AssertionError("trained a finished run")

        assert _run_claimed(semantic, out, train).run_id == semantic.run_id
