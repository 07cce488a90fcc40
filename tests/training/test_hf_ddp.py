"""``SoftLabelTrainer`` under DDP: two CPU processes (``torchrun``, gloo) splitting a batch of 8 take
the SGD step that one process takes on the whole batch (``ddp_worker.py`` builds both runs the same
way): the count of the window is gathered over the processes and the loss multiplied by their number, so
DDP's gradient mean is the gradient of the whole batch's loss."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from ddp_helpers import ddp_step_and_one_process_step

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def test_two_ddp_processes_take_the_step_of_one_process_on_their_joint_batch(tmp_path):
    ddp_step_and_one_process_step(WORKER, tmp_path)
