"""One local Ray instance (2 CPUs) for the tests of this folder, started on first use, stopped after them."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def ray_local():
    """``ray``, initialised with 2 CPUs and no dashboard; shut down after the last test of the folder."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # someone else's instance: use it, leave it running
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024**2, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()
