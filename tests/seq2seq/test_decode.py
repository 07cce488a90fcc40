"""Decoding: blank source lines translate to blank lines, and the model never sees them."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from textsmooth.seq2seq.decode import translate


def test_blank_sources_translate_to_blank_lines_without_the_model(tiny_model, tiny_vocab, pairs):
    texts = pairs.sources[:3]
    plain = translate(tiny_model, tiny_vocab, texts, beam_size=2, max_length=12)
    rows = []  # source sentences the encoder was run on
    hook = tiny_model.get_encoder().register_forward_hook(
        lambda m, args, kw, out: rows.append(len(kw["input_ids"])), with_kwargs=True
    )
    try:
        mixed = ["", texts[0], "   ", texts[1], "\t", texts[2]]
        got = translate(tiny_model, tiny_vocab, mixed, beam_size=2, max_length=12, batch_size=2)
        assert got == ["", plain[0], "", plain[1], "", plain[2]]
        assert sum(rows) == 3
        rows.clear()
        assert translate(tiny_model, tiny_vocab, ["", " "], beam_size=2) == ["", ""]
        assert rows == []
    finally:
        hook.remove()
