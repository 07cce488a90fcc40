"""Keyword-based label smoothing (KWLS) and its TF-IDF variant (LS-TFIDF).

Liu, Xi, Ye & Zhang, *Label Smoothing for Text Mining* (COLING 2022), section 4. With ``X_m`` the
training instances of label ``m``, ``p`` labels, ``N`` instances:

* eq. (1) word-label correlation  ``WLC[w,m] = f(w, X_m) * k1 / (f(w, X_m) + K_m)``,
  ``K_m = k1 * (1 - b + b * S_m / S_avg)``, ``S_m`` = number of tokens in ``X_m``,
  ``S_avg`` = mean of ``S_m``;
* eq. (2) word-label weight       ``WLW[w] = log(p / #labels whose instances contain w) + 1``;
* eq. (3) word-label relevance    ``WLR[w,m] = WLW[w] * WLC[w,m]``;
* eq. (4) word-instance correlation ``WIC[w,i] = f(w, x_i) * k2 / (f(w, x_i) + k2)``;
* eq. (5) word-instance weight    ``WIW[w] = log(N / #instances containing w) + 1``;
* eq. (6) word-instance relevance ``WIR[w,i] = WIW[w] * WIC[w,i]``;
* eq. (7) instance-label relevance ``ILR[i,m] = (1 / X_avg) * sum_{w in x_i} WLR[w,m] * WIR[w,i]``,
  ``X_avg`` = mean number of tokens per training instance;
* eq. (8) soft label ``d_i = softmax(ILR_i)``.

Paper versus the authors' generator (``PeiYangLiu/KWLS``, ``generate_soft_label.py``): the sum in eq. (7)
runs over the *distinct* words of ``x_i`` in their code (``ilr_sum="distinct"``, our default, which
reproduces their output to 1e-12), while the paper's notation can be read as a sum over every token
occurrence (``ilr_sum="tokens"``, where a word seen ``f`` times contributes ``f`` times). Everything else
agrees. ``temperature`` (default 1, the paper) divides ILR before the softmax: below 1 sharpens the
soft labels, which matters on long documents where they come out close to uniform.

Implementation: a sparse document-term matrix ``X`` (byte-level tokenisation and exact word keys, see
:mod:`textsmooth.text.counts`), label-term counts ``F = Y^T X``, and eq. (7) as one sparse-dense
product ``ILR = (WIC_X @ (WIW * WLR)) / X_avg``: the word-instance correlations of ``X`` (eq. 4, from a
table of the distinct counts) times WLR with each word's row scaled by its WIW (eqs. 3, 5; built per
call), so fit and transform are linear in the corpus size with no Python object per token. Soft
labels are computed in blocks of rows (each row depends on its own text only, so blocks give the same
values as one pass), ``os.cpu_count()`` blocks at a time on threads, and written into the output
array; before starting, the output size plus the largest temporary is checked against
``max_memory_gib``.

A fit is two steps: *count* the corpus statistics (:class:`TermStatistics`: label-term counts ``F``,
document frequencies, ``S_m``, total length, ``N``), then *finish* eqs. (1)-(3) and (5) from them
(:meth:`KeywordSmoother.fit_statistics`). Every statistic is a sum over texts, so the statistics of
consecutive shards merge exactly (:meth:`TermStatistics.merge`); :mod:`textsmooth.distributed` counts
shards on Ray and finishes with the same method, which is why both paths give the same bits.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from textsmooth.errors import ConfigError, InputError
from textsmooth.targets.base import SoftLabelGenerator, check_labels, check_texts
from textsmooth.text.counts import CountMatrix, count_texts, map_threads, resolve_jobs
from textsmooth.text.tokenize import Tokenizer, resolve_tokenizer

__all__ = ["KeywordSmoother", "LabelExplanation", "TermStatistics", "TfidfSmoother", "load_smoother"]

# Above this many (word x label) cells the word-label relevance stays sparse in the product.
_DENSE_RELEVANCE_CELLS = 50_000_000
# Soft labels are computed in blocks of rows whose float64 temporaries take about this many bytes.
_BLOCK_BYTES = 1 << 26
# float64 (rows x labels) temporaries alive at once while a block is computed (ILR, shifted, exp).
_BLOCK_TEMPORARIES = 3
# Default memory limit: this fraction of the memory available when a transform starts.
_AVAILABLE_FRACTION = 0.8


@dataclass(frozen=True)
class LabelExplanation:
    """Why a text got its soft label, for one label.

    Attributes:
        label: the class (as in ``classes_``).
        name: its display name.
        probability: the soft-label value for this label.
        relevance: instance-label relevance ``ILR`` (before the softmax).
        words: the words that contributed most to ``relevance``, as ``(word, contribution)`` pairs,
            largest first; contributions over all words of the text sum to ``relevance``.
    """

    label: Any
    name: str
    probability: float
    relevance: float
    words: list[tuple[str, float]]


@dataclass(frozen=True)
class TermStatistics:
    """The corpus statistics a KWLS / LS-TFIDF fit needs; each one a sum over the training texts.

    Because every field adds up per text, the statistics of a corpus are the sum of those of its
    consecutive shards (:meth:`merge`), and since the sums are integers (held exactly in float64
    below 2**53), the merged statistics equal the whole corpus's in every bit, in any order of
    addition. :meth:`KeywordSmoother.fit_statistics` finishes a fit from them.

    Attributes:
        vocabulary: the words (Arrow strings) in order of first appearance in the corpus.
        label_counts: label-term counts ``F[m, w] = f(w, X_m)`` of eq. (1): CSR, labels x words,
            float64 holding integers.
        instances_with_word: number of texts containing each word (document frequency), the
            denominator of eq. (5); int64.
        label_lengths: ``S_m`` of eq. (1), tokens in the texts of each label; float64 holding integers.
        total_length: tokens in all texts; ``X_avg = total_length / n_instances`` (eq. 7).
        n_instances: ``N``, the number of texts (eq. 5).
    """

    vocabulary: pa.Array
    label_counts: sp.csr_matrix
    instances_with_word: np.ndarray
    label_lengths: np.ndarray
    total_length: int
    n_instances: int

    @property
    def n_labels(self) -> int:
        return int(self.label_counts.shape[0])

    @property
    def n_words(self) -> int:
        return int(self.label_counts.shape[1])

    @classmethod
    def from_counts(
        cls, counts: CountMatrix, label_ids: np.ndarray, n_labels: int, *, n_jobs: int | None = None
    ) -> TermStatistics:
        """The statistics of the texts counted in ``counts``, with label ids ``0..n_labels-1`` (checked).

        ``n_jobs`` threads (default ``os.cpu_count()``, at most 2 are used); the result does not
        depend on it.
        """
        x = counts.counts
        n_texts, n_words = x.shape
        ids = np.asarray(label_ids, dtype=np.int64)
        if ids.shape != (n_texts,):
            raise InputError(f"{n_texts} texts but {ids.size} label ids", hint="give one label per text")
        # Y^T as CSR (labels x texts) directly: Y.T would be CSC and make scipy convert X to CSC
        by_label = np.argsort(ids, kind="stable")
        label_indptr = np.zeros(n_labels + 1, dtype=np.int64)
        np.cumsum(np.bincount(ids, minlength=n_labels), out=label_indptr[1:])
        y_t = sp.csr_matrix((np.ones(n_texts), by_label, label_indptr), shape=(n_labels, n_texts))
        # F[m, w] = f(w, X_m), integer sums: exact in any order; its rows need not be sorted (every use
        # is per entry, and the transposed WLR built from it comes out sorted). The number of
        # instances containing each word (eq. 5) is counted at the same time, on another thread.
        label_counts, instances_with_word = map_threads(
            lambda task: task(),
            [lambda: (y_t @ x).tocsr(), lambda: np.bincount(x.indices, minlength=n_words)],
            min(2, resolve_jobs(n_jobs)),
        )
        return cls(
            vocabulary=counts.vocabulary,
            label_counts=label_counts,
            instances_with_word=instances_with_word.astype(np.int64, copy=False),
            label_lengths=np.bincount(ids, weights=counts.lengths, minlength=n_labels),  # S_m
            total_length=int(counts.lengths.sum()),
            n_instances=n_texts,
        )

    @classmethod
    def merge(cls, parts: Sequence[TermStatistics]) -> TermStatistics:
        """The statistics of the concatenation of the shards ``parts`` (in corpus order): their sum.

        The vocabulary is the shards' vocabularies in order, each word kept at its first appearance,
        which is the order of first appearance in the whole corpus; each shard's counts move to those
        word ids and add up. Merging is associative: shards may be merged in groups, then the groups.
        """
        parts = list(parts)
        if not parts:
            raise InputError("no statistics to merge")
        n_labels = parts[0].n_labels
        if any(p.n_labels != n_labels for p in parts):
            raise InputError(
                f"statistics of {sorted({p.n_labels for p in parts})} labels cannot be merged",
                hint="count every shard with the same label ids",
            )
        large = any(pa.types.is_large_string(p.vocabulary.type) for p in parts)
        string_type = pa.large_string() if large else pa.string()
        encoded = pc.dictionary_encode(pa.concat_arrays([p.vocabulary.cast(string_type) for p in parts]))
        vocabulary, word_ids = encoded.dictionary, encoded.indices.to_numpy().astype(np.int64)
        n_words = len(vocabulary)
        starts = np.cumsum([0] + [p.n_words for p in parts])
        rows, cols, values = [], [], []
        instances_with_word = np.zeros(n_words, dtype=np.int64)
        for part, start, stop in zip(parts, starts[:-1], starts[1:], strict=True):
            to_merged = word_ids[start:stop]  # one-to-one within a shard
            f = part.label_counts.tocoo()
            rows.append(f.row)
            cols.append(to_merged[f.col])
            values.append(f.data)
            instances_with_word[to_merged] += part.instances_with_word
        label_counts = sp.coo_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n_labels, n_words)
        ).tocsr()  # duplicates summed
        label_lengths = np.zeros(n_labels, dtype=np.float64)
        for part in parts:
            label_lengths += part.label_lengths
        return cls(
            vocabulary=vocabulary,
            label_counts=label_counts,
            instances_with_word=instances_with_word,
            label_lengths=label_lengths,
            total_length=sum(int(p.total_length) for p in parts),
            n_instances=sum(int(p.n_instances) for p in parts),
        )


class _TermRelevanceSmoother(SoftLabelGenerator):
    """Shared pipeline of KWLS and LS-TFIDF: term weights -> instance-label relevance -> softmax."""

    kind: str = "term-relevance"

    tokenizer: Tokenizer | None
    dtype: Any
    temperature: float
    ilr_sum: str
    max_memory_gib: float | None

    # -- the two places where KWLS and LS-TFIDF differ ---------------------------------------------
    @abc.abstractmethod
    def _label_term_weight(
        self, counts: np.ndarray, label_length: np.ndarray, mean_label_length: float
    ) -> np.ndarray:
        """WLC per nonzero (label, word) entry, from the count, ``S_m`` of its label and ``S_avg``."""

    @abc.abstractmethod
    def _instance_term_weight(self, counts: np.ndarray) -> np.ndarray:
        """WIC per nonzero (instance, word) entry, from the count."""

    def _check_params(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.ilr_sum not in ("distinct", "tokens"):
            raise ConfigError(f"ilr_sum must be 'distinct' or 'tokens', got {self.ilr_sum!r}")
        limit = getattr(self, "max_memory_gib", None)
        if limit is not None and not (np.isfinite(limit) and limit > 0):
            raise ConfigError(f"max_memory_gib must be > 0 or None, got {limit}")
        resolve_tokenizer(self.tokenizer)
        self._jobs(None)

    def _jobs(self, n_jobs: int | None) -> int:
        """Threads of one call: ``n_jobs`` where a caller gives it (a Ray task), else the estimator's."""
        return resolve_jobs(getattr(self, "n_jobs", None) if n_jobs is None else n_jobs)

    # -- estimator API ---------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        n_classes: int | None = None,
        label_names: Sequence[str] | None = None,
    ) -> _TermRelevanceSmoother:
        """Learn word-label relevance (eqs. 1-3) and word-instance weights (eq. 5) from training data.

        Args:
            texts: training texts.
            labels: one hard label per text: ids ``0..C-1`` or names (sorted to ids).
            n_classes: number of classes when labels are ids (default: max id + 1).
            label_names: display names of the classes (default: ``str`` of each class).

        Raises:
            InputError: lengths differ, a text is not a string, or no text has any token.
            LabelError: a label is missing/NaN or out of range, or a class has no instance.
        """
        self._fit_counts(self._count(texts, None), labels, n_classes, label_names)
        return self

    def transform(self, texts: Sequence[str], labels: Sequence[Any] | None = None) -> np.ndarray:
        """Soft labels for ``texts`` from the fitted statistics (eqs. 4-8).

        ``labels`` is accepted for API symmetry and ignored: KWLS soft labels depend on the text only.
        Words never seen in training contribute nothing; a text with no known word gets the uniform
        soft label.
        """
        self._check_fitted()
        return self._soft_labels(self._count(texts, self.vocabulary_))

    def fit_transform(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        n_classes: int | None = None,
        label_names: Sequence[str] | None = None,
    ) -> np.ndarray:
        """``fit`` then ``transform`` on the same texts, tokenising and counting them once."""
        counts = self._count(texts, None)
        self._fit_counts(counts, labels, n_classes, label_names)
        return self._soft_labels(counts)

    def relevance(self, texts: Sequence[str]) -> np.ndarray:
        """Instance-label relevance ``ILR`` (eq. 7), ``(n, n_classes)`` float64, before the softmax."""
        self._check_fitted()
        return self._relevance(self._count(texts, self.vocabulary_))

    def explain(self, text: str, top: int = 10) -> list[LabelExplanation]:
        """For each label, the words of ``text`` that contributed most to its relevance (Table 1).

        The contribution of word ``w`` to label ``m`` is ``WLR[w,m] * WIR[w,i] / X_avg`` (times the
        word's count with ``ilr_sum="tokens"``); contributions sum to ``ILR[i,m]``.
        """
        self._check_fitted()
        if top < 1:
            raise ConfigError(f"top must be >= 1, got {top}")
        counts = self._count([text], self.vocabulary_)
        row = counts.counts
        weights = self._instance_weights(row)  # 1 x V, nonzero on the text's known words
        cols = weights.indices
        contributions = (self._relevance_rows(cols) * weights.data[:, None]) / self.mean_length_
        relevance = contributions.sum(axis=0)
        probs = _softmax(relevance[None, :] / self.temperature)[0]
        words = self.vocabulary_.take(pa.array(cols)).to_pylist() if cols.size else []
        out = []
        for m, label in enumerate(self.classes_.tolist()):
            order = np.argsort(-contributions[:, m], kind="stable")[:top]
            ranked = [(words[j], float(contributions[j, m])) for j in order if contributions[j, m] > 0]
            out.append(
                LabelExplanation(
                    label=label,
                    name=self.label_names_[m],
                    probability=float(probs[m]),
                    relevance=float(relevance[m]),
                    words=ranked,
                )
            )
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted smoother to ``path`` (NPZ, no pickles) with a JSON manifest, atomically.

        See :func:`textsmooth.targets.saved.save_generator` (the format, and what loading checks).
        """
        from textsmooth.targets.saved import save_generator

        return save_generator(self, path)

    # -- internals -------------------------------------------------------------------------------
    def _count(
        self, texts: Sequence[str] | pa.Array, vocabulary: pa.Array | None, *, n_jobs: int | None = None
    ) -> CountMatrix:
        """Check and count ``texts`` (an Arrow string array without nulls is counted as it is)."""
        self._check_params()
        tokenizer = resolve_tokenizer(self.tokenizer)
        plain = (
            isinstance(texts, pa.Array)
            and (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type))
            and texts.null_count == 0
        )
        if not plain or callable(tokenizer):
            texts = check_texts(texts.to_pylist() if isinstance(texts, pa.Array) else texts)
        return count_texts(texts, self.tokenizer, vocabulary, n_jobs=self._jobs(n_jobs))

    def _fit_counts(
        self,
        counts: CountMatrix,
        labels: Sequence[Any],
        n_classes: int | None,
        label_names: Sequence[str] | None,
    ) -> None:
        ids, classes = check_labels(
            labels, n_rows=counts.counts.shape[0], n_classes=n_classes, require_all_classes=True
        )
        self.fit_statistics(
            TermStatistics.from_counts(counts, ids, len(classes), n_jobs=self._jobs(None)),
            classes,
            label_names=label_names,
        )

    def fit_statistics(
        self, statistics: TermStatistics, classes: np.ndarray, *, label_names: Sequence[str] | None = None
    ) -> _TermRelevanceSmoother:
        """Finish a fit from corpus statistics: WLR (eqs. 1-3), WIW (eq. 5), ``X_avg``; returns ``self``.

        ``fit`` counts the statistics of its texts and calls this; so does
        :func:`textsmooth.distributed.keyword_soft_labels` with the sum of per-shard statistics: one
        code path for the maths, hence identical smoothers from identical statistics.

        Args:
            statistics: the training corpus's :class:`TermStatistics` (label ids ``0..C-1``).
            classes: the ``C`` class values, as :func:`textsmooth.targets.base.check_labels` returns them.
            label_names: display names of the classes (default: ``str`` of each class).

        Raises:
            InputError: no texts, no token in any text, or ``label_names``/``classes`` not matching
                the statistics.
        """
        self._check_params()
        classes = np.asarray(classes)
        n_labels = len(classes)
        if statistics.n_labels != n_labels:
            raise InputError(f"statistics of {statistics.n_labels} labels for {n_labels} classes")
        if statistics.n_instances == 0:
            raise InputError("cannot fit on zero texts")
        if statistics.total_length == 0:
            raise InputError("no training text has any token", hint="check the text column and tokenizer")
        if label_names is not None and len(label_names) != n_labels:
            raise InputError(f"{len(label_names)} label names for {n_labels} classes")
        label_counts, label_lengths = statistics.label_counts, statistics.label_lengths
        n_words = statistics.n_words
        label_of_entry = np.repeat(np.arange(n_labels), np.diff(label_counts.indptr))
        wlc = self._label_term_weight(
            label_counts.data, label_lengths[label_of_entry], float(label_lengths.mean())
        )  # eq. (1)
        labels_with_word = np.bincount(label_counts.indices, minlength=n_words)
        wlw = np.log(n_labels / np.maximum(labels_with_word, 1)) + 1.0  # eq. (2)
        wlr = sp.csr_matrix(
            (wlc * wlw[label_counts.indices], label_counts.indices, label_counts.indptr),
            shape=(n_labels, n_words),
        )  # eq. (3), labels x words
        n_texts = statistics.n_instances
        self.classes_ = classes
        self.label_names_ = [str(c) for c in classes.tolist()] if label_names is None else list(label_names)
        self.vocabulary_ = statistics.vocabulary
        self.word_label_relevance_ = wlr.T.tocsr()  # words x labels
        self.word_instance_weight_ = (
            np.log(n_texts / np.maximum(statistics.instances_with_word, 1)) + 1.0
        )  # eq. (5)
        self.label_lengths_ = label_lengths
        # X_avg: an exact integer sum over an integer count, correctly rounded (as the mean of the lengths)
        self.mean_length_ = float(statistics.total_length / n_texts)
        self.n_instances_ = n_texts
        return self

    def _instance_weights(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """WIC (eq. 4) per nonzero (instance, word), times the count for ``ilr_sum='tokens'``.

        The WIW factor of WIR (eq. 6) is in the other operand of the product (:meth:`_relevance_operand`).
        """
        data = self._instance_term_weight_of_counts(x.data, times_count=self.ilr_sum == "tokens")
        return sp.csr_matrix((data, x.indices, x.indptr), shape=x.shape)

    def _instance_term_weight_of_counts(self, counts: np.ndarray, *, times_count: bool = False) -> np.ndarray:
        """WIC of every count (times it), through a table of the distinct counts when they are small integers.

        The table holds the same function of the same float64 values, so the result is identical
        to ``_instance_term_weight(counts)`` (times ``counts``); it saves the float64 temporaries of
        the formula.
        """
        top = float(counts.max()) if counts.size else 0.0
        index = counts.astype(np.int32) if 0 <= top <= 1 << 16 else None
        if index is None or not np.array_equal(index, counts):
            weights = self._instance_term_weight(counts)
            return weights * counts if times_count else weights
        values = np.arange(int(top) + 1, dtype=np.float64)
        with np.errstate(divide="ignore"):  # the unused entry 0 (log 0 for LS-TFIDF)
            table = self._instance_term_weight(values)
        if times_count:
            table = table * values
        return table[index]

    def _relevance_rows(self, cols: np.ndarray) -> np.ndarray:
        """``WIW[w] * WLR[w, m]`` for the words ``cols``, dense (``len(cols) x n_labels``)."""
        return self.word_label_relevance_[cols].toarray() * self.word_instance_weight_[cols, None]

    def _dense_operand(self, nnz: int) -> bool:
        """Whether the ILR product of ``nnz`` instance weights uses WLR as a dense matrix.

        Dense when it is small enough (``_DENSE_RELEVANCE_CELLS``) and building it costs no more than
        the product itself (``nnz * n_labels``); the dense matrix is built per call, never kept on the
        estimator. Both products add the same nonzero terms in the same order, so either gives the
        same bits: the choice changes the speed only.
        """
        cells = self.word_label_relevance_.shape[0] * self.word_label_relevance_.shape[1]
        return cells <= _DENSE_RELEVANCE_CELLS and cells <= nnz * len(self.classes_)

    def _relevance_operand(self, nnz: int) -> np.ndarray | sp.csr_matrix:
        """``WIW[w] * WLR[w, m]``, the right operand of the ILR product of ``nnz`` WICs: dense or CSR.

        Both forms hold the same products, so the ILR product gives the same bits with either.
        """
        wlr, wiw = self.word_label_relevance_, self.word_instance_weight_
        if self._dense_operand(nnz):
            dense = wlr.toarray()
            dense *= wiw[:, None]
            return dense
        scaled = wlr.data * np.repeat(wiw, np.diff(wlr.indptr))
        return sp.csr_matrix((scaled, wlr.indices, wlr.indptr), shape=wlr.shape)

    def _block_rows(self) -> int:
        """Rows per block: their float64 temporaries take about ``_BLOCK_BYTES``."""
        return max(1, _BLOCK_BYTES // (_BLOCK_TEMPORARIES * 8 * max(len(self.classes_), 1)))

    def _check_memory(self, n_rows: int, nnz: int, dtype: Any, what: str) -> None:
        """Raise ``InputError`` before starting if the output plus the largest temporary exceed the limit.

        The estimate is ``n_rows * n_classes * itemsize`` (the result) plus one block's float64
        temporaries, plus the dense word-label relevance matrix when the product of the ``nnz``
        instance weights uses one.
        """
        n_classes = len(self.classes_)
        itemsize = np.dtype(dtype).itemsize
        output = n_rows * n_classes * itemsize
        block = min(n_rows, self._block_rows()) * n_classes * 8 * _BLOCK_TEMPORARIES
        if self._dense_operand(nnz):
            wlr = self.word_label_relevance_
            block += wlr.shape[0] * wlr.shape[1] * 8
        needed = output + block
        limit, source = _memory_limit(getattr(self, "max_memory_gib", None))
        if limit is not None and needed > limit:
            gib = 1024**3
            max_rows = max(0, int((limit - block) // max(n_classes * itemsize, 1)))
            raise InputError(
                f"{what} for {n_rows:,} texts x {n_classes:,} classes needs about {needed / gib:.1f} GiB "
                f"({output / gib:.1f} GiB of {np.dtype(dtype).name} output plus {block / gib:.2f} GiB of "
                f"temporaries), more than {source} ({limit / gib:.1f} GiB)",
                hint=(
                    f"transform the texts in batches of at most {max_rows:,}, use dtype=float16/float32, "
                    "or raise max_memory_gib if the memory is there"
                ),
            )

    def _relevance_blocks(
        self, counts: CountMatrix, out: np.ndarray, soft: bool, n_jobs: int | None = None
    ) -> np.ndarray:
        """Fill ``out`` block by block with ILR (eq. 7) or, with ``soft``, its softmax (eq. 8).

        Each row depends on its own text only, so neither the blocks nor ``n_jobs`` change a bit.
        """
        x = counts.counts
        operand = self._relevance_operand(x.nnz)
        n_rows = x.shape[0]
        jobs = self._jobs(n_jobs)
        # blocks run on threads (scipy's product and numpy release the GIL); jobs blocks of
        # block_rows / jobs rows at once keep the temporaries within one block of block_rows
        step = max(1, min(self._block_rows() // jobs, -(-n_rows // jobs)))

        def block(start: int) -> None:
            weights = self._instance_weights(_row_block(x, start, min(start + step, n_rows)))
            product = weights @ operand
            ilr = (product.toarray() if sp.issparse(product) else np.asarray(product)) / self.mean_length_
            out[start : start + step] = _softmax(ilr / self.temperature) if soft else ilr

        map_threads(block, range(0, n_rows, step), jobs)
        return out

    def _relevance(self, counts: CountMatrix) -> np.ndarray:
        n_rows = counts.counts.shape[0]
        self._check_memory(n_rows, counts.counts.nnz, np.float64, "instance-label relevance")
        out = np.empty((n_rows, len(self.classes_)), dtype=np.float64)
        return self._relevance_blocks(counts, out, soft=False)

    def _soft_labels(
        self, counts: CountMatrix, *, n_jobs: int | None = None, warn: bool = True
    ) -> np.ndarray:
        """Soft labels (eqs. 7-8) of counted texts; ``warn``: about texts without a known word."""
        n_rows = counts.counts.shape[0]
        self._check_memory(n_rows, counts.counts.nnz, self.dtype, "soft labels")
        if warn:
            warn_no_known_word(rows_without_words(counts), stacklevel=3)
        out = np.empty((n_rows, len(self.classes_)), dtype=self.dtype)
        return self._relevance_blocks(counts, out, soft=True, n_jobs=n_jobs)  # eqs. (7)-(8)


class KeywordSmoother(_TermRelevanceSmoother):
    """KWLS soft labels (Liu et al. 2022, eqs. 1-8); see the module docstring for every formula.

    Args:
        k1: saturation of word-label counts (eq. 1), > 0.
        b: label-length normalisation (eq. 1), in [0, 1].
        k2: saturation of word-instance counts (eq. 4), > 0.
        tokenizer: ``"words"`` (default: lower-cased Unicode words), ``"space"`` (``str.split(" ")``,
            the authors' convention), ``"whitespace"``, or a callable ``str -> list[str]``.
        dtype: dtype of the returned soft labels (computations are float64).
        temperature: softmax temperature applied to ILR (1 = the paper).
        ilr_sum: ``"distinct"`` (authors' code, default) or ``"tokens"`` (every occurrence) in eq. (7).
        max_memory_gib: most memory one ``transform``/``relevance`` call may need (its output plus
            the largest temporary, checked before it starts; ``InputError`` if more). ``None``
            (default): 80% of the memory available at that moment.
        n_jobs: threads that count texts and compute soft labels (``None``, default: every core,
            ``os.cpu_count()``); the results do not depend on it.

    Fitted attributes: ``classes_``, ``label_names_``, ``vocabulary_`` (Arrow strings),
    ``word_label_relevance_`` (CSR, words x labels: WLR), ``word_instance_weight_`` (WIW),
    ``label_lengths_`` (S_m), ``mean_length_`` (X_avg), ``n_instances_``.

    Example:
        >>> smoother = KeywordSmoother(tokenizer="space")
        >>> soft = smoother.fit_transform(["great fun", "dull plot", "fun plot"], [1, 0, 1])
        >>> soft.shape, bool(abs(soft.sum(axis=1) - 1).max() < 1e-6)
        ((3, 2), True)
    """

    kind = "kwls-smoother"

    def __init__(
        self,
        k1: float = 2.0,
        b: float = 0.75,
        k2: float = 2.0,
        tokenizer: Tokenizer | None = None,
        dtype: Any = np.float32,
        temperature: float = 1.0,
        ilr_sum: Literal["distinct", "tokens"] = "distinct",
        max_memory_gib: float | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.k2 = k2
        self.tokenizer = tokenizer
        self.dtype = dtype
        self.temperature = temperature
        self.ilr_sum = ilr_sum
        self.max_memory_gib = max_memory_gib
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        super()._check_params()
        if not self.k1 > 0:
            raise ConfigError(f"k1 must be > 0, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ConfigError(f"b must be in [0, 1], got {self.b}")
        if not self.k2 > 0:
            raise ConfigError(f"k2 must be > 0, got {self.k2}")

    def _label_term_weight(
        self, counts: np.ndarray, label_length: np.ndarray, mean_label_length: float
    ) -> np.ndarray:
        k = self.k1 * (1 - self.b + self.b * label_length / mean_label_length)  # K_m, eq. (1)
        return counts * self.k1 / (counts + k)

    def _instance_term_weight(self, counts: np.ndarray) -> np.ndarray:
        return counts * self.k2 / (counts + self.k2)  # eq. (4)


class TfidfSmoother(_TermRelevanceSmoother):
    """LS-TFIDF: the KWLS pipeline with plain tf * idf weights instead of the saturated BM25 ones.

    ``WLC[w,m] = tf(f(w, X_m))`` and ``WIC[w,i] = tf(f(w, x_i))`` replace eqs. (1) and (4); the idf-style
    weights (eqs. 2, 5), ILR (eq. 7) and the softmax (eq. 8) are unchanged. ``tf`` is

    * ``"sublinear"`` (default): ``1 + ln f`` for ``f > 0``, else 0;
    * ``"raw"``: ``f``. On long documents raw counts make ILR huge and the soft labels one-hot (a pilot
      measured 93% of IMDb soft labels pointing to one class), which is why it is not the default.

    The paper does not define LS-TFIDF's weights beyond "based on TF-IDF"; this is our definition.
    Other arguments as :class:`KeywordSmoother`.
    """

    kind = "tfidf-smoother"

    def __init__(
        self,
        tf: Literal["sublinear", "raw"] = "sublinear",
        tokenizer: Tokenizer | None = None,
        dtype: Any = np.float32,
        temperature: float = 1.0,
        ilr_sum: Literal["distinct", "tokens"] = "distinct",
        max_memory_gib: float | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.tf = tf
        self.tokenizer = tokenizer
        self.dtype = dtype
        self.temperature = temperature
        self.ilr_sum = ilr_sum
        self.max_memory_gib = max_memory_gib
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        super()._check_params()
        if self.tf not in ("sublinear", "raw"):
            raise ConfigError(f"tf must be 'sublinear' or 'raw', got {self.tf!r}")

    def _tf(self, counts: np.ndarray) -> np.ndarray:
        if self.tf == "raw":
            return counts.astype(np.float64, copy=True)
        return 1.0 + np.log(counts)

    def _label_term_weight(
        self, counts: np.ndarray, label_length: np.ndarray, mean_label_length: float
    ) -> np.ndarray:
        return self._tf(counts)

    def _instance_term_weight(self, counts: np.ndarray) -> np.ndarray:
        return self._tf(counts)


def load_smoother(path: str | Path) -> KeywordSmoother | TfidfSmoother:
    """Load a KWLS or LS-TFIDF smoother written by ``save``; checks it first (never unpickles).

    A smoother fitted with a callable tokenizer is loaded with ``tokenizer=None``; set
    ``smoother.tokenizer`` to the same callable before ``transform``. See
    :func:`textsmooth.targets.saved.load_generator` for the checks (and errors) of loading.
    """
    from textsmooth.targets.saved import load_generator

    return load_generator(path, kinds=(KeywordSmoother.kind, TfidfSmoother.kind))  # type: ignore[return-value]


def rows_without_words(counts: CountMatrix) -> np.ndarray:
    """0-based rows of ``counts`` without any counted word (they get the uniform soft label)."""
    return np.flatnonzero(np.diff(counts.counts.indptr) == 0)


def warn_no_known_word(rows: np.ndarray, *, stacklevel: int = 2) -> None:
    """Warn (once) that the texts at 0-based ``rows`` have no known word; nothing if there are none.

    ``stacklevel`` as for :func:`warnings.warn`, counted from the caller of this function.
    """
    if rows.size:
        named = ", ".join(str(r + 1) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
        warnings.warn(
            f"{rows.size} text(s) have no known word and get the uniform soft label (rows {named})",
            stacklevel=stacklevel + 1,
        )


def _memory_limit(max_memory_gib: float | None) -> tuple[float | None, str]:
    """The byte limit for one transform and how it was set (for the error message)."""
    if max_memory_gib is not None:
        return float(max_memory_gib) * 1024**3, "max_memory_gib"
    available = _available_memory()
    if available is None:
        return None, "no limit"
    return _AVAILABLE_FRACTION * available, f"{_AVAILABLE_FRACTION:.0%} of the available memory"


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``; else free physical pages), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _row_block(x: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows ``start:stop`` of a CSR matrix, sharing its data and indices (slicing would copy them)."""
    a, b = x.indptr[start], x.indptr[stop]
    return sp.csr_matrix(
        (x.data[a:b], x.indices[a:b], x.indptr[start : stop + 1] - a), shape=(stop - start, x.shape[1])
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True) if z.size else z
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
