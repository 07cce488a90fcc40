"""Docstring examples of textsmooth.metrics, and the package's import weight."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "textsmooth.metrics",
    "textsmooth.metrics.calibration",
    "textsmooth.metrics.classification",
    "textsmooth.metrics.report",
    "textsmooth.metrics.retrieval",
    "textsmooth.metrics.significance",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_metrics_import_is_light():
    heavy = "('torch', 'matplotlib', 'scipy', 'sklearn', 'transformers')"
    code = f"import sys, textsmooth.metrics; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
