"""Word tokenisers for corpus statistics, vectorised over whole corpora with Arrow kernels.

Three named tokenisers run inside Arrow's C++ string kernels (no Python loop over texts or tokens):

``"words"`` (the default)
    Lower-case the text, split it on every run of characters that are not letters, digits, ``_`` or
    an apostrophe, then strip apostrophes from both ends of each piece and drop empty pieces.
    ``"Don't STOP--it's 'great'!"`` becomes ``["don't", "stop", "it's", "great"]``. Letters and digits
    are Unicode-aware (``\\pL``, ``\\pN``), so ``"Café"`` is one token ``"café"``.
``"space"``
    Exactly Python's ``text.split(" ")``: one token per single space, so a double space yields an
    empty-string token. This is the convention of the KWLS authors' generator.
``"whitespace"``
    ``text.split()``: split on runs of whitespace, no empty tokens.

Any callable ``str -> list[str]`` also works; it is called once per text (a Python loop, so slower).

For counting, :func:`textsmooth.text.counts.count_texts` tokenises ``"space"`` and ``"words"`` on the
texts' UTF-8 bytes instead (:mod:`textsmooth.text.spans`), with exactly the same tokens and no string
per token; this module stays the definition, and the exact path for non-ASCII pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textsmooth.errors import ConfigError, DataError

__all__ = ["TOKENIZERS", "Tokenizer", "resolve_tokenizer", "tokenize", "tokenize_many"]

Tokenizer: TypeAlias = str | Callable[[str], Sequence[str]]

TOKENIZERS = ("words", "space", "whitespace")
_NON_WORD = r"[^\pL\pN_']+"
# Texts per parallel chunk: Arrow string kernels release the GIL, so chunks run on all cores.
_CHUNK_TEXTS = 4096


def resolve_tokenizer(tokenizer: Tokenizer | None) -> Tokenizer:
    """Return the tokenizer to use: ``None`` means ``"words"``; unknown names raise ``ConfigError``."""
    if tokenizer is None:
        return "words"
    if isinstance(tokenizer, str):
        if tokenizer not in TOKENIZERS:
            raise ConfigError(
                f"unknown tokenizer {tokenizer!r}",
                hint=f"use one of {', '.join(TOKENIZERS)} or a callable str -> list[str]",
            )
        return tokenizer
    if callable(tokenizer):
        return tokenizer
    raise ConfigError(f"tokenizer must be a name or a callable, got {type(tokenizer).__name__}")


def _split_chunk(chunk: pa.Array, name: str) -> pa.Array:
    if name == "space":
        return pc.split_pattern(chunk, " ")
    if name == "whitespace":
        # Trailing whitespace is trimmed first: pyarrow's utf8_split_whitespace (26.0) can read past the
        # end of the text data while it scans a trailing whitespace run (the upstream over-read of
        # apache/arrow#37757), which leaves the last text of an array or slice unsplit now and then.
        # Without trailing whitespace there is no such scan; str.split() ignores it anyway.
        return _drop_empty(pc.utf8_split_whitespace(pc.utf8_rtrim_whitespace(chunk)))
    pieces = pc.split_pattern_regex(pc.utf8_lower(chunk), _NON_WORD)
    return _drop_empty(pieces, strip="'")


def _drop_empty(pieces: pa.Array, strip: str | None = None) -> pa.Array:
    """Remove empty strings from every list (after stripping ``strip`` characters from each piece)."""
    offsets = pieces.offsets.to_numpy()
    values = pieces.flatten()
    if strip:
        values = pc.utf8_trim(values, strip)
    keep = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    # Each list's new end is the number of kept pieces before its old end.
    kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    new_offsets = kept_before[offsets - offsets[0]]
    kept = values.filter(pa.array(keep))
    if new_offsets[-1] < np.iinfo(np.int32).max:
        return pa.ListArray.from_arrays(pa.array(new_offsets.astype(np.int32)), kept)
    return pa.LargeListArray.from_arrays(pa.array(new_offsets), kept)


def tokenize_many(texts: Sequence[str] | pa.Array, tokenizer: Tokenizer | None = None) -> pa.ChunkedArray:
    """Tokenise every text; return an Arrow chunked list array (one list of token strings per text).

    Named tokenisers run in Arrow kernels over chunks of texts in parallel threads (Arrow releases
    the GIL); a callable runs once per text. The chunks are kept as they are (no concatenation copy):
    :func:`textsmooth.text.counts.count_matrix` consumes them chunk by chunk.

    Raises:
        DataError: a text is not a string (the row is named, 1-based).
    """
    tokenizer = resolve_tokenizer(tokenizer)
    if callable(tokenizer):
        lists = []
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"text is {type(text).__name__}, not a string", row=row + 1)
            tokens = list(tokenizer(text))
            if not all(isinstance(token, str) for token in tokens):
                bad = next(t for t in tokens if not isinstance(t, str))
                raise DataError(
                    f"the tokenizer returned a {type(bad).__name__} ({bad!r}), not a string",
                    row=row + 1,
                    hint="a tokenizer callable must return a list of str",
                )
            lists.append(tokens)
        return pa.chunked_array([pa.array(lists, type=pa.list_(pa.string()))])
    array = texts if isinstance(texts, pa.Array) else to_arrow_strings(texts)
    chunks = [array.slice(start, _CHUNK_TEXTS) for start in range(0, len(array), _CHUNK_TEXTS)]
    if len(chunks) <= 1:
        parts = [_split_chunk(array, tokenizer)]
    else:
        with ThreadPoolExecutor() as pool:
            parts = list(pool.map(lambda c: _split_chunk(c, tokenizer), chunks))
    target = parts[0].type
    return pa.chunked_array([p if p.type == target else p.cast(target) for p in parts], type=target)


def tokenize(text: str, tokenizer: Tokenizer | None = None) -> list[str]:
    """Tokenise one text with the same rules as :func:`tokenize_many`."""
    return tokenize_many([text], tokenizer).chunk(0)[0].as_py()


def to_arrow_strings(texts: Sequence[str]) -> pa.Array:
    try:
        array = pa.array(texts, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"text is {type(text).__name__}, not a string", row=row + 1) from None
        # More than 2 GiB of text: fall back to 64-bit offsets.
        array = pa.array(texts, type=pa.large_string())
    if array.null_count:
        row = int(pc.index(pc.is_null(array), True).as_py()) + 1
        raise DataError("text is missing (None)", row=row)
    return array
