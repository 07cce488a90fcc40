"""``remaining_seconds``: the training time left at the measured epoch times, hand-computed."""

from __future__ import annotations

import pytest

from textsmooth.experiments.status import PlannedRun, RunState, remaining_seconds


def state(label: str, kind: str, epochs: int, times: tuple[float, ...]) -> RunState:
    return RunState(PlannedRun(f"{label}-{kind}", label, 0, epochs), kind, sum(times), times)


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
