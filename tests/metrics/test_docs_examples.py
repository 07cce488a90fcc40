"""Run the Python blocks of docs/metrics-and-models.md, so the documentation's examples keep working."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics-and-models.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)

# A block calling one of these loaders needs that data set (``../shared/data/<name>``): like every other
# test of shared data, it is skipped where the data is absent (e.g. a clone without ``../shared`` beside it).
SHARED_DATA_OF_LOADER = {"load_sick(": "sick_full"}


def _skip_without_shared_data(block: str) -> None:
    from textsmooth.errors import DataError
    from textsmooth.io.corpora import find_data_dir

    for call, name in SHARED_DATA_OF_LOADER.items():
        if call in block:
            try:
                find_data_dir(name)
            except DataError:
                pytest.skip(f"the example needs the shared data set {name!r}, not found here")


def test_doc_has_examples():
    assert len(BLOCKS) >= 4


def test_every_shared_data_loader_in_the_doc_is_known():
    """A block calling another ``load_*`` reader must name its data set above, or it fails without data."""
    calls = set(re.findall(r"(?<![.\w])(load_\w+)\(", "".join(BLOCKS)))
    known = {call.rstrip("(") for call in SHARED_DATA_OF_LOADER}
    assert calls <= known, f"add the data set of {sorted(calls - known)} to SHARED_DATA_OF_LOADER"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_block_runs(index, capsys):
    import torch

    _skip_without_shared_data(BLOCKS[index])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(BLOCKS[index], f"{DOC.name}[block {index}]", "exec"), {"__name__": "__doc_example__"})
    finally:
        torch.set_num_threads(threads)
    assert capsys.readouterr().out.strip()
