"""Where a recipe's run folder stands: which runs are finished, which have begun (and how many epochs
they have), which wait. ``textsmooth experiment status RECIPE -o RUN_DIR`` prints it; long grids that
run over several sessions resume from it.

A run is *finished* when its record ``RUN_DIR/results/<run>.json`` exists (the runners write it last,
atomically), *started* when its folder ``RUN_DIR/runs/<run>/`` exists (the epochs so far are the lines
of its ``metrics.jsonl``), else *waiting*. Each finished run shows its test score and each started run
its last validation score (:func:`headline`); a started seq2seq run with mid-epoch checkpoints also shows
how far its last checkpoint got into the epoch in progress (``progress.json``, :func:`epoch_progress`),
and a run a process is training now names that process (it holds the run's claim,
``RUN_DIR/runs/<run>.lock``, read from the kernel's lock table without taking it). Nothing is trained,
loaded, locked or written.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textsmooth.errors import ArtifactError
from textsmooth.io.atomic import claim_holder

__all__ = [
    "PlannedRun",
    "RunState",
    "Score",
    "epoch_lines",
    "epoch_progress",
    "headline",
    "remaining_seconds",
    "remaining_wall_seconds",
    "run_states",
]


@dataclass(frozen=True)
class PlannedRun:
    """A run of a recipe: its id, the method row's label, its seed and its most epochs."""

    run_id: str
    label: str
    seed: int
    epochs: int


@dataclass(frozen=True)
class Score:
    """A named score shown with ``digits`` decimals (``str(score)``: ``"test BLEU-4 36.41"``)."""

    name: str
    value: float
    digits: int

    def __str__(self) -> str:
        return f"{self.name} {self.value:.{self.digits}f}"


@dataclass(frozen=True)
class RunState:
    """What the run folder holds for one :class:`PlannedRun`.

    Attributes:
        state: ``finished``, ``started`` or ``waiting``.
        seconds: the record's run time (finished), or the finished epochs' times plus the checkpointed
            time of the epoch in progress (started).
        epoch_times: the seconds of each finished epoch (from a finished run's record history, else
            its ``metrics.jsonl``).
        score: a finished run's test score, a started run's last validation score (:func:`headline`);
            ``None`` before the first epoch or where the files have none.
        batches: a started run's ``(batches done, batches)`` of the epoch in progress at its last
            mid-epoch checkpoint (:func:`epoch_progress`), else ``None``.
        holder: the id of the process training the run now (it holds the run's claim,
            :func:`~textsmooth.io.atomic.claim_holder`), else ``None`` (no process, or not known here).
    """

    run: PlannedRun
    state: str
    seconds: float
    epoch_times: tuple[float, ...] = ()
    score: Score | None = None
    batches: tuple[int, int] | None = None
    holder: int | None = None

    @property
    def epochs_done(self) -> int:
        """The epochs the run has finished (fewer than planned where early stopping ended it)."""
        return len(self.epoch_times)

    @property
    def epochs_fraction(self) -> float:
        """Finished epochs plus the checkpointed part of the epoch in progress (``2.25``: a quarter into
        the third epoch)."""
        done, total = self.batches or (0, 1)
        return self.epochs_done + done / total


def epoch_lines(path: Path) -> list[dict]:
    """The epoch lines of a run's ``metrics.jsonl`` (none when the file is absent).

    Raises:
        ArtifactError: a line that is not JSON, naming the file and the line.
    """
    if not path.is_file():
        return []
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"line {number} is not JSON ({exc.msg})", path=path) from exc
        if isinstance(value, dict):
            lines.append(value)
    return lines


def epoch_progress(path: Path, epochs_done: int) -> tuple[int, int, float] | None:
    """``(batches done, batches, seconds)`` of the epoch in progress from a run's ``progress.json``
    (written with each mid-epoch checkpoint by :func:`~textsmooth.seq2seq.trainer.train_seq2seq`; seconds
    0 in files written before it recorded them); ``None`` when the file is absent or describes another
    epoch than the one after the ``epochs_done`` finished ones (it is left from an epoch since finished).

    Raises:
        ArtifactError: a file that is not such a JSON object, naming it.
    """
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"not JSON ({exc.msg})", path=path) from exc
    fields = ("epoch", "batches_done", "batches")
    numbers = [value.get(k) if isinstance(value, dict) else None for k in fields]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise ArtifactError("expected non-negative integers epoch, batches_done and batches", path=path)
    seconds = value.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise ArtifactError(f"seconds must be a non-negative number, got {seconds!r}", path=path)
    epoch, done, total = numbers
    if epoch != epochs_done or not 0 < done <= total:
        return None
    return done, total, float(seconds)


