"""Fast, exact sentence BLEU for many pairs at once.

The scores equal, value for value, those of sacrebleu's sentence-level BLEU with effective order::

    sacrebleu.metrics.BLEU(max_ngram_order=n, effective_order=True, smooth_method=..., smooth_value=...,
                           tokenize=..., lowercase=...).sentence_score(hypothesis, [reference]).score

but every sentence is tokenised and its n-grams are counted once, however many pairs it takes part in,
and the pairs are scored with vectorised sparse operations instead of one Python call per pair.

How it works
------------
1. Each distinct sentence is lower-cased (optionally) and right-stripped, then tokenised exactly as
   sacrebleu does: ``13a`` (the default) runs as Arrow kernels over all sentences at once (the same
   ``str.replace`` steps and regular expressions as sacrebleu's ``Tokenizer13a``, in RE2); any other
   tokeniser is sacrebleu's own object, called once per distinct sentence. The tokenised text is split
   on white space at the byte level, exactly as ``str.split()`` (:func:`textsmooth.text.spans.
   whitespace_spans`), so no Python object is made per token.
2. Tokens get exact integer ids (:func:`textsmooth.text.counts.number_tokens`: a token's bytes are its
   key, no hashing); an n-gram gets an id from the pair (id of its (n-1)-gram prefix, id of its last
   token) packed into one int64 and numbered by a sort, so n-gram ids are exact (no collisions).
3. The *c*-th occurrence of an n-gram ``g`` in a sentence becomes the binary feature ``(g, c)``. A
   sentence is then a set of features, and the clipped match count of BLEU,
   ``correct_n(h, r) = sum_g min(count_h(g), count_r(g))``, is the size of the intersection of the two
   sets' order-``n`` features, because ``min(a, b) = #{c >= 1 : c <= a and c <= b}``.
4. The features form a sparse sentence x feature matrix (each feature written straight to its CSR
   slot, rows then sorted by scipy); for a block of pairs the rows of the hypotheses and of the
   references are gathered and multiplied element-wise (a sorted merge in C), and the matches are
   counted per pair and order.
5. BLEU follows from the statistics, vectorised over pairs, with sacrebleu's definitions:

   - ``total_n = max(len_h - n + 1, 0)``; brevity penalty ``BP = 1`` if ``len_h >= len_r`` else
     ``exp(1 - len_r / len_h)`` (0 for an empty hypothesis);
   - effective order ``N' = `` the number of leading orders with ``total_n > 0`` (after add-k);
   - precision ``p_n = 100 * correct_n / total_n``; when ``correct_n = 0``: ``exp`` smoothing uses
     ``100 / (2^z * total_n)`` with ``z`` the number of zero-match orders so far (NIST, Chen & Cherry 2014
     method 3), ``floor`` uses ``100 * v / total_n`` (method 1), ``add-k`` adds ``v`` to the counts and
     totals of orders ``n >= 2`` (method 2), ``none`` leaves 0;
   - ``BLEU = BP * exp(sum_{n <= N'} log p_n / N')`` with ``log 0`` floored at ``-9999999999``, and
     ``BLEU = 0`` when no unigram matches.

References:
    Papineni, Roukos, Ward, Zhu (2002). BLEU: a method for automatic evaluation of machine translation.
    Post (2018). A call for clarity in reporting BLEU scores (sacrebleu).
    Chen, Cherry (2014). A systematic comparison of smoothing techniques for sentence-level BLEU.

Relations:
    :func:`sentence_bleu` scores aligned (hypothesis, reference) pairs; :func:`sentence_bleu_many` scores
    many candidates against one reference; :class:`BleuCorpus` holds the counted n-grams of a corpus and
    scores any pairs of its sentences by index (what re-ranking of retrieved neighbours uses).

Example:
    >>> from textsmooth.text.bleu import sentence_bleu
    >>> scores = sentence_bleu(["a dog runs on the grass ."], ["a dog runs on grass ."])
    >>> round(float(scores[0]), 4)
    48.8923
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, InputError
from textsmooth.io.checks import check_texts
from textsmooth.text.counts import number_tokens
from textsmooth.text.spans import TokenSpans, whitespace_spans

__all__ = [
    "SMOOTH_METHODS",
    "BleuCorpus",
    "bleu_from_stats",
    "sentence_bleu",
    "sentence_bleu_many",
]

#: Smoothing methods and their default values, as in sacrebleu.
SMOOTH_METHODS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}

#: sacrebleu floors ``log(0)`` at this value (``sacrebleu.utils.my_log``).
_LOG_ZERO = -9999999999.0

#: Pairs scored per block (bounds memory: about 40 bytes x n-grams per sentence x block).
_PAIR_BLOCK = 1 << 17


def _check_params(max_order: int, smooth_method: str, smooth_value: float | None) -> float:
    check_int("max_order", max_order)
    if smooth_method not in SMOOTH_METHODS:
        raise ConfigError(
            f"unknown smooth_method {smooth_method!r}",
            column="smooth_method",
            hint=f"choose one of {', '.join(SMOOTH_METHODS)}",
        )
    value = SMOOTH_METHODS[smooth_method] if smooth_value is None else smooth_value
    if value is None:
        return 0.0
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ConfigError(f"smooth_value must be a finite number >= 0, got {value!r}", column="smooth_value")
    return float(value)


def _make_tokenizer(tokenize: str) -> Any:
    """sacrebleu's tokeniser object for ``tokenize`` (its own class, so tokenisation is exact)."""
    from sacrebleu.metrics.bleu import BLEU

    if tokenize not in BLEU.TOKENIZERS:
        raise ConfigError(
            f"unknown tokenize {tokenize!r}",
            column="tokenize",
            hint=f"sacrebleu tokenisers: {', '.join(BLEU.TOKENIZERS)}",
        )
    try:
        return BLEU(tokenize=tokenize).tokenizer
    except (ImportError, RuntimeError) as exc:
        raise ConfigError(
            f"sacrebleu tokeniser {tokenize!r} is not usable here: {str(exc).strip()}",
            column="tokenize",
        ) from exc


