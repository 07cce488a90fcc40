"""``connect()`` starting a new local Ray instance, in a child process (this folder's tests share one
instance started by the fixture, so the local start path runs only here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("ray")

_CHILD = """
import os
from textsmooth.distributed._ray import connect
ray = connect(num_cpus=1)
print(int(ray.cluster_resources()["CPU"]), os.environ.get("RAY_AUTH_MODE"))
ray.shutdown()
"""


@pytest.mark.parametrize("mode", [None, "disabled"])
def test_a_new_local_instance_keeps_token_auth_without_the_warning(tmp_path, mode):
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env["HOME"] = str(tmp_path)  # Ray keeps its token under ~/.ray: a fresh one, not the user's
    if mode is not None:
        env["RAY_AUTH_MODE"] = mode
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["1", mode or "token"]  # Ray's default, or the user's own choice
    assert "Token authentication" not in done.stderr
