"""Byte-level tokenisation: tokens as (start, length) spans over the UTF-8 bytes of many texts.

No Python object is created per token (nor per text, beyond the Arrow conversion of the input): the
texts are one Arrow string array, i.e. one UTF-8 byte buffer with offsets, and a tokeniser here returns
a :class:`TokenSpans`: the byte offset and length of every token in a (zero-padded) byte buffer, plus
the token offsets of each text. :mod:`textsmooth.text.counts` numbers and counts the spans.

The spans give exactly the tokens of :func:`textsmooth.text.tokenize.tokenize_many`:

``"space"``
    Every text is split at every byte ``0x20``. An ASCII space never occurs inside a multi-byte UTF-8
    sequence, so this is ``text.split(" ")`` for any text (empty pieces included), with no fallback.
``"words"``
    Texts are cut at the ASCII bytes outside ``[A-Za-z0-9_']`` (separators for the regex too, and
    never changed by lower-casing). A piece of ASCII bytes is one word: lower-cased bytewise
    (``A-Z``; in ASCII, ``\\pL`` and ``\\pN`` are exactly the letters and digits) with apostrophes
    stripped from both ends, dropped if empty. A piece with a non-ASCII byte is tokenised by the Arrow
    regex path of :mod:`textsmooth.text.tokenize` (Unicode letters, Unicode lower-casing) and its words
    are put in its place. Only those pieces (a few per non-ASCII text) take the slower path.
``str.split()`` (:func:`whitespace_spans`, used for sacrebleu's tokenised text by
    :mod:`textsmooth.text.bleu`)
    Texts are cut at runs of the ASCII bytes Python counts as white space (``\\t \\n \\v \\f \\r``,
    ``0x1c-0x1f``, space); the other code points ``str.isspace`` accepts (U+0085, U+00A0, U+1680,
    U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) are first replaced by a space with one Arrow
    regex kernel (a white-space character for another one: the split does not change). Exact for any
    valid UTF-8 text, no fallback.
Any other tokeniser
    Runs as :func:`~textsmooth.text.tokenize.tokenize_many` and its Arrow list array is turned into
    spans over its values buffer (:func:`spans_from_lists`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TokenSpans",
    "space_spans",
    "spans_from_lists",
    "spans_from_strings",
    "whitespace_spans",
    "word_spans",
]

#: Zero bytes after the last text, so that an 8-byte load at any token start stays inside the buffer.
PAD = 8

_SPACE = 0x20
_APOSTROPHE = 0x27

#: The ASCII bytes ``str.split()`` splits at (``chr(b).isspace()``).
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
#: Every non-ASCII code point with ``str.isspace()`` (tests check the list against Python).
UNICODE_SPACES = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_UNICODE_SPACE_RE = "[" + "".join(chr(c) for c in UNICODE_SPACES) + "]"


@dataclass(frozen=True)
class TokenSpans:
    """Tokens of many texts as byte spans.

    Attributes:
        data: uint8 buffer holding every token's bytes, followed by at least :data:`PAD` zero bytes.
        starts: int64 byte offset of each token in ``data`` (tokens in text order).
        lengths: int64 length in bytes of each token.
        offsets: int64 ``(n_texts + 1,)``; the tokens of text ``i`` are ``offsets[i]:offsets[i + 1]``.
    """

    data: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray

    @property
    def n_texts(self) -> int:
        return len(self.offsets) - 1


def _string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a (large) string or binary array and its byte offsets, starting at 0."""
    width = (
        np.int64 if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type) else np.int32
    )
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=width)[array.offset : array.offset + len(array) + 1].astype(
        np.int64
    )
    if buffers[2] is None or len(array) == 0:
        return np.zeros(0, np.uint8), np.zeros(len(array) + 1, np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _padded(data: np.ndarray) -> np.ndarray:
    out = np.zeros(data.size + PAD, dtype=np.uint8)
    out[: data.size] = data
    return out


def _split_at(cuts: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces between the sorted cut bytes ``cuts`` within each text (empty pieces kept).

    Returns token starts, lengths and per-text token offsets: text ``i`` with ``c`` cuts has ``c + 1``
    pieces, like ``str.split``.
    """
    before = np.searchsorted(cuts, offsets)  # cuts before each text start (and before the end)
    token_offsets = before + np.arange(len(offsets), dtype=np.int64)
    starts = np.insert(cuts + 1, before[:-1], offsets[:-1])
    # a piece ends one byte before the next piece starts (at the cut), the last of a text at its end
    lengths = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[:-1] -= 1
    last = token_offsets[1:] - 1
    lengths[last] = offsets[1:] - starts[last]
    return starts, lengths, token_offsets


def space_spans(array: pa.Array) -> TokenSpans:
    """``text.split(" ")`` of every text of a string array, as spans (exact for any UTF-8 text)."""
    raw, offsets = _string_buffers(array)
    cuts = np.flatnonzero(raw == _SPACE)
    starts, lengths, token_offsets = _split_at(cuts, offsets)
    return TokenSpans(_padded(raw), starts, lengths, token_offsets)


def whitespace_spans(array: pa.Array) -> TokenSpans:
    """``text.split()`` of every text of a string array, as spans (exact for any UTF-8 text).

    Also accepts a binary array of UTF-8 bytes whose only white space is ASCII (the caller has
    normalised it); then no regex runs.
    """
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        raw, _ = _string_buffers(array)
        if raw.size and raw.max() >= 0x80:
            array = pc.replace_substring_regex(array, _UNICODE_SPACE_RE, " ")
    raw, offsets = _string_buffers(array)
    starts, ends = _runs(~_ASCII_SPACE[raw], offsets)
    token_offsets = np.searchsorted(starts, offsets)  # runs never cross a text boundary
    return TokenSpans(_padded(raw), starts, ends - starts, token_offsets)


def _runs(mask: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the maximal runs of True in ``mask``, also cut at every text boundary."""
    change = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(change == 1)
    ends = np.flatnonzero(change == -1)
    inner = np.unique(offsets[1:-1])  # empty texts repeat an offset
    inner = inner[(inner > 0) & (inner < mask.size)]
    cross = inner[mask[inner - 1] & mask[inner]]  # a run that continues into the next text
    if cross.size:
        starts = np.insert(starts, np.searchsorted(starts, cross), cross)
        ends = np.insert(ends, np.searchsorted(ends, cross), cross)
    return starts, ends


def _strip_apostrophes(
    raw: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Strip apostrophes from both ends of each span; drop spans that become empty."""
    lead = raw[starts] == _APOSTROPHE
    trail = raw[ends - 1] == _APOSTROPHE
    if not (lead.any() or trail.any()):
        return starts, ends
    where = np.flatnonzero(raw == _APOSTROPHE)
    new_run = np.concatenate(([True], where[1:] != where[:-1] + 1))
    run_starts = where[new_run]
    run_ends = np.append(where[np.flatnonzero(new_run)[1:] - 1], where[-1]) + 1
    s, e = starts.copy(), ends.copy()
    # jump over the apostrophe run that holds the first (last) byte, without leaving the span
    run = np.searchsorted(run_starts, starts[lead], side="right") - 1
    s[lead] = np.minimum(run_ends[run], ends[lead])
    run = np.searchsorted(run_starts, ends[trail] - 1, side="right") - 1
    e[trail] = np.maximum(run_starts[run], s[trail])
    keep = e > s
    return s[keep], e[keep]


def word_spans(array: pa.Array, exact_rows: np.ndarray | None = None) -> TokenSpans:
    """The ``"words"`` tokens of every text, as spans.

    The texts are cut at ASCII bytes that are not word bytes (``[A-Za-z0-9_']``): these separate words
    in both paths, and lower-casing never moves them. A piece made of ASCII bytes only is one word
    (lower-cased bytewise, apostrophes stripped); a piece with a non-ASCII byte is tokenised by the
    Arrow regex path of :mod:`textsmooth.text.tokenize` (Unicode letters and lower-casing), and its
    words are put in their place. Both give exactly ``tokenize_many(texts, "words")``.

    Args:
        array: Arrow string array of the texts.
        exact_rows: boolean mask of texts whose pieces all take the Arrow path (tests use it to check
            that both paths and their merge give the same tokens); ``None``: only non-ASCII pieces.
    """
    raw, offsets = _string_buffers(array)
    letter = ((raw | np.uint8(32)) - np.uint8(ord("a"))) < 26
    digit = (raw - np.uint8(ord("0"))) < 10
    high = raw >= 0x80
    inside = letter | digit | (raw == ord("_")) | (raw == _APOSTROPHE) | high
    starts, ends = _runs(inside, offsets)
    exact = np.zeros(starts.size, dtype=bool)
    high_at = np.flatnonzero(high)
    if high_at.size:
        exact[np.searchsorted(starts, high_at, side="right") - 1] = True
    if exact_rows is not None and exact_rows.any():
        text_of_piece = np.searchsorted(offsets, starts, side="right") - 1
        exact |= exact_rows[text_of_piece]
    lowered = raw + (letter & (raw < ord("a"))).view(np.uint8) * np.uint8(32)
    fast_starts, fast_ends = _strip_apostrophes(lowered, starts[~exact], ends[~exact])
    if not exact.any():
        token_offsets = np.searchsorted(fast_starts, offsets)  # pieces never cross a text boundary
        return TokenSpans(_padded(lowered), fast_starts, fast_ends - fast_starts, token_offsets)

    from textsmooth.text.tokenize import tokenize_many

    piece_starts, piece_ends = starts[exact], ends[exact]
    pieces = _gather_strings(raw, piece_starts, piece_ends - piece_starts)
    slow = spans_from_lists(tokenize_many(pieces, "words"))
    per_piece = np.diff(slow.offsets)
    # each exact piece's words go where the piece is, among the fast words (stable, in order)
    at = np.repeat(np.searchsorted(fast_starts, piece_starts), per_piece)
    all_starts = np.insert(fast_starts, at, slow.starts + lowered.size)
    all_lengths = np.insert(fast_ends - fast_starts, at, slow.lengths)
    position = np.insert(fast_starts, at, np.repeat(piece_starts, per_piece))
    token_offsets = np.searchsorted(position, offsets)
    return TokenSpans(np.concatenate((lowered, slow.data)), all_starts, all_lengths, token_offsets)


def _gather_strings(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """The byte ranges ``raw[starts[i] : starts[i] + lengths[i]]`` as an Arrow string array (UTF-8)."""
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    large = offsets[-1] >= np.iinfo(np.int32).max
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        lengths.size,
        [None, pa.py_buffer(offsets if large else offsets.astype(np.int32)), pa.py_buffer(raw[index])],
    )


def spans_from_lists(tokens: pa.ChunkedArray | pa.Array) -> TokenSpans:
    """Spans of an Arrow (chunked) list array of token strings (one list per text)."""
    chunks = tokens.chunks if isinstance(tokens, pa.ChunkedArray) else [tokens]
    datas, starts, lengths, counts = [], [], [], []
    base = 0
    for chunk in chunks:
        list_offsets = chunk.offsets.to_numpy().astype(np.int64)
        values = chunk.values.slice(list_offsets[0], list_offsets[-1] - list_offsets[0])
        raw, value_offsets = _string_buffers(values)
        datas.append(raw)
        starts.append(value_offsets[:-1] + base)
        lengths.append(np.diff(value_offsets))
        counts.append(np.diff(list_offsets))
        base += raw.size
    if not datas:
        return TokenSpans(
            np.zeros(PAD, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64)
        )
    offsets = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=offsets[1:])
    return TokenSpans(
        _padded(np.concatenate(datas)), np.concatenate(starts), np.concatenate(lengths), offsets
    )


def spans_from_strings(strings: pa.Array) -> TokenSpans:
    """Each string of an Arrow string array as one token (used to look words up in a vocabulary)."""
    raw, offsets = _string_buffers(strings)
    n = len(strings)
    return TokenSpans(_padded(raw), offsets[:-1].copy(), np.diff(offsets), np.arange(n + 1, dtype=np.int64))