def _check_texts(texts: Sequence[str], name: str) -> list[str]:
    """The shared text rule (:func:`textsmooth.io.checks.check_texts`): empty sentences score 0."""
    return check_texts(texts, name=name, missing_hint="replace missing sentences by '' (it scores 0)")


#: sacrebleu's 13a tokeniser as Arrow kernels: the same replacements and regular expressions
#: (``Tokenizer13a`` and ``TokenizerRegexp``), in the same order; every class is ASCII.
_13A_REPLACE = (("<skipped>", ""), ("-\n", ""), ("\n", " "), ("&quot;", '"'), ("&amp;", "&"))
_13A_REPLACE += (("&lt;", "<"), ("&gt;", ">"))
_13A_REGEX = (
    (r"([\x7b-\x7e\x5b-\x60\x20-\x26\x28-\x2b\x3a-\x40\x2f])", r" \1 "),
    (r"([^0-9])([\.,])", r"\1 \2 "),
    (r"([\.,])([^0-9])", r" \1 \2"),
    (r"([0-9])(-)", r"\1 \2 "),
)
#: Tokenisers run as Arrow kernels instead of sacrebleu's Python object (tests switch it off).
ARROW_TOKENIZERS = frozenset({"13a"})


def _tokenize_13a_arrow(texts: list[str]) -> pa.Array | None:
    """sacrebleu's ``13a`` tokenisation of ``text.rstrip()`` for every text, as Arrow strings.

    ``Tokenizer13a`` applies ``str.replace`` and ``re.sub`` to ``f" {line} "``; Arrow's
    ``replace_substring`` and RE2's ``replace_substring_regex`` do the same left-to-right,
    non-overlapping replacements (the patterns are single characters or fixed pairs, so leftmost-first
    and leftmost-longest agree). The final ``" ".join(line.split())`` is left to
    :func:`~textsmooth.text.spans.whitespace_spans`. ``None`` if a text is not valid UTF-8 (lone
    surrogates), for which the caller uses sacrebleu itself.
    """
    try:
        array = pa.array([f" {text.rstrip()} " for text in texts], type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError, OverflowError):
        return None
    for pattern, replacement in _13A_REPLACE:
        array = pc.replace_substring(array, pattern, replacement)
    for pattern, replacement in _13A_REGEX:
        array = pc.replace_substring_regex(array, pattern, replacement)
    return array


