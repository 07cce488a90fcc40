"""``textsmooth._params.check_int``: the one check of integer parameters, and the places that use it."""

from __future__ import annotations

import numpy as np
import pytest

from textsmooth._params import check_int
from textsmooth.errors import ConfigError


@pytest.mark.parametrize(("value", "low", "expected"), [(1, 1, 1), (np.int64(7), 1, 7), (0, 0, 0), (2, 2, 2)])
def test_integers_at_or_above_the_floor_come_back_as_int(value, low, expected):
    out = check_int("k", value, low=low)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("value", [0, -3, True, False, 1.0, 2.5, "3", None, np.float32(4)])
def test_anything_else_is_a_config_error_naming_the_parameter(value):
    with pytest.raises(ConfigError, match=r"^column 'k': k must be an integer >= 1, got ") as info:
        check_int("k", value)
    assert info.value.column == "k"


def test_none_passes_only_when_allowed_and_the_message_says_so():
    assert check_int("num_threads", None, allow_none=True) is None
    with pytest.raises(ConfigError, match=r"num_threads must be an integer >= 1 or null, got 0"):
        check_int("num_threads", 0, allow_none=True)


def test_callers_refuse_through_it():
    from textsmooth.metrics.retrieval import _ks
    from textsmooth.sequence import SemanticNeighbors

    with pytest.raises(ConfigError, match="keep must be an integer >= 1, got 0"):
        SemanticNeighbors(k=5, keep=0).fit(["a b", "c d", "e f"], embeddings=np.eye(3))
    assert _ks(np.int32(3)) == [3]
    with pytest.raises(ConfigError, match="k must be an integer >= 1, got True"):
        _ks([5, True])
