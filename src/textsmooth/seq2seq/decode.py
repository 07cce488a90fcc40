"""Decoding and corpus scores: ``model.generate`` in length-sorted batches, sacrebleu BLEU-3/4/5 and chrF.

:func:`translate` decodes with the model's own ``generate`` (greedy for ``beam_size=1``, beam search
otherwise, with a length penalty); sentences are batched by length, so padding costs little, and the
hypotheses come back in input order. A blank source line (empty or whitespace) translates to an empty
line without running the model: encoded it would be ``</s>`` alone, and a model given nothing generates
a sentence of its own, which would then sit in the output as if it translated something.

:func:`corpus_scores` gives the paper's corpus BLEU orders (Tables 3-4 report BLEU-3, -4 and -5) and
chrF, all from sacrebleu with its default ``13a`` tokenisation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from textsmooth._params import check_int
from textsmooth.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.vocab import SubwordVocab

__all__ = [
    "BLEU_ORDERS",
    "corpus_scores",
    "paired_bleu_p_value",
    "paired_bleu_p_value_over_seeds",
    "tokenized_references",
    "translate",
]

BLEU_ORDERS = {"bleu3": 3, "bleu": 4, "bleu5": 5}
"""Score names of :func:`corpus_scores` and their BLEU n-gram orders (``bleu`` is BLEU-4)."""


def translate(
    model: Any,
    vocab: SubwordVocab,
    sources: Sequence[str],
    *,
    beam_size: int = 5,
    length_penalty: float = 1.0,
    max_length: int = 128,
    batch_size: int = 64,
    progress: bool = False,
) -> list[str]:
    """Translate ``sources`` with ``model.generate`` (in eval mode, without gradients).

    Args:
        model: a Hugging Face encoder-decoder; ``vocab``: its vocabulary.
        beam_size: 1 is greedy decoding. ``length_penalty``: the exponent of the length normalisation of
            beam scores (``generate``'s own).
        max_length: source tokens kept per sentence and the longest hypothesis (``</s>`` included).
        batch_size: sentences per ``generate`` call.

    Returns:
        One hypothesis per source, in input order; ``""`` for a blank source (module docstring).

    Raises:
        ConfigError: ``beam_size`` or ``batch_size`` below 1, ``max_length`` below 2.
    """
    import torch
    from tqdm.auto import tqdm

    for name, value, low in (
        ("beam_size", beam_size, 1),
        ("batch_size", batch_size, 1),
        ("max_length", max_length, 2),
    ):
        check_int(name, value, low=low)
    from textsmooth.seq2seq.collate import pad_sequences

    real = [i for i, text in enumerate(sources) if text.strip()]  # blank lines stay blank, unmodelled
    encoded = vocab.encode_sources([sources[i] for i in real], max_length)
    ids = dict(zip(real, encoded, strict=True))
    order = sorted(real, key=lambda i: len(ids[i]))
    out: list[str] = [""] * len(sources)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    starts = range(0, len(order), batch_size)
    try:
        with torch.no_grad():
            for start in tqdm(starts, desc="translate", unit="batch", disable=not progress, leave=False):
                rows = order[start : start + batch_size]
                batch = [ids[i] for i in rows]
                input_ids = pad_sequences(batch, vocab.pad_id).to(device)
                attention_mask = pad_sequences([[1] * len(b) for b in batch], 0).to(device)
                generated = model.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    num_beams=beam_size,
                    do_sample=False,
                    length_penalty=float(length_penalty),
                    max_length=max_length,
                    early_stopping=True if beam_size > 1 else False,
                )
                for i, text in zip(rows, vocab.decode_targets(generated.tolist()), strict=True):
                    out[i] = text
    finally:
        model.train(was_training)
    return out


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """``{"bleu3", "bleu", "bleu5", "chrf"}``: sacrebleu corpus BLEU of orders 3, 4 (``bleu``) and 5, and
    chrF, of ``hypotheses`` against one reference each (0-100).

    Raises:
        InputError: different numbers of hypotheses and references, or none.
    """
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise InputError(
            f"{len(hypotheses)} hypotheses but {len(references)} references", column="hypotheses"
        )
    if not hypotheses:
        raise InputError("no hypotheses to score", column="hypotheses")
    hyps, refs = list(hypotheses), [list(references)]
    scores = {
        name: float(BLEU(max_ngram_order=n).corpus_score(hyps, refs).score) for name, n in BLEU_ORDERS.items()
    }
    scores["chrf"] = float(CHRF().corpus_score(hyps, refs).score)
    return scores


def paired_bleu_p_value(
    baseline: Sequence[str], system: Sequence[str], references: Sequence[str], n_samples: int = 1000
) -> float:
    """p-value of sacrebleu's paired bootstrap resampling test (``PairedTest``, ``bs``, sacrebleu's fixed
    seed) of corpus BLEU-4 between two systems' hypotheses of the same references.

    The test statistic is the absolute BLEU difference, so the p-value does not depend on which system is
    the baseline. Computed by :func:`paired_bleu_p_value_over_seeds` with one run each: sacrebleu's
    p-value, but 1 for two identical systems (where sacrebleu gives its smallest, ``1 / (1 + R)``).

    Raises:
        InputError: hypothesis and reference counts differ, or there are none.
    """
    return paired_bleu_p_value_over_seeds([baseline], [system], references, n_samples=n_samples)


def paired_bleu_p_value_over_seeds(
    baseline: Sequence[Sequence[str]],
    system: Sequence[Sequence[str]],
    references: Sequence[str],
    n_samples: int = 1000,
    seed: int = 12345,
) -> float:
    """p-value of the paired bootstrap test of corpus BLEU-4 between two methods trained with several seeds,
    on the difference of their BLEU means over the seeds.

    ``baseline[s]`` and ``system[s]`` are the hypotheses of the two methods' runs of seed ``s`` (the same
    seeds, in the same order). Each resample draws one set of test-sentence indices (with replacement) and
    applies it to every run, so the resampled sentences are the same for all seeds and both methods; its
    statistic is ``|d*| = |mean_s BLEU(system_s*) - mean_s BLEU(baseline_s*)|``. As in sacrebleu's test
    (``PairedTest``, ``bs``; Koehn 2004), ``p = (1 + #{|d*| - mean(|d*|) > |d|}) / (1 + R)`` with ``d`` the
    observed difference of the means and ``R = n_samples``. With one seed this is sacrebleu's test (the
    same indices for the same ``seed``, the same p-value), but for identical hypotheses (``|d*| = d = 0``
    in every resample): there sacrebleu's strict ``>`` counts no resample and gives its smallest p-value,
    ``1 / (1 + R)``, calling a system significantly different from itself; here the p-value is 1.
    Each run's per-sentence BLEU statistics come from sacrebleu (``BLEU._extract_corpus_statistics``, the
    private method its own test uses; the tests compare the p-value with ``PairedTest``'s, so a change in
    sacrebleu shows there); a resample's statistics are one matrix product of draw counts and them.

    What it measures: how sure the difference of the seed means is, given the test set's sampling noise.
    The training seeds are not resampled, so it does not say how the difference would vary with other
    seeds; with few seeds read it beside the per-seed values and their standard deviation.

    Raises:
        InputError: no seeds, different numbers of seeds, or hypothesis and reference counts that differ.
        ConfigError: ``n_samples`` below 1.
    """
    import numpy as np
    from sacrebleu.metrics import BLEU

    check_int("n_samples", n_samples)
    if not baseline or len(baseline) != len(system):
        raise InputError(
            f"{len(baseline)} baseline and {len(system)} system runs: give one run of each per seed",
            column="system",
        )
    n = len(references)
    for name, runs in (("baseline", baseline), ("system", system)):
        for s, hyps in enumerate(runs):
            if len(hyps) != n or not hyps:
                which = f" of run {s}" if len(runs) > 1 else ""
                raise InputError(f"{len(hyps)} {name} hypotheses{which} for {n} references", column=name)
    metric = BLEU()
    refs = [list(references)]
    indices = np.random.default_rng(seed).choice(n, size=(n_samples, n), replace=True)  # sacrebleu's draw
    draws = np.bincount((indices + n * np.arange(n_samples)[:, None]).ravel(), minlength=n_samples * n)
    counts = draws.reshape(n_samples, n).astype(np.float64)  # how often each sentence is in each resample

    def means(runs: Sequence[Sequence[str]]) -> tuple[float, np.ndarray]:
        """Mean over the runs of corpus BLEU on all sentences and on each resample."""
        full, resampled = 0.0, np.zeros(n_samples)
        for hyps in runs:
            stats = metric._extract_corpus_statistics(list(hyps), refs)  # per sentence, as sacrebleu's test
            full += metric._aggregate_and_compute(stats).score
            sums = (counts @ np.asarray(stats, dtype=np.float64)).astype(np.float32)  # exact: integer counts
            resampled += [metric._compute_score_from_stats(row).score for row in sums]
        return full / len(runs), resampled / len(runs)

    base_full, base_resampled = means(baseline)
    system_full, system_resampled = means(system)
    observed = abs(system_full - base_full)
    sample = np.abs(system_resampled - base_resampled)
    if observed == 0 and not sample.any():  # identical hypotheses: no evidence of a difference
        return 1.0
    return float((np.sum(sample - sample.mean() > observed) + 1) / (n_samples + 1))


@contextlib.contextmanager
def tokenized_references() -> Iterator[None]:
    """Within the block, sacrebleu does not warn that the text "looks tokenized".

    For corpora that are tokenized on purpose (SentEval's MR and SUBJ, scored as the autoencoder paper
    scores them): sacrebleu logs that advice at every corpus score, i.e. at every validation epoch. The
    scores are unchanged (``13a`` splits nothing more in text that is already split); the block raises
    the ``sacrebleu`` logger to ERROR and restores its level on exit.
    """
    logger = logging.getLogger("sacrebleu")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