def _token_spans(texts: list[str], tokenize: str, tokenizer: Any) -> TokenSpans:
    """sacrebleu's tokens of ``text.rstrip()`` (``tokenizer(...).split()``) for every text, as spans.

    ``13a`` runs as Arrow kernels (:func:`_tokenize_13a_arrow`); other tokenisers call sacrebleu's
    object once per distinct text. The tokenised texts are split on white space at the byte level,
    exactly as ``str.split()`` (:func:`~textsmooth.text.spans.whitespace_spans`).
    """
    array = _tokenize_13a_arrow(texts) if tokenize in ARROW_TOKENIZERS else None
    if array is not None:
        return whitespace_spans(array)
    tokenized = [tokenizer(text.rstrip()) for text in texts]
    try:
        return whitespace_spans(pa.array(tokenized, type=pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError, OverflowError):
        # lone surrogates: exact bytes with surrogatepass, white space normalised per text
        encoded = [" ".join(t.split()).encode("utf-8", "surrogatepass") for t in tokenized]
        return whitespace_spans(pa.array(encoded, type=pa.large_binary()))


def _sorted_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort non-negative int64 ``keys``: the permutation and, in sorted order, where a new value starts.

    When key and position fit in 63 bits together they are packed into one int64 and sorted with
    ``np.sort`` (SIMD), which is several times faster than ``np.argsort``; equal keys then stay in
    position order. Otherwise ``np.argsort``.
    """
    n = keys.shape[0]
    pbits = max(1, (n - 1).bit_length())
    if n and int(keys.max()).bit_length() + pbits <= 63:
        packed = (keys << pbits) | np.arange(n, dtype=np.int64)
        packed.sort()
        perm = packed & np.int64((1 << pbits) - 1)
        sorted_keys = packed >> pbits
    else:
        perm = np.argsort(keys)
        sorted_keys = keys[perm]
    new = np.ones(n, dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return perm, new


def _dense_ids(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids ``0 .. k - 1`` of the distinct values of a non-negative int64 array (in sorted order)."""
    if keys.shape[0] == 0:
        return np.zeros(0, np.int64), 1
    perm, new = _sorted_runs(keys)
    ids_sorted = np.cumsum(new, dtype=np.int64) - 1
    ids = np.empty_like(ids_sorted)
    ids[perm] = ids_sorted
    return ids, int(ids_sorted[-1]) + 1


def _repeated(keys: np.ndarray) -> np.ndarray:
    """Which entries of non-negative int64 ``keys`` have an equal entry elsewhere."""
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    perm, new = _sorted_runs(keys)
    starts = np.flatnonzero(new)
    run_length = np.diff(np.append(starts, keys.shape[0]))
    out = np.empty(keys.shape[0], dtype=bool)
    out[perm] = np.repeat(run_length > 1, run_length)
    return out


def _rank_among_equal(keys: np.ndarray) -> np.ndarray:
    """For each entry of non-negative int64 ``keys``, how many equal keys come before it in sorted order."""
    perm, new = _sorted_runs(keys)
    idx = np.arange(keys.shape[0], dtype=np.int64)
    rank = np.empty_like(idx)
    rank[perm] = idx - np.maximum.accumulate(np.where(new, idx, 0))
    return rank


class BleuCorpus:
    """The tokenised sentences of a corpus with their counted n-grams, to score pairs by index.

    Each distinct sentence is tokenised and counted once. ``score(hyp_ids, ref_ids)`` then scores any
    number of pairs ``(sentences[hyp_ids[i]], sentences[ref_ids[i]])`` exactly as sacrebleu's
    sentence BLEU with effective order (see the module docstring for the formulas).

    Args:
        sentences: the corpus, raw (detokenised) text.
        max_order: the largest n-gram order counted (BLEU-n); scores may use any order up to it.
        tokenize: a sacrebleu tokeniser name (``13a``, ``intl``, ``char``, ``zh``, ``none`` ...).
        lowercase: lower-case before tokenising (sacrebleu's ``lowercase``).

    Attributes:
        lengths_: tokens per sentence (int64, one per input sentence).
        n_unique_: number of distinct sentences.

    Example:
        >>> corpus = BleuCorpus(["the cat sat", "the cat sat down", "a dog"], max_order=2)
        >>> corpus.score([1, 2], [0, 0]).round(2).tolist()
        [70.71, 0.0]
    """

    def __init__(
        self,
        sentences: Sequence[str],
        *,
        max_order: int = 4,
        tokenize: str = "13a",
        lowercase: bool = False,
    ) -> None:
        _check_params(max_order, "exp", None)
        self.max_order = int(max_order)
        self.tokenize = tokenize
        self.lowercase = bool(lowercase)
        texts = _check_texts(sentences, "sentences")
        tokenizer = _make_tokenizer(tokenize)

        index: dict[str, int] = {}
        self._uid = np.fromiter(
            (index.setdefault(s, len(index)) for s in texts), dtype=np.int64, count=len(texts)
        )
        unique = list(index)
        if self.lowercase:
            unique = [text.lower() for text in unique]
        spans = _token_spans(unique, tokenize, tokenizer)
        tokens, n_words = number_tokens(spans)
        ulen = np.diff(spans.offsets)
        self.n_unique_ = len(index)
        self._ulen = ulen
        self.lengths_ = ulen[self._uid]
        self._build_features(tokens.astype(np.int64, copy=False), ulen, max(n_words, 1))

    def __len__(self) -> int:
        return int(self._uid.shape[0])

    def _build_features(self, tokens: np.ndarray, ulen: np.ndarray, vocab_size: int) -> None:
        """The sentence x feature CSR matrices: feature ``(g, c)`` = the ``c``-th occurrence of n-gram ``g``.

        Column ids: order ``n`` takes a block of columns; inside it, ``(g, 0)`` is column ``g`` (every
        n-gram occurs first somewhere, so these are dense) and the few ``(g, c >= 1)`` follow, numbered
        by ``np.unique``. Entries are written straight to their CSR slot (a sentence's features of
        order 1, then order 2, ...) and each row is then sorted by scipy (rows are short).
        """
        n_tok = tokens.shape[0]
        n_sent = ulen.shape[0]
        offsets = np.zeros(n_sent + 1, dtype=np.int64)
        np.cumsum(ulen, out=offsets[1:])
        sid = np.repeat(np.arange(n_sent, dtype=np.int64), ulen)
        within = np.arange(n_tok, dtype=np.int64) - offsets[:-1][sid]  # position inside the sentence
        remaining = ulen[sid] - within  # tokens from here to the end of the sentence
        per_order = [np.maximum(ulen - n + 1, 0) for n in range(1, self.max_order + 1)]
        row_nnz = np.sum(per_order, axis=0) if per_order else np.zeros(n_sent, np.int64)
        indptr = np.zeros(n_sent + 1, dtype=np.int64)
        np.cumsum(row_nnz, out=indptr[1:])
        nnz = int(indptr[-1])
        cols = np.empty(nnz, dtype=np.int64)
        codes = np.empty(nnz, dtype=np.int8)
        row_base = indptr[:-1].copy()  # where order n's features of each sentence start

        # occurrence ranks of the tokens in their sentence; a repeated n-gram starts with a repeated
        # token, so higher orders rank only those positions
        repeated = _repeated(sid * np.int64(vocab_size) + tokens)
        gram = tokens  # id of the n-gram starting at each position (valid where remaining >= n)
        n_ids = vocab_size
        col_offset = 0
        for n in range(1, self.max_order + 1):
            if n > 1:
                pos = np.flatnonzero(remaining >= n)
                if pos.shape[0] == 0:
                    break
                ids, n_ids = _dense_ids(gram[pos] * np.int64(vocab_size) + tokens[pos + n - 1])
                gram = np.full(n_tok, -1, dtype=np.int64)
                gram[pos] = ids
            else:
                pos = np.arange(n_tok, dtype=np.int64)
                if n_tok == 0:
                    break
            g = gram[pos]
            col = g.copy()
            cand = np.flatnonzero(repeated[pos])
            n_extra = 0
            if cand.size:
                key = sid[pos[cand]] * np.int64(n_ids) + g[cand]
                rank = _rank_among_equal(key)
                again = rank > 0
                if again.any():
                    extra = g[cand[again]] * np.int64(rank.max() + 1) + rank[again]
                    uniq, inv = np.unique(extra, return_inverse=True)
                    col[cand[again]] = n_ids + inv.ravel()
                    n_extra = uniq.shape[0]
            slot = row_base[sid[pos]] + within[pos]
            cols[slot] = col + col_offset
            codes[slot] = n
            row_base += per_order[n - 1]
            col_offset += n_ids + n_extra

        n_feat = max(col_offset, 1)
        idx_dtype = np.int32 if n_feat < 2**31 and nnz < 2**31 else np.int64
        # same sparsity pattern twice: data = order n (reference side) and data = 1 (hypothesis side)
        feat_order = sp.csr_matrix(
            (codes, cols.astype(idx_dtype), indptr.astype(idx_dtype)), shape=(n_sent, n_feat)
        )
        feat_order.has_sorted_indices = False
        feat_order.sort_indices()  # per row, in C++ (no duplicates: features are distinct per row)
        self._feat_order = feat_order
        self._feat_one = sp.csr_matrix(
            (np.ones_like(feat_order.data), feat_order.indices, feat_order.indptr), shape=(n_sent, n_feat)
        )
        self._feat_one.has_sorted_indices = True

    # ------------------------------------------------------------------ statistics and scores
    def _resolve(self, ids: Any, name: str) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise InputError(f"{name} must be integer indices, got dtype {arr.dtype}", column=name)
        arr = arr.astype(np.int64, copy=False).ravel()
        n = len(self)
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name}[{i}] = {int(arr[i])} is not a sentence index (the corpus has {n})", column=name
            )
        return self._uid[arr]

    def stats(self, hyp_ids: Any, ref_ids: Any, *, max_order: int | None = None) -> dict[str, np.ndarray]:
        """BLEU sufficient statistics of pairs ``(hyp_ids[i], ref_ids[i])``.

        Returns:
            ``correct`` (pairs x n) clipped n-gram matches, ``total`` (pairs x n) hypothesis n-grams,
            ``hyp_len`` and ``ref_len`` (pairs,), all int64.
        """
        order = self.max_order if max_order is None else int(max_order)
        if not 1 <= order <= self.max_order:
            raise ConfigError(
                f"max_order {order} is outside 1..{self.max_order} (the corpus counted up to "
                f"{self.max_order}-grams)",
                column="max_order",
            )
        hu = self._resolve(hyp_ids, "hyp_ids")
        ru = self._resolve(ref_ids, "ref_ids")
        if hu.shape != ru.shape:
            raise InputError(
                f"hyp_ids and ref_ids differ in length ({hu.shape[0]} != {ru.shape[0]})", column="ref_ids"
            )
        n_pairs = hu.shape[0]
        correct = np.zeros((n_pairs, order), dtype=np.int64)
        for start in range(0, n_pairs, _PAIR_BLOCK):
            stop = min(start + _PAIR_BLOCK, n_pairs)
            correct[start:stop] = self._matches(hu[start:stop], ru[start:stop], order)
        hyp_len = self._ulen[hu]
        ref_len = self._ulen[ru]
        total = np.maximum(hyp_len[:, None] - np.arange(order, dtype=np.int64)[None, :], 0)
        return {"correct": correct, "total": total, "hyp_len": hyp_len, "ref_len": ref_len}

    def _matches(self, hu: np.ndarray, ru: np.ndarray, order: int) -> np.ndarray:
        n_pairs = hu.shape[0]
        hyp = self._feat_one[hu]
        ref = self._feat_order[ru]
        both = hyp.multiply(ref).tocsr()
        counts = np.diff(both.indptr)
        pair = np.repeat(np.arange(n_pairs, dtype=np.int64), counts)
        code = both.data.astype(np.int64) - 1
        keep = code < order
        flat = np.bincount(pair[keep] * order + code[keep], minlength=n_pairs * order)
        return flat.reshape(n_pairs, order)

    def score(
        self,
        hyp_ids: Any,
        ref_ids: Any,
        *,
        max_order: int | None = None,
        smooth_method: str = "exp",
        smooth_value: float | None = None,
    ) -> np.ndarray:
        """Sentence BLEU (0-100, float64) of each pair ``(hyp_ids[i], ref_ids[i])``.

        ``max_order`` defaults to the corpus' ``max_order``; a smaller order reuses the same counts.
        """
        order = self.max_order if max_order is None else int(max_order)
        value = _check_params(order, smooth_method, smooth_value)
        st = self.stats(hyp_ids, ref_ids, max_order=order)
        return bleu_from_stats(
            st["correct"], st["hyp_len"], st["ref_len"], smooth_method=smooth_method, smooth_value=value
        )

    def score_candidates(
        self,
        target_ids: Any,
        candidate_ids: Any,
        *,
        max_order: int | None = None,
        smooth_method: str = "exp",
        smooth_value: float | None = None,
    ) -> np.ndarray:
        """BLEU of each candidate (hypothesis) against its target (reference): the re-ranking form.

        Args:
            target_ids: (T,) sentence indices of the targets.
            candidate_ids: (T, K) sentence indices of each target's candidates; ``-1`` marks padding.

        Returns:
            (T, K) float64 scores; NaN where the candidate is padding.
        """
        targets = np.asarray(target_ids, dtype=np.int64).ravel()
        cands = np.asarray(candidate_ids, dtype=np.int64)
        if cands.ndim != 2 or cands.shape[0] != targets.shape[0]:
            raise InputError(
                f"candidate_ids must have shape (len(target_ids), K) = ({targets.shape[0]}, K), "
                f"got {cands.shape}",
                column="candidate_ids",
            )
        valid = cands >= 0
        out = np.full(cands.shape, np.nan, dtype=np.float64)
        if valid.any():
            rows = np.broadcast_to(targets[:, None], cands.shape)[valid]
            out[valid] = self.score(
                cands[valid],
                rows,
                max_order=max_order,
                smooth_method=smooth_method,
                smooth_value=smooth_value,
            )
        return out


