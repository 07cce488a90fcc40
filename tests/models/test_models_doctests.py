"""Docstring examples of textsmooth.models, and the package's import weight."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "textsmooth.models",
    "textsmooth.models._common",
    "textsmooth.models.bilstm",
    "textsmooth.models.textcnn",
    "textsmooth.models.vocab",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_models_import_is_lazy():
    heavy = "('torch', 'transformers', 'sentence_transformers')"
    code = f"import sys, textsmooth.models; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
