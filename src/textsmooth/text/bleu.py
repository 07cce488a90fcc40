"""Fast, exact sentence BLEU for many pairs at once.

The scores equal, value for value, those of sacrebleu's sentence-level BLEU with effective order::

    sacrebleu.metrics.BLEU(max_ngram_order=n, effective_order=True, smooth_method=..., smooth_value=...,
                           tokenize=..., lowercase=...).sentence_score(hypothesis, [reference]).score

but every sentence is tokenised and its n-grams are counted once, however many pairs it takes part in,
and the pairs are scored with vectorised sparse operations instead of one Python call per pair.

How it works
------------
1. Each distinct sentence is lower-cased (optionally), right-stripped and tokenised by sacrebleu's own
   tokeniser class (so tokenisation is exactly sacrebleu's), then split on white space.
2. Tokens get integer ids; an n-gram gets an integer id from the pair (id of its (n-1)-gram prefix,
   id of its last token), so n-gram ids are exact (no hashing, no collisions).
3. The *c*-th occurrence of an n-gram ``g`` in a sentence becomes the binary feature ``(g, c)``. A
   sentence is then a set of features, and the clipped match count of BLEU,
   ``correct_n(h, r) = sum_g min(count_h(g), count_r(g))``, is the size of the intersection of the two
   sets' order-``n`` features, because ``min(a, b) = #{c >= 1 : c <= a and c <= b}``.
4. The features form a sparse sentence x feature matrix; for a block of pairs the rows of the
   hypotheses and of the references are gathered and multiplied element-wise (a sorted merge in C),
   and the matches are counted per pair and order.
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
import scipy.sparse as sp

from textsmooth.errors import ConfigError, InputError

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
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer) or max_order < 1:
        raise ConfigError(f"max_order must be a positive integer, got {max_order!r}", column="max_order")
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
    if isinstance(texts, str):
        raise InputError(f"{name} must be a sequence of strings, not one string", column=name)
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(
                f"{name}[{i}] is a {type(text).__name__}, expected a string",
                column=name,
                hint="replace missing sentences by '' (it scores 0)",
            )
    return out


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
        vocab: dict[str, int] = {}
        flat: list[int] = []
        ulen = np.zeros(len(index), dtype=np.int64)
        for u, text in enumerate(index):
            if self.lowercase:
                text = text.lower()
            tokens = tokenizer(text.rstrip()).split()
            ulen[u] = len(tokens)
            flat.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
        self.n_unique_ = len(index)
        self._ulen = ulen
        self.lengths_ = ulen[self._uid]
        self._build_features(np.asarray(flat, dtype=np.int64), ulen, max(len(vocab), 1))

    def __len__(self) -> int:
        return int(self._uid.shape[0])

    def _build_features(self, flat: np.ndarray, ulen: np.ndarray, vocab_size: int) -> None:
        n_tok = flat.shape[0]
        n_sent = ulen.shape[0]
        offsets = np.zeros(n_sent + 1, dtype=np.int64)
        np.cumsum(ulen, out=offsets[1:])
        sid = np.repeat(np.arange(n_sent, dtype=np.int64), ulen)
        remaining = offsets[1:][sid] - np.arange(n_tok, dtype=np.int64)  # tokens from here to the end

        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        col_offset = 0
        gram = flat  # ids of the n-grams starting at each position (valid where remaining >= n)
        n_ids = vocab_size
        for n in range(1, self.max_order + 1):
            if n > 1:
                pos = np.flatnonzero(remaining >= n)
                key = gram[pos] * np.int64(vocab_size) + flat[pos + n - 1]
                uniq, inv = np.unique(key, return_inverse=True)
                gram = np.full(n_tok, -1, dtype=np.int64)
                gram[pos] = inv
                n_ids = max(uniq.shape[0], 1)
            else:
                pos = np.arange(n_tok, dtype=np.int64)
            if pos.shape[0] == 0:
                break
            s = sid[pos]
            g = gram[pos]
            # occurrence rank c of each n-gram within its sentence: feature (g, c)
            key2 = s * np.int64(n_ids) + g
            # which occurrence of an n-gram gets which rank c does not matter (only how many there
            # are), so an unstable (SIMD) sort is fine
            order = np.argsort(key2)
            sorted_key = key2[order]
            starts = np.ones(sorted_key.shape[0], dtype=bool)
            starts[1:] = sorted_key[1:] != sorted_key[:-1]
            idx = np.arange(sorted_key.shape[0], dtype=np.int64)
            run_start = np.maximum.accumulate(np.where(starts, idx, 0))
            occ = idx - run_start
            n_occ = int(occ.max()) + 1
            feat_key = g[order] * np.int64(n_occ) + occ
            funiq, finv = np.unique(feat_key, return_inverse=True)
            rows.append(s[order])
            cols.append(finv.astype(np.int64) + col_offset)
            codes.append(np.full(order.shape[0], n, dtype=np.int8))
            col_offset += funiq.shape[0]

        n_feat = max(col_offset, 1)
        if rows:
            r = np.concatenate(rows)
            c = np.concatenate(cols)
            d = np.concatenate(codes)
            # each order's block is already sorted by (row, column) and the blocks' columns increase
            # with the order, so a stable sort by row (timsort merging presorted runs) sorts by (row, column)
            perm = np.argsort(r, kind="stable")
            r, c, d = r[perm], c[perm], d[perm]
        else:
            r = c = np.zeros(0, dtype=np.int64)
            d = np.zeros(0, dtype=np.int8)
        indptr = np.zeros(n_sent + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n_sent), out=indptr[1:])
        idx_dtype = np.int32 if n_feat < 2**31 and c.shape[0] < 2**31 else np.int64
        indices = c.astype(idx_dtype)
        indptr = indptr.astype(idx_dtype)
        # same sparsity pattern twice: data = order n (reference side) and data = 1 (hypothesis side)
        self._feat_order = sp.csr_matrix((d, indices, indptr), shape=(n_sent, n_feat))
        self._feat_one = sp.csr_matrix((np.ones_like(d), indices, indptr), shape=(n_sent, n_feat))
        self._feat_order.has_sorted_indices = True
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
