"""NLL, Brier, ECE/MCE and reliability diagrams against scikit-learn, torch and plain loop references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from textsmooth.errors import ConfigError, InputError
from textsmooth.metrics import (
    brier_score,
    calibration_bins,
    expected_calibration_error,
    maximum_calibration_error,
    nll,
    reliability_diagram,
)


def random_probs(rng: np.random.Generator, n: int, c: int, sharp: float = 1.0) -> np.ndarray:
    logits = rng.normal(size=(n, c)) * sharp
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


# ---------------------------------------------------------------------------- plain references
def loop_bins(probs, labels, n_bins, binning):
    """Bins written the slow, obvious way, from the documented definitions."""
    n = len(labels)
    conf = [max(row) for row in probs]
    correct = [int(int(np.argmax(row)) == y) for row, y in zip(probs, labels, strict=True)]
    members = [[] for _ in range(n_bins)]
    if binning == "width":
        edges = [k / n_bins for k in range(n_bins + 1)]
        for i in range(n):
            for b in range(n_bins):
                last = b == n_bins - 1
                if edges[b] <= conf[i] < edges[b + 1] or (last and edges[b] <= conf[i] <= 1.0):
                    members[b].append(i)
                    break
    else:  # equal mass, distinct confidences: sort and split as np.array_split
        order = sorted(range(n), key=lambda i: conf[i])
        size, extra = divmod(n, n_bins)
        start = 0
        for b in range(n_bins):
            stop = start + size + (1 if b < extra else 0)
            members[b] = order[start:stop]
            start = stop
    return [
        (len(m), sum(conf[i] for i in m) / len(m), sum(correct[i] for i in m) / len(m))
        if m
        else (0, None, None)
        for m in members
    ]


def loop_ece_mce(probs, labels, n_bins, binning):
    bins = loop_bins(probs, labels, n_bins, binning)
    n = len(labels)
    ece = sum(cnt / n * abs(acc - cf) for cnt, cf, acc in bins if cnt)
    mce = max(abs(acc - cf) for cnt, cf, acc in bins if cnt)
    return ece, mce


# ---------------------------------------------------------------------------- NLL and Brier
def test_nll_matches_sklearn_and_torch():
    import torch

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4)) * 3
    labels = rng.integers(0, 4, size=50)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert nll(probs, labels) == pytest.approx(skm.log_loss(labels, probs, labels=range(4)), rel=1e-12)
    native = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    assert nll(logits, labels, from_logits=True) == pytest.approx(native, rel=1e-12)
    assert nll(torch.from_numpy(probs).float(), torch.from_numpy(labels)) == pytest.approx(native, rel=1e-5)
    # a gold probability of exactly 0 costs -log(eps), not infinity
    assert nll([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-12))
    # huge logits stay exact (log-softmax, no overflow, no clipping)
    assert nll([[1000.0, 0.0]], [1], from_logits=True) == pytest.approx(1000.0)


def test_brier_matches_loop_and_sklearn():
    rng = np.random.default_rng(1)
    probs = random_probs(rng, 40, 5)
    labels = rng.integers(0, 5, size=40)
    loop = sum(
        sum((p - (c == y)) ** 2 for c, p in enumerate(row)) for row, y in zip(probs, labels, strict=True)
    )
    assert brier_score(probs, labels) == pytest.approx(loop / 40, rel=1e-12)
    sk = skm.brier_score_loss(labels, probs, labels=range(5), scale_by_half=False)
    assert brier_score(probs, labels) == pytest.approx(sk, rel=1e-12)
    # two classes: twice scikit-learn's default (positive class only) convention
    binary = random_probs(rng, 30, 2)
    y2 = rng.integers(0, 2, size=30)
    assert brier_score(binary, y2) == pytest.approx(2 * skm.brier_score_loss(y2, binary[:, 1]), rel=1e-12)
    assert brier_score([[1.0, 0.0], [0.0, 1.0]], [1, 0]) == 2.0
    assert brier_score([[1.0, 0.0], [0.0, 1.0]], [0, 1]) == 0.0


# ---------------------------------------------------------------------------- ECE / MCE
@pytest.mark.parametrize("binning", ["width", "mass"])
@pytest.mark.parametrize("n_bins", [1, 3, 10, 15])
def test_ece_mce_match_loop_reference(binning, n_bins):
    rng = np.random.default_rng(n_bins)
    probs = random_probs(rng, 97, 3, sharp=2.0)
    labels = rng.integers(0, 3, size=97)
    ece, mce = loop_ece_mce(probs.tolist(), labels.tolist(), n_bins, binning)
    assert expected_calibration_error(probs, labels, n_bins=n_bins, binning=binning) == pytest.approx(
        ece, abs=1e-12
    )
    assert maximum_calibration_error(probs, labels, n_bins=n_bins, binning=binning) == pytest.approx(
        mce, abs=1e-12
    )
    table = calibration_bins(probs, labels, n_bins=n_bins, binning=binning)
    ref = loop_bins(probs.tolist(), labels.tolist(), n_bins, binning)
    assert table.count.tolist() == [r[0] for r in ref]
    assert table.count.sum() == 97


def test_confidence_one_lands_in_last_bin_and_edges_close_on_the_left():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.3], [0.3, 0.7], [0.5, 0.5]])
    labels = np.array([0, 0, 0, 1, 1])
    table = calibration_bins(probs, labels, n_bins=10)
    # 1.0 -> bin 9 ([0.9, 1]); 0.7 -> bin 7 ([0.7, 0.8)) exactly on its left edge; 0.5 -> bin 5
    assert table.count.tolist() == [0, 0, 0, 0, 0, 1, 0, 2, 0, 2]
    assert table.lower[7] == 0.7 and table.upper[9] == 1.0
    assert table.accuracy[9] == 0.5 and table.confidence[9] == 1.0
    ref = loop_bins(probs.tolist(), labels.tolist(), 10, "width")
    assert [r[0] for r in ref] == table.count.tolist()
    ece, mce = loop_ece_mce(probs.tolist(), labels.tolist(), 10, "width")
    assert table.ece == pytest.approx(ece) and table.mce == pytest.approx(mce)
    # all confidences 1.0, equal-mass: one bin holds them all
    sure = np.tile([[1.0, 0.0]], (6, 1))
    mass = calibration_bins(sure, [0, 0, 0, 1, 1, 1], n_bins=4, binning="mass")
    assert mass.count.tolist() == [0, 0, 0, 6]
    assert mass.ece == pytest.approx(0.5)


def test_perfectly_confident_and_right_has_zero_error():
    probs = np.eye(3)[[0, 1, 2, 1]]
    for binning in ("width", "mass"):
        assert expected_calibration_error(probs, [0, 1, 2, 1], binning=binning) == 0.0
        assert maximum_calibration_error(probs, [0, 1, 2, 1], binning=binning) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 20), st.integers(0, 10_000))
def test_mass_bins_properties(n, n_bins, seed):
    rng = np.random.default_rng(seed)
    probs = random_probs(rng, n, 3, sharp=3.0)
    labels = rng.integers(0, 3, size=n)
    table = calibration_bins(probs, labels, n_bins=n_bins, binning="mass")
    counts = table.count[table.count > 0]
    assert table.count.sum() == n
    assert counts.max() - counts.min() <= 1  # distinct (continuous) confidences: sizes differ by at most one
    assert len(counts) == min(n, n_bins)
    assert np.all(np.diff(table.lower) >= 0)
    perm = rng.permutation(n)
    assert calibration_bins(probs[perm], labels[perm], n_bins=n_bins, binning="mass").ece == pytest.approx(
        table.ece, abs=1e-12
    )
    for binning in ("width", "mass"):
        ece = expected_calibration_error(probs, labels, n_bins=n_bins, binning=binning)
        mce = maximum_calibration_error(probs, labels, n_bins=n_bins, binning=binning)
        assert 0 <= ece <= mce + 1e-12 <= 1 + 1e-12


def test_mass_bins_keep_ties_together():
    conf = np.array([0.6, 0.6, 0.6, 0.6, 0.8, 0.9])
    probs = np.stack([conf, 1 - conf], axis=1)
    table = calibration_bins(probs, [0, 1, 0, 1, 0, 0], n_bins=3, binning="mass")
    assert table.count.tolist() == [0, 4, 2]  # the four 0.6 share the bin that starts at 0.6


# ---------------------------------------------------------------------------- diagram
@pytest.mark.parametrize("binning", ["width", "mass"])
def test_reliability_diagram_writes_png_atomically(tmp_path, binning):
    rng = np.random.default_rng(3)
    probs = random_probs(rng, 200, 4, sharp=2.0)
    labels = rng.integers(0, 4, size=200)
    out = tmp_path / "plots" / "rel.png"
    table = reliability_diagram(probs, labels, out, n_bins=10, binning=binning, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["rel.png"]  # no temporary file left behind
    assert table.ece == pytest.approx(expected_calibration_error(probs, labels, n_bins=10, binning=binning))
    rows = table.to_rows()
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 200
    json.dumps(rows)  # JSON-ready: empty bins give None, never NaN


def test_reliability_diagram_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "rel.png"
    with pytest.raises(InputError):
        reliability_diagram([[2.0, -1.0]], [0], out)
    assert not out.exists()


def test_diagram_does_not_touch_pyplot_state(tmp_path):
    import matplotlib.pyplot as plt

    plt.figure()  # a user's open figure must stay the only one, and stay current
    try:
        before, current = plt.get_fignums(), plt.gcf()
        reliability_diagram([[0.9, 0.1]], [0], tmp_path / "x.png")
        assert plt.get_fignums() == before and plt.gcf() is current
    finally:
        plt.close("all")


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("probs", "labels", "message"),
    [
        ([[0.5, 0.4]], [0], "sum to 1"),
        ([[2.0, -1.0]], [0], r"\[0, 1\]"),
        ([[0.5, 0.5], [0.5, 0.5]], [0], "rows"),
        ([[0.5, 0.5]], [2], "out of range"),
        (np.zeros((0, 2)), [], "empty"),
        ([0.5, 0.5], [0], "2-D"),
        ([[1.0]], [0], "at least 2"),
        ([[np.nan, 1.0]], [0], "NaN"),
    ],
)
@pytest.mark.parametrize("fn", [nll, brier_score, expected_calibration_error, maximum_calibration_error])
def test_bad_probabilities(fn, probs, labels, message):
    with pytest.raises(InputError, match=message):
        fn(probs, labels)


def test_bad_options():
    probs = [[0.5, 0.5]]
    with pytest.raises(ConfigError, match="n_bins"):
        expected_calibration_error(probs, [0], n_bins=0)
    with pytest.raises(ConfigError, match="n_bins"):
        expected_calibration_error(probs, [0], n_bins=2.5)
    with pytest.raises(ConfigError, match="binning"):
        expected_calibration_error(probs, [0], binning="quantile")
    with pytest.raises(ConfigError, match="eps"):
        nll(probs, [0], eps=0)
    with pytest.raises(InputError, match="logits"):
        nll([1.0, 2.0], [0], from_logits=True)