def bleu_from_stats(
    correct: np.ndarray,
    hyp_len: np.ndarray,
    ref_len: np.ndarray,
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
) -> np.ndarray:
    """Sentence BLEU with effective order from per-pair statistics, vectorised (formulas: module doc).

    Args:
        correct: (pairs, n) clipped n-gram matches for orders 1..n.
        hyp_len: (pairs,) hypothesis lengths in tokens.
        ref_len: (pairs,) reference lengths in tokens.
        smooth_method: ``exp``, ``floor``, ``add-k`` or ``none``.
        smooth_value: the value of ``floor``/``add-k`` (defaults 0.1 and 1, as sacrebleu).
    """
    correct = np.asarray(correct, dtype=np.float64)
    if correct.ndim != 2:
        raise InputError("correct must be a (pairs, max_order) array", column="correct")
    n_pairs, order = correct.shape
    value = _check_params(order, smooth_method, smooth_value)
    hyp_len = np.asarray(hyp_len, dtype=np.float64)
    ref_len = np.asarray(ref_len, dtype=np.float64)
    total = np.maximum(hyp_len[:, None] - np.arange(order, dtype=np.float64)[None, :], 0.0)
    if smooth_method == "add-k" and order > 1:
        correct = correct.copy()
        correct[:, 1:] += value
        total[:, 1:] += value

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bp = np.where(
            hyp_len < ref_len,
            np.where(hyp_len > 0, np.exp(1.0 - ref_len / np.where(hyp_len > 0, hyp_len, 1.0)), 0.0),
            1.0,
        )
        alive = np.ones(n_pairs, dtype=bool)  # still inside the effective order
        eff = np.zeros(n_pairs, dtype=np.float64)
        log_sum = np.zeros(n_pairs, dtype=np.float64)
        zeros_so_far = np.zeros(n_pairs, dtype=np.float64)
        for n in range(order):
            tot = total[:, n]
            cor = correct[:, n]
            alive &= tot != 0
            safe_tot = np.where(tot != 0, tot, 1.0)
            zero = cor == 0
            if smooth_method == "exp":
                zeros_so_far += zero & alive
                prec = np.where(zero, 100.0 / (np.exp2(zeros_so_far) * safe_tot), 100.0 * cor / safe_tot)
            elif smooth_method == "floor":
                prec = np.where(zero, 100.0 * value / safe_tot, 100.0 * cor / safe_tot)
            else:
                prec = np.where(zero, 0.0, 100.0 * cor / safe_tot)
            logp = np.where(prec == 0.0, _LOG_ZERO, np.log(np.where(prec > 0, prec, 1.0)))
            log_sum += np.where(alive, logp, 0.0)
            eff += alive
        score = bp * np.exp(log_sum / np.where(eff > 0, eff, 1.0))
    any_match = correct[:, 0] > 0 if order else np.zeros(n_pairs, dtype=bool)
    return np.where(any_match & (eff > 0), score, 0.0)


