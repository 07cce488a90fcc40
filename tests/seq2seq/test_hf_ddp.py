"""``SemanticSeq2SeqTrainer`` under DDP: two CPU processes (``torchrun``, gloo) splitting a batch of 8
take the SGD step that one process takes on the whole batch (``ddp_worker.py`` builds both runs the same
way). Without the loss inside DDP's forward the processes would not synchronise their gradients, and
without the count gathered over the processes and the loss multiplied by their number the step would be
half as long: either would fail here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from ddp_helpers import run_worker

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def test_two_ddp_processes_take_the_step_of_one_process_on_their_joint_batch(tmp_path):
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    run_worker(WORKER, [str(one), "8"], tmp_path)
    run_worker(WORKER, [str(two), "4"], tmp_path, processes=2)
    single = torch.load(f"{one}.0", weights_only=True)
    ranks = [torch.load(f"{two}.{rank}", weights_only=True) for rank in (0, 1)]
    assert single["world_size"] == 1 and [r["world_size"] for r in ranks] == [2, 2]
    # each process reports its half of the batch's loss times the number of processes
    mean = (float(ranks[0]["loss"]) + float(ranks[1]["loss"])) / 2
    assert mean == pytest.approx(float(single["loss"]), rel=1e-5)
    for ddp in ranks:  # both processes hold the weights of the one-process step
        assert ddp["weights"].keys() == single["weights"].keys()
        for name, weight in single["weights"].items():
            torch.testing.assert_close(ddp["weights"][name], weight, rtol=1e-5, atol=1e-6, msg=name)
