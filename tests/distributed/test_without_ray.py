"""Without ray: nothing else imports it, and asking for it names the extra (runs whether ray is installed
or not; a missing ray is simulated with ``sys.modules['ray'] = None``)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.errors import MissingDependencyError

MESSAGE = "needs the optional dependency ray: pip install 'textsmooth[ray]'"


def test_importing_the_package_and_the_cli_does_not_import_ray():
    code = (
        "import sys, textsmooth.distributed, textsmooth.distributed.keyword, textsmooth.cli.soft_labels\n"
        "import textsmooth.distributed.neighbors, textsmooth.distributed.executor, textsmooth.cli.neighbors\n"
        "from textsmooth.distributed import keyword_soft_labels\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_missing_ray_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    from textsmooth.distributed import keyword_soft_labels

    with pytest.raises(MissingDependencyError) as info:
        keyword_soft_labels(["a b", "c d"], [0, 1])
    assert str(info.value) == f"textsmooth.distributed.keyword_soft_labels {MESSAGE}"
    assert info.value.extra == "ray"

    data = tmp_path / "d.csv"
    data.write_text("text,label\ngood fun,pos\ndull plot,neg\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["soft-labels", "kwls", str(data), "-o", str(tmp_path / "o.parquet"),
                                      "--backend", "ray"])  # fmt: skip
    assert result.exit_code == 2
    assert f"textsmooth soft-labels --backend ray {MESSAGE}" in result.output
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["uniform", "--backend", "ray"], "--backend"),
        (["kwls", "--address", "auto"], "--address"),
    ],
)
def test_backend_options_are_checked_first(tmp_path, args, option):
    data = tmp_path / "d.csv"
    data.write_text("text,label\ngood fun,pos\ndull plot,neg\n", encoding="utf-8")
    method, *rest = args
    result = CliRunner().invoke(
        app, ["soft-labels", method, str(data), "-o", str(tmp_path / "o.parquet"), *rest]
    )
    assert result.exit_code == 2, result.output
    assert f"option {option}" in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_an_unreachable_cluster_address_is_refused_at_once():
    import time

    from textsmooth.distributed._ray import check_reachable
    from textsmooth.errors import ConfigError

    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"no Ray cluster answers at 127\.0\.0\.1:1"):
        check_reachable("127.0.0.1:1", timeout=2.0)
    assert time.perf_counter() - started < 10
    check_reachable("auto")  # left to Ray


def test_missing_ray_names_the_extra_for_related_targets(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    from textsmooth.distributed import semantic_neighbors

    with pytest.raises(MissingDependencyError) as info:
        semantic_neighbors(["a dog runs", "a cat sleeps"], k=1, keep=1)
    assert str(info.value) == f"textsmooth.distributed.semantic_neighbors {MESSAGE}"

    data = tmp_path / "targets.en"
    data.write_text("a dog runs\na cat sleeps\n", encoding="utf-8")
    out = tmp_path / "t.parquet"
    result = CliRunner().invoke(app, ["neighbors", str(data), "-o", str(out), "--backend", "ray"])
    assert result.exit_code == 2
    assert f"textsmooth neighbors --backend ray {MESSAGE}" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--method", "within-batch", "--backend", "ray"], "--backend"),
        (["--address", "auto"], "--address"),
    ],
)
def test_neighbors_backend_options_are_checked_first(tmp_path, args, option):
    data = tmp_path / "targets.en"
    data.write_text("a dog runs\na cat sleeps\n", encoding="utf-8")
    out = tmp_path / "t.parquet"
    result = CliRunner().invoke(app, ["neighbors", str(data), "-o", str(out), *args])
    assert result.exit_code == 2, result.output
    assert f"option {option}" in result.output
    assert not out.exists()


def test_missing_ray_names_the_extra_for_experiment_grids(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    from pathlib import Path

    from textsmooth.distributed import RayExecutor

    with pytest.raises(MissingDependencyError) as info:
        RayExecutor()
    assert str(info.value) == f"textsmooth.distributed.RayExecutor {MESSAGE}"
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "ci-tiny.yaml"
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["experiment", "run", str(recipe), "-o", str(out), "--backend", "ray"])
    assert result.exit_code == 2
    assert f"textsmooth experiment run --backend ray {MESSAGE}" in result.output
    assert not out.exists()
