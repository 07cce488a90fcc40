"""The documented Seq2SeqTrainer example runs offline end to end (tiny sizes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("transformers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hf_seq2seq_semantic.py"


def test_example_runs_and_prints_its_numbers(capsys):
    from textsmooth.errors import DataError
    from textsmooth.sequence import multi30k_root

    try:
        multi30k_root()
    except DataError:
        pytest.skip("Multi30k is not beside the repository")
    spec = importlib.util.spec_from_file_location("hf_seq2seq_semantic", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--pairs", "60", "--val", "8", "--steps", "3", "--k", "5", "--keep", "2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "related:" in out and "training loss (2)" in out and "BLEU" in out and "translated:" in out
