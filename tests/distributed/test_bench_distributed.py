"""The extrapolation arithmetic of benchmarks/bench_distributed.py (pure functions; no Ray, no model)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_distributed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_distributed", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _stage(bench, *, where="tasks", law="linear", n=1000, cores=2, seconds=10.0, fixed=0.0):
    return bench.Stage("p", "s", "ray", where, "items", n, cores, [seconds], law=law, fixed_s=fixed)


def test_law_factor(bench):
    assert bench.law_factor("linear", 1000, 4000) == pytest.approx(4.0)
    assert bench.law_factor("quadratic", 1000, 4000) == pytest.approx(16.0)
    assert bench.law_factor("nlogn", 1000, 4000) == pytest.approx(4 * math.log(4000) / math.log(1000))
    with pytest.raises(ValueError, match="unknown law"):
        bench.law_factor("cubic", 1, 2)


def test_cluster_seconds_by_where(bench):
    # 10 s on 2 cores for 1,000 items: 20 core-seconds; 4,000 items: 80 core-seconds
    tasks = _stage(bench)
    assert bench.cluster_seconds(tasks, 4000, nodes=4, node_cores=10) == pytest.approx(80 / 40)
    threads = _stage(bench, where="driver-threads")
    assert bench.cluster_seconds(threads, 4000, nodes=64, node_cores=10) == pytest.approx(80 / 10)
    driver = _stage(bench, where="driver", cores=1)
    assert bench.cluster_seconds(driver, 4000, nodes=64, node_cores=10) == pytest.approx(40.0)


def test_fixed_seconds_are_not_scaled(bench):
    stage = _stage(bench, seconds=10.0, fixed=4.0)  # 6 s of work, 4 s of model load
    assert stage.at(4000) == pytest.approx(4.0 + 6.0 * 4)
    assert stage.core_seconds(4000) == pytest.approx(6.0 * 2 * 4)
    assert stage.core_s_per_1k == pytest.approx(10.0 * 2 / 1000 * 1000)  # the measured wall, as printed


def test_gpu_seconds(bench):
    assert bench.gpu_seconds(1_000_000, nodes=4, gpus_per_node=2, rate=1000.0) == pytest.approx(125.0)


def test_extrapolate_totals_and_bottleneck(bench):
    embed = _stage(bench, seconds=100.0)  # 200 core-s per 1,000 sentences
    rerank = _stage(bench, seconds=1.0)
    build = _stage(bench, where="driver-threads", seconds=5.0)
    work = bench.Workload(
        "job",
        [("embed", embed, 1000), ("rerank", rerank, 1000), ("build", build, 1000)],
        fixed_s=3.0,
        embed=("embed", 1000),
    )
    out = bench.extrapolate(work, [1, 10], node_cores=2, gpus_per_node=1, gpu_rate=100.0)
    cpu = out["totals"]["CPUs"]
    assert cpu["seconds"] == pytest.approx([100 + 1 + 5 + 3, 10 + 0.1 + 5 + 3])
    assert cpu["bottleneck"] == ["embed", "embed"]
    gpu = out["totals"]["GPUs"]
    assert out["gpu_embed_seconds"] == pytest.approx([10.0, 1.0])
    assert gpu["seconds"] == pytest.approx([10 + 1 + 5 + 3, 1 + 0.1 + 5 + 3])
    assert gpu["bottleneck"] == ["embed on GPUs", "build"]  # the driver's build no longer shrinks
