"""Running a test worker script in one process or in several DDP processes (``torchrun`` over gloo on
the CPU), for the tests that check a Trainer under DDP against one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


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
