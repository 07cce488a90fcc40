"""The paired bootstrap test of corpus BLEU over several seeds' runs: sacrebleu's test with one seed, a
plain resampling loop with several, and its errors."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from textsmooth.errors import ConfigError, InputError
from textsmooth.seq2seq.decode import paired_bleu_p_value, paired_bleu_p_value_over_seeds

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "multi30k_sample"
REFERENCES = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:40]


def noisy(references: list[str], drop: float, seed: int) -> list[str]:
    """Each reference with every word dropped at random with probability ``drop`` (a system's output)."""
    rng = random.Random(seed)
    return [" ".join(w for w in line.split() if rng.random() >= drop) for line in references]


def sacrebleu_p_value(baseline: list[str], system: list[str], n_samples: int) -> float:
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    test = PairedTest(
        [("baseline", baseline), ("system", system)], {"BLEU": BLEU()}, [REFERENCES], "bs", n_samples
    )
    return float(test()[1]["BLEU"][1].p_value)


@pytest.mark.parametrize(("drop_a", "drop_b"), [(0.1, 0.12), (0.05, 0.3), (0.2, 0.2)])
def test_one_seed_is_sacrebleus_paired_bootstrap(drop_a, drop_b):
    a, b = noisy(REFERENCES, drop_a, seed=1), noisy(REFERENCES, drop_b, seed=2)
    expected = sacrebleu_p_value(a, b, n_samples=300)
    assert paired_bleu_p_value_over_seeds([a], [b], REFERENCES, n_samples=300) == expected
    assert paired_bleu_p_value(a, b, REFERENCES, n_samples=300) == expected


def reference_loop(baseline: list[list[str]], system: list[list[str]], n_samples: int, seed: int) -> float:
    """The test written out: resample sentence indices (sacrebleu's draw), score every run's corpus BLEU
    on them one by one, average over the seeds, compare the spread of |difference| with the observed."""
    import sacrebleu

    n = len(REFERENCES)
    indices = np.random.default_rng(seed).choice(n, size=(n_samples, n), replace=True)

    def mean_bleu(runs: list[list[str]], rows: list[int]) -> float:
        refs = [REFERENCES[i] for i in rows]
        return float(np.mean([sacrebleu.corpus_bleu([h[i] for i in rows], [refs]).score for h in runs]))

    everything = list(range(n))
    observed = abs(mean_bleu(system, everything) - mean_bleu(baseline, everything))
    sample = np.array([abs(mean_bleu(system, list(r)) - mean_bleu(baseline, list(r))) for r in indices])
    centred = sample - sample.mean()
    return (sum(1 for x in centred if x > observed) + 1) / (n_samples + 1)


def test_several_seeds_equal_the_plain_resampling_loop():
    baseline = [noisy(REFERENCES, 0.15, seed=s) for s in range(3)]
    system = [noisy(REFERENCES, 0.12, seed=10 + s) for s in range(3)]
    got = paired_bleu_p_value_over_seeds(baseline, system, REFERENCES, n_samples=60, seed=7)
    assert got == pytest.approx(reference_loop(baseline, system, n_samples=60, seed=7), abs=1e-12)
    # the resampled sentences are shared by the seeds: pooling is not the mean of per-seed p-values
    per_seed = [
        paired_bleu_p_value_over_seeds([a], [b], REFERENCES, n_samples=60, seed=7)
        for a, b in zip(baseline, system, strict=True)
    ]
    assert got != pytest.approx(float(np.mean(per_seed)))


def test_the_test_is_symmetric_and_a_method_against_itself_gives_one():
    a = [noisy(REFERENCES, 0.1, seed=s) for s in (1, 2)]
    b = [noisy(REFERENCES, 0.3, seed=s) for s in (3, 4)]
    assert paired_bleu_p_value_over_seeds(a, b, REFERENCES) == paired_bleu_p_value_over_seeds(
        b, a, REFERENCES
    )
    assert paired_bleu_p_value_over_seeds(a, b, REFERENCES) < 0.01  # a third of the words missing
    assert paired_bleu_p_value_over_seeds(a, a, REFERENCES) == 1.0
    assert paired_bleu_p_value(a[0], a[0], REFERENCES) == 1.0  # sacrebleu says 1 / 1001 here


def test_bad_input_is_refused_with_what_is_wrong():
    a = [noisy(REFERENCES, 0.1, seed=1)]
    with pytest.raises(InputError, match="1 baseline and 2 system runs"):
        paired_bleu_p_value_over_seeds(a, a + a, REFERENCES)
    with pytest.raises(InputError, match="0 baseline and 0 system runs"):
        paired_bleu_p_value_over_seeds([], [], REFERENCES)
    with pytest.raises(InputError, match="39 system hypotheses of run 1 for 40 references"):
        paired_bleu_p_value_over_seeds(a + a, [a[0], a[0][:-1]], REFERENCES)
    with pytest.raises(InputError, match="39 baseline hypotheses for 40 references"):
        paired_bleu_p_value(a[0][:-1], a[0], REFERENCES)
    with pytest.raises(ConfigError, match="n_samples"):
        paired_bleu_p_value_over_seeds(a, a, REFERENCES, n_samples=0)


def test_the_docs_example_runs(capsys):
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "seq2seq.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if "over_seeds" in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/seq2seq.md", "exec"), {})
    assert capsys.readouterr().out == "True\n"