#: the score shown, first found first: (key of a record's ``test`` / of an epoch line, name, decimals)
_TEST_SCORES = (("bleu", "test BLEU-4", 2), ("accuracy", "test accuracy", 4))
_EPOCH_SCORES = (("val_bleu", "val BLEU-4", 2), ("accuracy", "dev accuracy", 4))


def headline(values: object, keys: tuple[tuple[str, str, int], ...]) -> Score | None:
    """The first of ``keys`` (``(key, name, decimals)``) that ``values`` holds as a number, as a
    :class:`Score`.

    Seq2seq and autoencoder runs score BLEU-4 (test ``bleu``, epoch ``val_bleu``), classification runs
    accuracy (test and dev ``accuracy``); anything else, or a value that is not a number, gives ``None``.
    """
    if not isinstance(values, dict):
        return None
    for key, name, digits in keys:
        value = values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Score(name, float(value), digits)
    return None


def _times(lines: list[dict]) -> tuple[float, ...]:
    return tuple(float(e.get("seconds") or 0.0) for e in lines)


def remaining_seconds(states: list[RunState]) -> float | None:
    """Training time left at the measured epoch times: for each unfinished run, its epochs still to go
    (less the checkpointed part of the epoch in progress) times the mean epoch time of the runs of the
    same method row (of all runs where that row has no finished epoch yet). An upper bound where early
    stopping ends runs sooner; ``None`` before any epoch.
    """
    left = _runs_left(states)
    return None if left is None else sum(left.values())


def remaining_wall_seconds(states: list[RunState]) -> float | None:
    """Wall-clock time left when the processes training now (the distinct :attr:`RunState.holder`) go on
    until the grid is done: each finishes its run (:func:`remaining_seconds`' time for it), then takes
    the next waiting run in the order of ``states`` (how ``experiment run`` processes sharing a folder
    proceed), whichever process is free first taking it. The time of the last process to finish; ``None``
    before any epoch, or when no process is training now.
    """
    left = _runs_left(states)
    holders = {s.holder for s in states if s.holder is not None and s.state != "finished"}
    if left is None or not holders:
        return None
    busy = {holder: 0.0 for holder in holders}  # when each process is free
    for s in states:
        if s.holder in busy and s.run.run_id in left:
            busy[s.holder] += left[s.run.run_id]
    free = sorted(busy.values())
    for s in states:
        if s.holder is None and s.run.run_id in left:
            heapq.heapreplace(free, free[0] + left[s.run.run_id])
    return max(free)


def _runs_left(states: list[RunState]) -> dict[str, float] | None:
    """Seconds left per unfinished run id (:func:`remaining_seconds`); ``None`` before any epoch."""
    by_label: dict[str, list[float]] = {}
    for state in states:
        by_label.setdefault(state.run.label, []).extend(state.epoch_times)
    every = [t for times in by_label.values() for t in times]
    if not every:
        return None
    left = {}
    for state in states:
        if state.state == "finished":
            continue
        times = by_label[state.run.label] or every
        left[state.run.run_id] = max(state.run.epochs - state.epochs_fraction, 0.0) * sum(times) / len(times)
    return left


def run_states(run_dir: str | Path, runs: Iterable[PlannedRun]) -> list[RunState]:
    """The state of every run in ``run_dir`` (module docstring), in the order of ``runs``.

    Raises:
        ArtifactError: a record or a ``metrics.jsonl`` line that is not JSON (naming the file).
    """
    out = Path(run_dir)
    states = []
    for run in runs:
        record_path = out / "results" / f"{run.run_id}.json"
        folder = out / "runs" / run.run_id
        epochs = epoch_lines(folder / "metrics.jsonl")
        if record_path.is_file():
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ArtifactError(f"the run record is not JSON ({exc.msg})", path=record_path) from exc
            history = record.get("history") if isinstance(record, dict) else None
            lines = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else epochs
            seconds = float(record.get("seconds") or 0.0)
            score = headline(record.get("test") if isinstance(record, dict) else None, _TEST_SCORES)
            states.append(RunState(run, "finished", seconds, _times(lines), score))
        elif folder.is_dir():  # begun: its vocabulary, checkpoint or first epochs are there
            times = _times(epochs)
            score = headline(epochs[-1], _EPOCH_SCORES) if epochs else None
            progress = epoch_progress(folder / "progress.json", len(epochs))  # trainer.PROGRESS_FILE
            batches, within = (progress[:2], progress[2]) if progress else (None, 0.0)
            holder = claim_holder(folder)
            states.append(RunState(run, "started", sum(times) + within, times, score, batches, holder))
        else:
            states.append(RunState(run, "waiting", 0.0, holder=claim_holder(folder)))
    return states
