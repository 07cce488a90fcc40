"""Paired bootstrap, seed summaries and the bundled classification report."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from textsmooth.errors import ConfigError, InputError
from textsmooth.metrics import (
    accuracy,
    balanced_accuracy,
    brier_score,
    classification_report,
    expected_calibration_error,
    macro_f1,
    maximum_calibration_error,
    minority_recall,
    nll,
    paired_bootstrap,
    summarize_seeds,
)


# ---------------------------------------------------------------------------- paired bootstrap
def test_identical_runs_give_p_one():
    rng = np.random.default_rng(0)
    correct = rng.random(300) < 0.8
    for alternative in ("two-sided", "greater", "less"):
        result = paired_bootstrap(correct, correct, n_resamples=500, alternative=alternative)
        assert result.p_value == 1.0
        assert result.delta == 0.0 and result.ci_low == 0.0 and result.ci_high == 0.0
    preds = rng.integers(0, 3, 300)
    labels = rng.integers(0, 3, 300)
    assert paired_bootstrap(preds, preds, labels, metric="macro_f1", n_resamples=200).p_value == 1.0


def test_clearly_better_run_gives_small_p():
    rng = np.random.default_rng(1)
    a = rng.random(400) < 0.85
    b = rng.random(400) < 0.70
    r = paired_bootstrap(a, b, n_resamples=2000, seed=3)
    assert r.delta == pytest.approx(a.mean() - b.mean())
    assert r.p_value < 0.01 and r.p_value >= 1 / 2001
    assert r.ci_low < r.delta < r.ci_high and r.ci_low > 0
    assert r.significant()
    greater = paired_bootstrap(a, b, n_resamples=2000, seed=3, alternative="greater")
    less = paired_bootstrap(a, b, n_resamples=2000, seed=3, alternative="less")
    assert greater.p_value < 0.01 and less.p_value > 0.99
    # same seed: the same resamples, so the same numbers; the CI does not depend on the alternative
    assert (greater.ci_low, greater.ci_high) == (r.ci_low, r.ci_high)
    assert paired_bootstrap(a, b, n_resamples=2000, seed=3) == r
    json.dumps(r.to_dict())


def test_two_equal_quality_runs_are_not_significant():
    rng = np.random.default_rng(2)
    a = rng.random(500) < 0.8
    b = rng.random(500) < 0.8
    r = paired_bootstrap(a, b, n_resamples=2000, seed=0)
    # the bootstrap p-value should agree roughly with McNemar's exact test on the discordant pairs
    from scipy.stats import binomtest

    n01 = int(np.sum(a & ~b))
    n10 = int(np.sum(~a & b))
    exact = binomtest(n01, n01 + n10).pvalue
    assert r.p_value == pytest.approx(exact, abs=0.1)
    assert r.ci_low < 0 < r.ci_high or r.p_value < 0.05


def test_label_metrics_vectorised_equal_callable_path():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, 200)
    a = np.where(rng.random(200) < 0.7, labels, rng.integers(0, 4, 200))
    b = np.where(rng.random(200) < 0.3, labels, rng.integers(0, 4, 200))
    for name, fn in (
        ("accuracy", accuracy),
        ("macro_f1", macro_f1),
        ("balanced_accuracy", balanced_accuracy),
    ):
        fast = paired_bootstrap(a, b, labels, metric=name, n_resamples=300, seed=7)
        slow = paired_bootstrap(a, b, labels, metric=fn, n_resamples=300, seed=7)
        assert fast.score_a == pytest.approx(fn(a, labels)) and fast.score_b == pytest.approx(fn(b, labels))
        assert fast.p_value == slow.p_value
        assert fast.ci_low == pytest.approx(slow.ci_low, abs=1e-12)
        assert fast.ci_high == pytest.approx(slow.ci_high, abs=1e-12)
        assert fast.p_value < 0.01


@pytest.mark.parametrize("metric", ["mean", "accuracy", "macro_f1", "balanced_accuracy"])
def test_multinomial_resampling_matches_index_resampling(metric):
    # Few distinct per-example values: category counts are drawn from a multinomial instead of drawing
    # indices. Same distribution: compare with the index-drawing function path on the same data.
    from textsmooth.metrics import classification

    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 3000)
    a = np.where(rng.random(3000) < 0.80, labels, 1 - labels)
    b = np.where(rng.random(3000) < 0.78, labels, 1 - labels)
    if metric == "mean":
        fast = paired_bootstrap(a == labels, b == labels, n_resamples=4000, seed=1)
        slow = paired_bootstrap(a, b, labels, metric=classification.accuracy, n_resamples=4000, seed=2)
    else:
        fast = paired_bootstrap(a, b, labels, metric=metric, n_resamples=4000, seed=1)
        slow = paired_bootstrap(
            a, b, labels, metric=getattr(classification, metric), n_resamples=4000, seed=2
        )
    assert fast.delta == pytest.approx(slow.delta, abs=1e-12)
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=0.003)
    assert fast.ci_high == pytest.approx(slow.ci_high, abs=0.003)
    assert fast.p_value == pytest.approx(slow.p_value, abs=0.03)


def test_bootstrap_bad_input():
    with pytest.raises(InputError, match="rows"):
        paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(InputError, match="empty"):
        paired_bootstrap([], [])
    with pytest.raises(InputError, match="no labels"):
        paired_bootstrap([1, 0], [1, 1], [0, 1])
    with pytest.raises(InputError, match="needs labels"):
        paired_bootstrap([1, 0], [1, 1], metric="macro_f1")
    with pytest.raises(InputError, match="NaN"):
        paired_bootstrap([1.0, np.nan], [1.0, 0.0])
    with pytest.raises(ConfigError, match="unknown metric"):
        paired_bootstrap([1, 0], [1, 1], [0, 1], metric="f2")
    with pytest.raises(ConfigError, match="alternative"):
        paired_bootstrap([1, 0], [1, 1], alternative="bigger")
    with pytest.raises(ConfigError, match="n_resamples"):
        paired_bootstrap([1, 0], [1, 1], n_resamples=0)
    with pytest.raises(ConfigError, match="confidence"):
        paired_bootstrap([1, 0], [1, 1], confidence=95)


# ---------------------------------------------------------------------------- seeds
def test_summarize_seed_values():
    values = [0.8812, 0.8799, 0.8851]
    s = summarize_seeds(values)
    assert s.mean == pytest.approx(statistics.fmean(values))
    assert s.std == pytest.approx(statistics.stdev(values))
    assert (s.n, s.min, s.max) == (3, 0.8799, 0.8851)
    assert summarize_seeds(np.array(values), ddof=0).std == pytest.approx(statistics.pstdev(values))
    one = summarize_seeds([0.5])
    assert np.isnan(one.std) and one.format() == "0.50" and one.to_dict()["std"] is None
    with pytest.raises(InputError):
        summarize_seeds([])
    with pytest.raises(InputError):
        summarize_seeds([0.1, float("nan")])


def test_summarize_reports():
    rng = np.random.default_rng(5)
    reports = []
    for _ in range(3):
        logits = rng.normal(size=(60, 3))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        reports.append(classification_report(probs, rng.integers(0, 3, 60), ["a", "b", "c"]))
    out = summarize_seeds(reports)
    assert out["accuracy"].mean == pytest.approx(np.mean([r["accuracy"] for r in reports]))
    assert out["ece"].std == pytest.approx(np.std([r["ece"] for r in reports], ddof=1))
    assert out["per_class.b.recall"].n == 3
    assert "minority_class" not in out  # strings are skipped
    # an undefined entry (None) is left out, and n says so
    reports[0]["per_class"]["a"]["precision"] = None
    assert summarize_seeds(reports)["per_class.a.precision"].n == 2
    with pytest.raises(InputError, match="missing"):
        summarize_seeds([{"acc": 0.5}, {"ece": 0.1}])
    with pytest.raises(InputError, match="single mapping"):
        summarize_seeds({"acc": [0.5, 0.6]})


# ---------------------------------------------------------------------------- report
def test_classification_report_matches_the_functions():
    import torch

    rng = np.random.default_rng(6)
    logits = rng.normal(size=(120, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.concatenate([rng.integers(0, 2, 115), [2] * 5])
    report = classification_report(torch.from_numpy(probs), labels, ["x", "y", "z"], n_bins=10)
    json.dumps(report)
    assert report["n"] == 120 and report["n_classes"] == 3
    assert report["accuracy"] == pytest.approx(accuracy(probs, labels))
    assert report["balanced_accuracy"] == pytest.approx(balanced_accuracy(probs, labels))
    assert report["macro_f1"] == pytest.approx(macro_f1(probs, labels))
    assert report["nll"] == pytest.approx(nll(probs, labels))
    assert report["brier"] == pytest.approx(brier_score(probs, labels))
    assert report["ece"] == pytest.approx(expected_calibration_error(probs, labels, n_bins=10))
    assert report["ece_mass"] == pytest.approx(
        expected_calibration_error(probs, labels, n_bins=10, binning="mass")
    )
    assert report["mce"] == pytest.approx(maximum_calibration_error(probs, labels, n_bins=10))
    assert report["confidence"] == pytest.approx(np.mean([row.max() for row in probs]))
    cls, recall = minority_recall(probs, labels)
    assert report["minority_class"] == "xyz"[cls] == "z" and report["minority_recall"] == pytest.approx(
        recall
    )
    assert sum(v["support"] for v in report["per_class"].values()) == 120


def test_classification_report_undefined_values_and_bad_names():
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])
    report = classification_report(probs, [0, 1])
    assert report["per_class"]["1"]["precision"] is None  # never predicted
    assert report["per_class"]["2"]["recall"] is None  # no gold example
    assert report["per_class"]["2"]["f1"] is None
    assert report["minority_class"] == "0"
    with pytest.raises(InputError, match="names"):
        classification_report(probs, [0, 1], ["a", "b"])
    with pytest.raises(InputError, match="repeats"):
        classification_report(probs, [0, 1], ["a", "a", "b"])
