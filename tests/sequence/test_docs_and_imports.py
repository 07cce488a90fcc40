"""Docstring examples of the sequence/BLEU modules run; the neighbors CLI imports nothing heavy."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = ["textsmooth.text.bleu", "textsmooth.sequence.knn", "textsmooth.sequence.baselines"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_sequence_package_and_cli_module_are_light():
    heavy = "('torch', 'sentence_transformers', 'transformers', 'faiss', 'scipy', 'pyarrow')"
    code = (
        "import sys, textsmooth.sequence, textsmooth.cli.neighbors; "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
