"""Running a test worker script in one process or in several DDP processes (``torchrun`` over gloo on
the CPU), for the tests that check a Trainer under DDP against one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_worker(worker: Path, args: list[str], cwd: Path, *, processes: int = 1) -> None:
    """``python worker args`` (``processes=1``) or ``torchrun --nproc_per_node processes worker args``,
    one thread per process, offline; fails with the end of the output when the exit status is not 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    launcher = []
    if processes > 1:
        launcher = ["-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
        launcher += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    done = subprocess.run(
        [sys.executable, *launcher, str(worker), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]


def save_step(out: str, weights: dict[str, Any], **extra: Any) -> None:
    """Write this process's weights (and ``extra`` numbers) to ``OUT.<rank>`` with ``torch.save``, the
    worker's last step: under DDP it then waits for every process and closes the process group, since a
    process that exits with gloo's group open can abort in its threads ("terminate called without an
    active exception", SIGABRT; seen once in CI after training had finished)."""
    import torch
    import torch.distributed as dist

    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    torch.save({"weights": weights, "world_size": world, **extra}, f"{out}.{rank}")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def ddp_step_and_one_process_step(
    worker: Path, tmp_path: Path, batch: int = 8, extra: tuple[str, ...] = ()
) -> tuple[dict, list[dict]]:
    """Run ``worker`` in one process on ``batch`` rows and in two DDP processes on half as many each
    (``extra``: more arguments for both); assert that both processes hold the one-process weights. Returns
    the one-process record and the two processes' records (``torch.load(weights_only=True)`` of what
    :func:`save_step` wrote)."""
    import torch

    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    run_worker(worker, [str(one), str(batch), *extra], tmp_path)
    run_worker(worker, [str(two), str(batch // 2), *extra], tmp_path, processes=2)
    single = torch.load(f"{one}.0", weights_only=True)
    ranks = [torch.load(f"{two}.{rank}", weights_only=True) for rank in (0, 1)]
    assert single["world_size"] == 1 and [r["world_size"] for r in ranks] == [2, 2]
    for ddp in ranks:  # both processes hold the weights of the one-process step
        assert ddp["weights"].keys() == single["weights"].keys()
        for name, weight in single["weights"].items():
            torch.testing.assert_close(ddp["weights"][name], weight, rtol=1e-5, atol=1e-6, msg=name)
    return single, ranks
