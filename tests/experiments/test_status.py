"""``remaining_seconds`` (the training time left at the measured epoch times), ``headline`` (the score
shown per run) and ``epoch_progress`` (the position of the last mid-epoch checkpoint), hand-computed."""

from __future__ import annotations

import json

import pytest

from textsmooth.errors import ArtifactError
from textsmooth.experiments.status import (
    _EPOCH_SCORES,
    _TEST_SCORES,
    PlannedRun,
    RunState,
    epoch_progress,
    headline,
    remaining_seconds,
    remaining_wall_seconds,
)


def state(label: str, kind: str, epochs: int, times: tuple[float, ...], batches=None) -> RunState:
    return RunState(PlannedRun(f"{label}-{kind}", label, 0, epochs), kind, sum(times), times, None, batches)


def test_remaining_time_uses_each_rows_epoch_times_else_all():
    states = [
        state("none", "finished", 5, (10.0, 12.0, 14.0)),  # stopped early after 3 epochs: nothing left
        state("none", "started", 5, (20.0,)),  # 4 epochs to go at none's mean (14.0)
        state("semantic", "started", 4, (30.0, 50.0)),  # 2 to go at semantic's mean (40.0)
        state("token-ls", "waiting", 2, ()),  # no epoch of its own: the mean of all 6 epochs (22.67)
    ]
    every = (10 + 12 + 14 + 20 + 30 + 50) / 6
    assert remaining_seconds(states) == pytest.approx(4 * 14.0 + 2 * 40.0 + 2 * every)
    assert remaining_seconds([state("none", "waiting", 3, ())]) is None  # nothing measured yet


def test_wall_time_left_schedules_the_waiting_runs_on_the_processes_training_now():
    from dataclasses import replace

    states = [  # every row's epochs take 10 s
        state("a", "finished", 2, (10.0, 10.0)),
        replace(state("b", "started", 2, (10.0,)), holder=101),  # 10 s left, then process 101 is free
        replace(state("c", "started", 4, (10.0,)), holder=202),  # 30 s left
        state("d", "started", 3, (10.0,)),  # interrupted (no process): waits for one, 20 s
        state("e", "waiting", 1, ()),  # 10 s
        state("f", "waiting", 2, ()),  # 20 s
    ]
    assert remaining_seconds(states) == pytest.approx(10 + 30 + 20 + 10 + 20)
    # in order: d to 101 (free at 10) until 30; e to one of the two free at 30, until 40; f to the other,
    # until 50
    assert remaining_wall_seconds(states) == pytest.approx(50.0)
    assert remaining_wall_seconds([replace(s, holder=None) for s in states]) is None  # nobody training
    one = [replace(s, holder=101) if s.state == "started" else replace(s, holder=None) for s in states]
    assert remaining_wall_seconds(one) == pytest.approx(90.0)  # all held by one: the sum


def test_headline_takes_the_first_numeric_score_of_its_kind():
    assert str(headline({"bleu3": 40.0, "bleu": 36.414, "chrf": 60.0}, _TEST_SCORES)) == "test BLEU-4 36.41"
    assert str(headline({"accuracy": 0.91234, "macro_f1": 0.9}, _TEST_SCORES)) == "test accuracy 0.9123"
    assert str(headline({"epoch": 2, "val_bleu": 11.5, "accuracy": 0.5}, _EPOCH_SCORES)) == "val BLEU-4 11.50"
    assert str(headline({"epoch": 1, "accuracy": 0.75}, _EPOCH_SCORES)) == "dev accuracy 0.7500"
    assert headline({"bleu": None, "accuracy": True}, _TEST_SCORES) is None  # not numbers
    assert headline({"loss": 1.0}, _TEST_SCORES) is None and headline([36.4], _TEST_SCORES) is None


def test_remaining_time_counts_the_checkpointed_part_of_the_epoch_in_progress():
    states = [
        state("none", "finished", 2, (10.0, 10.0)),
        state("none", "started", 3, (10.0,), batches=(150, 200)),  # 1.75 epochs to go at 10 s
    ]
    assert states[1].epochs_fraction == pytest.approx(1.75)
    assert remaining_seconds(states) == pytest.approx(1.25 * 10.0)


def test_epoch_progress_reads_the_epoch_in_progress_only(tmp_path):
    path = tmp_path / "progress.json"
    assert epoch_progress(path, 0) is None  # no mid-epoch checkpoint yet
    path.write_text(json.dumps({"epoch": 1, "batches_done": 300, "batches": 454, "steps": 754}))
    assert epoch_progress(path, 1) == (300, 454, 0.0)  # written before the seconds were recorded
    path.write_text(json.dumps({"epoch": 1, "batches_done": 300, "batches": 454, "seconds": 612.5}))
    assert epoch_progress(path, 1) == (300, 454, 612.5)
    assert epoch_progress(path, 2) is None  # left from the second epoch, since finished
    path.write_text(json.dumps({"epoch": 1, "batches_done": 0, "batches": 454}))
    assert epoch_progress(path, 1) is None
    bad_seconds = json.dumps({"epoch": 1, "batches_done": 3, "batches": 4, "seconds": -1})
    for bad in ("{", json.dumps({"epoch": 1, "batches_done": "3", "batches": 4}), "[1, 2, 3]", bad_seconds):
        path.write_text(bad)
        with pytest.raises(ArtifactError, match=r"progress\.json"):
            epoch_progress(path, 1)
