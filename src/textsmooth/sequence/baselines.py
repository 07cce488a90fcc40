"""The paper's baseline related-target generators, in the same output form (:class:`NeighborTable`).

- :class:`WithinBatchTargets` (Guo et al. 2018, "within batch sequence LS" of the paper's Table 2):
  ``R(y)`` is the other targets of ``y``'s mini-batch. Batches are a seeded random partition of the
  targets into groups of ``batch_size`` (or given explicitly); inside a training loop,
  :func:`within_batch_related` gives the same thing for the batch at hand.
- :class:`TokenSwapTargets` (Elbayad et al. 2018, "sampled augmentations BLEU4", the variant the paper
  uses): ``n_samples`` copies of each target in which a random number ``d`` of positions is replaced by
  tokens taken from other positions of the same target; each copy is scored by sentence BLEU against
  the target. ``d`` is drawn from ``p(d) ∝ C(L, d) exp(-d / tau)`` for ``d = 1..L`` (a Hamming-ball
  proposal as in reward-augmented maximum likelihood, Norouzi et al. 2016; ``L`` = tokens in the
  target). A replacement token is drawn uniformly among the target's tokens that differ from the
  token replaced; a target with fewer than two distinct tokens gets no copies. Tokens are the
  white-space-separated words of the raw target, so a copy is re-joined with single spaces.

Both are seeded: target ``i`` uses the random stream ``numpy.random.default_rng([seed, i])`` (token
swap) or one permutation from ``default_rng(seed)`` (batches), so results do not depend on the order
or sharding of the work.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from textsmooth._params import ParamsMixin, check_int
from textsmooth.errors import ConfigError, InputError, NotFittedError
from textsmooth.sequence.data import check_texts
from textsmooth.sequence.table import NeighborTable, fitted_meta
from textsmooth.text.bleu import BleuCorpus

__all__ = ["TokenSwapTargets", "WithinBatchTargets", "within_batch_related"]


def within_batch_related(batch_size: int) -> np.ndarray:
    """For a batch of ``batch_size`` targets, ``(batch_size, batch_size - 1)`` positions of the others.

    Example:
        >>> within_batch_related(3).tolist()
        [[1, 2], [0, 2], [0, 1]]
    """
    check_int("batch_size", batch_size)
    full = np.broadcast_to(np.arange(batch_size), (batch_size, batch_size))
    mask = ~np.eye(batch_size, dtype=bool)
    return full[mask].reshape(batch_size, batch_size - 1)


class WithinBatchTargets(ParamsMixin):
    """Related targets = the other targets of the same mini-batch (Guo et al. 2018).

    Args:
        batch_size: targets per batch.
        bleu_order: score the related targets by BLEU-n against the target and sort by it (``None`` or
            0: keep batch order and leave ``bleu`` NaN, the same "no BLEU" as ``SemanticNeighbors``).
        keep: keep at most this many per target (``None``: all ``batch_size - 1``).
        seed: seed of the random partition into batches.
    """

    def __init__(
        self, batch_size: int = 64, *, bleu_order: int | None = 4, keep: int | None = None, seed: int = 0
    ) -> None:
        self.batch_size = batch_size
        self.bleu_order = bleu_order
        self.keep = keep
        self.seed = seed

    def fit(self, targets: Sequence[str], *, batches: np.ndarray | None = None) -> WithinBatchTargets:
        """Build ``table_``. ``batches`` (optional): the batch number of every target."""
        check_int("batch_size", self.batch_size)
        check_int("keep", self.keep, allow_none=True)
        check_int("bleu_order", self.bleu_order or None, allow_none=True)
        targets = check_texts(targets, name="targets")
        n = len(targets)
        if batches is None:
            perm = np.random.default_rng(self.seed).permutation(n)
            batches = np.empty(n, dtype=np.int64)
            batches[perm] = np.arange(n) // int(self.batch_size)
        batches = np.asarray(batches, dtype=np.int64)
        if batches.shape != (n,):
            raise InputError(
                f"batches must have one entry per target ({n}), got {batches.shape}", column="batches"
            )
        order = np.lexsort((np.arange(n), batches))
        sorted_b = batches[order]
        starts = np.flatnonzero(np.r_[True, sorted_b[1:] != sorted_b[:-1], True])
        tgt, nbr = [], []
        for a, b in itertools.pairwise(starts.tolist()):
            members = order[a:b]
            m = members.shape[0]
            if m < 2:
                continue
            others = members[within_batch_related(m)]
            tgt.append(np.repeat(members, m - 1))
            nbr.append(others.ravel())
        target_id = np.concatenate(tgt) if tgt else np.zeros(0, dtype=np.int64)
        neighbor_id = np.concatenate(nbr) if nbr else np.zeros(0, dtype=np.int64)
        bleu = np.full(target_id.shape, np.nan)
        if self.bleu_order and target_id.size:
            corpus = BleuCorpus(targets, max_order=int(self.bleu_order))
            bleu = corpus.score(neighbor_id, target_id)
        key = -np.nan_to_num(bleu, nan=0.0)
        perm = np.lexsort((neighbor_id, key, target_id))
        target_id, neighbor_id, bleu = target_id[perm], neighbor_id[perm], bleu[perm]
        rank = _ranks(target_id)
        if self.keep is not None:
            sel = rank <= int(self.keep)
            target_id, neighbor_id, bleu, rank = target_id[sel], neighbor_id[sel], bleu[sel], rank[sel]
        self.batches_ = batches
        self.table_ = NeighborTable(
            target_id=target_id,
            rank=rank,
            neighbor_id=neighbor_id,
            cosine=np.full(target_id.shape, np.nan, dtype=np.float32),
            bleu=bleu,
            n_targets=n,
            meta=fitted_meta(targets),
        )
        return self


def _ranks(sorted_targets: np.ndarray) -> np.ndarray:
    """1-based position of each row inside its run of equal (sorted) target ids."""
    n = sorted_targets.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.r_[True, sorted_targets[1:] != sorted_targets[:-1]]
    idx = np.arange(n)
    return (idx - np.maximum.accumulate(np.where(starts, idx, 0)) + 1).astype(np.int32)


class TokenSwapTargets(ParamsMixin):
    """Sampled token-swap augmentations scored by BLEU (Elbayad et al. 2018; see the module docstring).

    Args:
        n_samples: copies drawn per target.
        tau: temperature of the number of swapped positions, ``p(d) ∝ C(L, d) exp(-d / tau)``.
        bleu_order: BLEU-n used to score (and sort) the copies; the paper's baseline uses 4. Must be
            >= 1: the copies are defined by their BLEU, so there is no "no BLEU" (``None`` or 0) here.
        keep: keep the best ``keep`` copies by BLEU (``None``: all).
        seed: random seed.

    Example:
        >>> table = TokenSwapTargets(n_samples=2, seed=1).fit(["a man rides a brown horse"]).table_
        >>> len(table.neighbor_text)
        2
    """

    def __init__(
        self,
        n_samples: int = 5,
        *,
        tau: float = 0.5,
        bleu_order: int = 4,
        keep: int | None = None,
        seed: int = 0,
    ) -> None:
        self.n_samples = n_samples
        self.tau = tau
        self.bleu_order = bleu_order
        self.keep = keep
        self.seed = seed

    def sample(self, target: str, rng: np.random.Generator) -> list[str]:
        """``n_samples`` swapped copies of one target (empty when it has < 2 distinct tokens)."""
        tokens = target.split()
        length = len(tokens)
        if len(set(tokens)) < 2:
            return []
        d = np.arange(1, length + 1)
        logp = np.array(
            [math.lgamma(length + 1) - math.lgamma(k + 1) - math.lgamma(length - k + 1) for k in d]
        )
        logp -= d / float(self.tau)
        p = np.exp(logp - logp.max())
        p /= p.sum()
        arr = np.array(tokens, dtype=object)
        copies = []
        for _ in range(int(self.n_samples)):
            n_swap = int(rng.choice(d, p=p))
            positions = rng.choice(length, size=n_swap, replace=False)
            new = arr.copy()
            for pos in positions:
                pool = [t for t in tokens if t != tokens[pos]]
                if pool:
                    new[pos] = pool[int(rng.integers(len(pool)))]
            copies.append(" ".join(new.tolist()))
        return copies

    def fit(self, targets: Sequence[str]) -> TokenSwapTargets:
        """Sample, score and rank copies of every target into ``table_`` (``neighbor_id`` = -1)."""
        check_int("n_samples", self.n_samples)
        if self.bleu_order is None or (self.bleu_order == 0 and not isinstance(self.bleu_order, bool)):
            raise ConfigError(
                f"token-swap scores and ranks its copies by BLEU, so bleu_order must be >= 1, "
                f"got {self.bleu_order!r}",
                column="bleu_order",
                hint="None or 0 (no BLEU re-rank) is only for SemanticNeighbors and WithinBatchTargets",
            )
        check_int("bleu_order", self.bleu_order)
        check_int("keep", self.keep, allow_none=True)
        if not (isinstance(self.tau, int | float) and math.isfinite(self.tau) and self.tau > 0):
            raise ConfigError(f"tau must be a positive number, got {self.tau!r}", column="tau")
        targets = check_texts(targets, name="targets")
        n = len(targets)
        copies: list[str] = []
        owner: list[int] = []
        for i, target in enumerate(targets):
            sampled = self.sample(target, np.random.default_rng([int(self.seed), i]))
            copies.extend(sampled)
            owner.extend([i] * len(sampled))
        target_id = np.asarray(owner, dtype=np.int64)
        if copies:
            corpus = BleuCorpus(list(targets) + copies, max_order=int(self.bleu_order))
            bleu = corpus.score(np.arange(n, n + len(copies)), target_id)
        else:
            bleu = np.zeros(0)
        perm = np.lexsort((np.arange(target_id.shape[0]), -bleu, target_id))
        target_id, bleu = target_id[perm], bleu[perm]
        text = [copies[i] for i in perm.tolist()]
        rank = _ranks(target_id)
        if self.keep is not None:
            sel = rank <= int(self.keep)
            target_id, bleu, rank = target_id[sel], bleu[sel], rank[sel]
            text = [t for t, s in zip(text, sel.tolist(), strict=True) if s]
        self.table_ = NeighborTable(
            target_id=target_id,
            rank=rank,
            neighbor_id=np.full(target_id.shape, -1, dtype=np.int64),
            cosine=np.full(target_id.shape, np.nan, dtype=np.float32),
            bleu=bleu,
            n_targets=n,
            neighbor_text=text,
            meta=fitted_meta(targets),
        )
        return self

    def related(self) -> list[list[str]]:
        """The copies per target, best BLEU first."""
        if not hasattr(self, "table_"):
            raise NotFittedError("call fit first")
        return self.table_.related_texts()