def sentence_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    max_order: int = 4,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    tokenize: str = "13a",
    lowercase: bool = False,
) -> np.ndarray:
    """Sentence BLEU of each aligned pair ``(hypotheses[i], references[i])``, one reference each.

    Equals ``sacrebleu.metrics.BLEU(max_ngram_order=max_order, effective_order=True,
    smooth_method=smooth_method, smooth_value=smooth_value, tokenize=tokenize,
    lowercase=lowercase).sentence_score(h, [r]).score`` (within floating-point rounding, ~1e-12).

    Args:
        hypotheses: system outputs (raw text).
        references: one reference per hypothesis.
        max_order: BLEU-n, the largest n-gram order.
        smooth_method: ``exp`` (sacrebleu's default), ``floor``, ``add-k`` or ``none``.
        smooth_value: value for ``floor`` (default 0.1) or ``add-k`` (default 1).
        tokenize: sacrebleu tokeniser name.
        lowercase: case-insensitive BLEU.

    Returns:
        (len(hypotheses),) float64 scores in [0, 100].

    Example:
        >>> sentence_bleu(["the cat sat", "the cat"], ["the cat sat", "the cat sat"]).round(4).tolist()
        [100.0, 60.6531]
    """
    _check_params(max_order, smooth_method, smooth_value)
    hyps = _check_texts(hypotheses, "hypotheses")
    refs = _check_texts(references, "references")
    if len(hyps) != len(refs):
        raise InputError(
            f"hypotheses and references differ in length ({len(hyps)} != {len(refs)})", column="references"
        )
    corpus = BleuCorpus(hyps + refs, max_order=max_order, tokenize=tokenize, lowercase=lowercase)
    n = len(hyps)
    return corpus.score(
        np.arange(n), np.arange(n, 2 * n), smooth_method=smooth_method, smooth_value=smooth_value
    )


def sentence_bleu_many(
    reference: str,
    hypotheses: Sequence[str],
    *,
    max_order: int = 4,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    tokenize: str = "13a",
    lowercase: bool = False,
) -> np.ndarray:
    """Sentence BLEU of many candidate hypotheses against one reference (the re-ranking form).

    The reference is tokenised and counted once. For many targets with many candidates each, build a
    :class:`BleuCorpus` once and use :meth:`BleuCorpus.score_candidates`.

    Example:
        >>> sentence_bleu_many("a man rides a horse", ["a man rides a horse", "a dog"]).round(1).tolist()
        [100.0, 11.2]
    """
    if not isinstance(reference, str):
        raise InputError(f"reference must be a string, got {type(reference).__name__}", column="reference")
    hyps = _check_texts(hypotheses, "hypotheses")
    return sentence_bleu(
        hyps,
        [reference] * len(hyps),
        max_order=max_order,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        tokenize=tokenize,
        lowercase=lowercase,
    )
