"""Multi30k reader helpers (skipped when ../shared/data/multi30k is not beside the repository)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from textsmooth.errors import DataError, InputError
from textsmooth.sequence import load_multi30k, load_multi30k_captions, multi30k_root
from textsmooth.sequence.neighbors import _normalize

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "multi30k"
needs_data = pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} not found")


@needs_data
def test_load_multi30k_is_aligned_and_captions_contain_the_task1_sentence():
    val = load_multi30k("val", ["en", "de", "cs"], root=SHARED)
    assert {len(v) for v in val.values()} == {1014}
    caps = load_multi30k_captions("val", root=SHARED)
    assert len(caps) == 5 and all(len(c) == 1014 for c in caps)
    # SOURCE.md: the task-1 English sentence is one of its image's five captions (case, final period)
    hits = sum(_normalize(en) in {_normalize(c[i]) for c in caps} for i, en in enumerate(val["en"]))
    assert hits == 1014


def test_bad_names_and_missing_root(tmp_path):
    with pytest.raises(DataError, match=r"multi30k/ \(with task1\) not found") as err:
        multi30k_root(tmp_path)
    assert str(tmp_path / "multi30k") in str(err.value) and "TEXTSMOOTH_DATA" in str(err.value)
    if SHARED.exists():
        with pytest.raises(InputError, match="split"):
            load_multi30k("dev", root=SHARED)
        with pytest.raises(InputError, match="language"):
            load_multi30k("val", ["xx"], root=SHARED)


@needs_data
def test_multi30k_is_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTSMOOTH_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    val = load_multi30k("val", ["en"])
    assert len(val["en"]) == 1014
    assert multi30k_root().resolve() == SHARED.resolve()
    assert multi30k_root(SHARED.parent) == SHARED and multi30k_root(SHARED) == SHARED


def _fake_multi30k(root: Path, lines: list[str]) -> Path:
    raw = root / "multi30k" / "task1" / "raw"
    raw.mkdir(parents=True)
    with gzip.open(raw / "val.en.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return root


def test_environment_variable_comes_before_the_known_places(tmp_path, monkeypatch):
    data = _fake_multi30k(tmp_path / "data", ["A dog.", "A cat."])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("TEXTSMOOTH_DATA", str(data))
    assert load_multi30k("val", ["en"]) == {"en": ["A dog.", "A cat."]}
    # an explicit root wins over the environment variable, and only it is searched
    other = _fake_multi30k(tmp_path / "other", ["A bird."])
    assert load_multi30k("val", ["en"], root=other)["en"] == ["A bird."]
    with pytest.raises(DataError, match="not found"):
        load_multi30k("val", ["en"], root=elsewhere)


def test_not_found_names_every_place_and_the_variable(tmp_path, monkeypatch):
    from textsmooth.io.corpora import data_search_paths, find_data_dir

    monkeypatch.setenv("TEXTSMOOTH_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    places = data_search_paths()
    assert places[0] == tmp_path / "env" and tmp_path.resolve() in places
    with pytest.raises(DataError) as err:
        find_data_dir("no-such-data")
    message = str(err.value)
    assert f"TEXTSMOOTH_DATA={tmp_path / 'env'}" in message
    for place in places:
        assert str(place / "no-such-data") in message
