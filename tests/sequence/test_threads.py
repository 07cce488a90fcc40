"""The default thread count: named constants, an environment override, explicit values win."""

from __future__ import annotations

import pytest

from textsmooth.errors import ConfigError
from textsmooth.sequence import _threads
from textsmooth.sequence._threads import THREADS_ENV, resolve_threads, thread_limit


def test_default_is_all_cores_but_the_spare_ones(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    for cores, expected in ((1, 1), (2, 1), (16, 15), (None, 1)):
        monkeypatch.setattr(_threads.os, "cpu_count", lambda cores=cores: cores)
        assert resolve_threads(None) == expected
    monkeypatch.setattr(_threads, "SPARE_CORES", 0)
    assert resolve_threads(None) == 1  # cpu_count() None counts as one core


def test_environment_replaces_the_default_but_not_an_explicit_value(monkeypatch):
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 16)
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_threads(None) == 3 and resolve_threads(2) == 2
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with thread_limit(None, faiss_=False) as n:
        assert n == 3 and torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=THREADS_ENV):
            resolve_threads(None)
    with pytest.raises(ConfigError, match="num_threads"):
        resolve_threads(0)
