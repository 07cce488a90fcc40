"""``SemanticSeq2SeqTrainer`` under DDP: two CPU processes (``torchrun``, gloo) splitting a batch of 8
take the SGD step that one process takes on the whole batch (``ddp_worker.py`` builds both runs the same
way). Without the loss inside DDP's forward the processes would not synchronise their gradients, and
without the count gathered over the processes and the loss multiplied by their number the step would be
half as long: either would fail here."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from ddp_helpers import ddp_step_and_one_process_step

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


@pytest.mark.parametrize("chunk", [None, 16])
def test_two_ddp_processes_take_the_step_of_one_process_on_their_joint_batch(tmp_path, chunk):
    # chunk 16: the loss through the fused output projection (its own autograd function) under DDP
    extra = () if chunk is None else (str(chunk),)
    single, ranks = ddp_step_and_one_process_step(WORKER, tmp_path, extra=extra)
    # each process reports its half of the batch's loss times the number of processes
    mean = (float(ranks[0]["loss"]) + float(ranks[1]["loss"])) / 2
    assert mean == pytest.approx(float(single["loss"]), rel=1e-5)
