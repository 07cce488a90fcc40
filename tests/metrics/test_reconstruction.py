"""Word-level reconstruction counts (exact / near-synonym / other) on hand-worked cases."""

from __future__ import annotations

import pytest

from textsmooth.errors import InputError
from textsmooth.metrics.reconstruction import reconstruction_word_stats

NEAR = {"taste": {"flavor", "flavour"}, "good": {"great"}, "lunch": {"lunchtime"}}


def test_the_posters_example_one_exact_sentence_one_synonym():
    inputs = [["you", "can", "trust", "this"], ["the", "taste", "was", "so", "good"]]
    outputs = [["you", "can", "trust", "this"], ["the", "flavor", "was", "so", "good"]]
    stats = reconstruction_word_stats(inputs, outputs, NEAR)
    assert (stats.words, stats.sentences) == (9, 2)
    assert stats.exact == pytest.approx(8 / 9)
    assert stats.near_synonym == pytest.approx(1 / 9)
    assert stats.other == pytest.approx(0.0)
    assert stats.exact_sentences == 0.5


def test_unrelated_dropped_and_inserted_words_are_other():
    # "taste" -> "price" (unrelated), "so" dropped, "very" inserted after "good"
    stats = reconstruction_word_stats(
        [["the", "taste", "was", "so", "good"]], [["the", "price", "was", "good", "very"]], NEAR
    )
    assert stats.exact == pytest.approx(3 / 5)  # the, was, good
    assert stats.near_synonym == 0
    assert stats.other == pytest.approx(2 / 5)  # taste (replaced), so (dropped)
    assert stats.inserted == pytest.approx(1 / 5)
    assert stats.exact + stats.near_synonym + stats.other == pytest.approx(1)


def test_a_replaced_stretch_of_another_length_gets_no_synonym_credit():
    stats = reconstruction_word_stats(
        [["quiet", "lunch", "spot"]], [["quiet", "lunchtime", "place", "x"]], NEAR
    )
    assert stats.near_synonym == 0
    assert stats.exact == pytest.approx(1 / 3)


def test_mismatched_lengths_are_refused():
    with pytest.raises(InputError, match="2 inputs but 1"):
        reconstruction_word_stats([["a"], ["b"]], [["a"]], {})
