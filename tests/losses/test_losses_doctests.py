"""Run the examples in the loss docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "textsmooth.losses.smoothed_ce",
    "textsmooth.losses.soft_target",
    "textsmooth.losses.sequence",
    "textsmooth.losses.kwls",
]


@pytest.mark.parametrize("name", MODULES)
def test_loss_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
