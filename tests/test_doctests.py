"""Run the examples in the public docstrings of the soft-label modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "textsmooth",
    "textsmooth.io.atomic",
    "textsmooth.targets.keyword",
    "textsmooth.targets.classic",
    "textsmooth.targets.teacher",
    "textsmooth.targets.flip",
    "textsmooth.targets.saved",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_import_is_light():
    import subprocess
    import sys

    heavy = "('torch', 'sentence_transformers', 'faiss', 'scipy', 'pyarrow')"
    code = f"import sys, textsmooth; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_python_examples_run(capsys):
    """Every ```python block of README.md runs as written (the quick start must not rot)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "HUM" in capsys.readouterr().out
