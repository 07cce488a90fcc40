"""Multi30k reader helpers (skipped when ../shared/data/multi30k is not beside the repository)."""

from __future__ import annotations

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
    with pytest.raises(DataError, match="Multi30k folder not found"):
        multi30k_root(tmp_path)
    if SHARED.exists():
        with pytest.raises(InputError, match="split"):
            load_multi30k("dev", root=SHARED)
        with pytest.raises(InputError, match="language"):
            load_multi30k("val", ["xx"], root=SHARED)
