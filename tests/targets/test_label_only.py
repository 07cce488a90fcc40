"""LS-Classic, prior smoothing, LS-Distill (teacher) and label flipping."""

from __future__ import annotations

import numpy as np
import pytest

from textsmooth import PriorSmoother, TeacherSmoother, UniformSmoother, flip_labels
from textsmooth.errors import ConfigError, InputError, LabelError
from textsmooth.targets.flip import transition_matrix

TEXTS = ["a", "b", "c", "d"]


def test_uniform_all_convention_matches_pytorch_label_smoothing():
    import torch
    import torch.nn.functional as F

    labels = [0, 2, 1, 2]
    soft = UniformSmoother(0.2, dtype=np.float64).fit_transform(TEXTS, labels, n_classes=3)
    np.testing.assert_allclose(soft[0], [1 - 0.2 + 0.2 / 3, 0.2 / 3, 0.2 / 3], atol=1e-15)
    logits = torch.randn(4, 3, dtype=torch.float64)
    ours = -(torch.from_numpy(soft) * logits.log_softmax(-1)).sum(-1).mean()
    native = F.cross_entropy(logits, torch.tensor(labels), label_smoothing=0.2)
    assert torch.allclose(ours, native, atol=1e-14)


def test_uniform_others_convention():
    soft = UniformSmoother(0.3, convention="others", dtype=np.float64).fit_transform(TEXTS, [0, 1, 2, 0])
    np.testing.assert_allclose(soft[1], [0.15, 0.7, 0.15], atol=1e-15)


def test_prior_class_frequency_and_explicit():
    smoother = PriorSmoother(0.5, dtype=np.float64)
    soft = smoother.fit_transform(TEXTS, [0, 0, 0, 1])
    np.testing.assert_allclose(smoother.prior_, [0.75, 0.25])
    np.testing.assert_allclose(soft[3], [0.5 * 0.75, 0.5 + 0.5 * 0.25])
    explicit = PriorSmoother(0.1, prior=[0.2, 0.8], dtype=np.float64).fit_transform(TEXTS, [0, 1, 0, 1])
    np.testing.assert_allclose(explicit[0], [0.9 + 0.02, 0.08])
    with pytest.raises(InputError, match="sum to 1"):
        PriorSmoother(0.1, prior=[0.5, 0.6]).fit(TEXTS, [0, 1, 0, 1])
    with pytest.raises(InputError, match="shape"):
        PriorSmoother(0.1, prior=[1.0]).fit(TEXTS, [0, 1, 0, 1])


def test_label_smoothers_need_labels_at_transform():
    smoother = UniformSmoother(0.1).fit(TEXTS, [0, 1, 0, 1])
    with pytest.raises(InputError, match="needs the hard labels"):
        smoother.transform(TEXTS)
    with pytest.raises(LabelError, match=r"row 1.*outside"):
        smoother.transform(["x"], [5])
    with pytest.raises(ConfigError, match="epsilon"):
        UniformSmoother(1.5).fit(TEXTS, [0, 1, 0, 1])


def test_teacher_from_logits_and_probabilities():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0]])
    texts = ["x", "y", "z"]
    for temperature in (1.0, 2.0, 0.5):
        soft = TeacherSmoother(temperature, dtype=np.float64).fit(texts, [0, 1, 2], teacher_outputs=logits)
        out = soft.transform(["z", "x"])
        expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum(1, keepdims=True)
        np.testing.assert_allclose(out, expected[[2, 0]], atol=1e-14)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        from_probs = TeacherSmoother(temperature, outputs="probabilities", dtype=np.float64)
        from_probs.fit(texts, [0, 1, 2], teacher_outputs=probs)
        np.testing.assert_allclose(from_probs.transform(["z", "x"]), expected[[2, 0]], atol=1e-12)


def test_teacher_callable_and_errors():
    import torch

    def teacher(texts):
        return torch.tensor([[float(len(t)), 0.0] for t in texts])

    smoother = TeacherSmoother(teacher=teacher, dtype=np.float64).fit(["ab", "c"], [0, 1])
    np.testing.assert_allclose(smoother.transform(["abc"])[0, 0], 1 / (1 + np.exp(-3)))
    fitted = TeacherSmoother().fit(["a", "b"], [0, 1], teacher_outputs=np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"row 2.*no teacher output"):
        fitted.transform(["a", "never seen"])
    with pytest.raises(InputError, match="needs a teacher"):
        TeacherSmoother().fit(["a"], [0])
    with pytest.raises(InputError, match="shape"):
        TeacherSmoother().fit(["a", "b"], [0, 1], teacher_outputs=np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"row 2.*NaN"):
        TeacherSmoother().fit(["a", "b"], [0, 1], teacher_outputs=np.array([[0, 1], [np.nan, 0]]))


def test_flip_symmetric_rate_and_targets():
    labels = np.arange(30_000) % 5
    noisy, flipped = flip_labels(labels, rate=0.2, seed=1)
    assert abs(flipped.mean() - 0.2) < 0.01
    np.testing.assert_array_equal(flipped, noisy != labels)
    # flipped labels go to every other class about equally often
    moved = np.bincount(((noisy - labels) % 5)[flipped], minlength=5)
    assert moved[0] == 0 and moved[1:].min() > 0.2 * flipped.sum() * 0.9
    again, _ = flip_labels(labels, rate=0.2, seed=1)
    np.testing.assert_array_equal(noisy, again)  # seeded


def test_flip_pair_and_matrix():
    labels = np.arange(10_000) % 4
    noisy, flipped = flip_labels(labels, rate=0.3, kind="pair", seed=0)
    np.testing.assert_array_equal(noisy[flipped], (labels[flipped] + 1) % 4)
    assert abs(flipped.mean() - 0.3) < 0.02
    matrix = np.array([[0.0, 1.0], [0.0, 1.0]])
    noisy, flipped = flip_labels([0, 1, 0, 1], kind=matrix)
    assert noisy.tolist() == [1, 1, 1, 1] and flipped.tolist() == [True, False, True, False]
    np.testing.assert_allclose(transition_matrix(3, 0.3).sum(axis=1), 1)
    assert flip_labels([0, 1, 2], rate=0.0)[1].sum() == 0
    with pytest.raises(InputError, match="row 1 does not sum to 1"):
        flip_labels([0, 1], kind=[[1.0, 0.0], [0.5, 0.4]])
    with pytest.raises(ConfigError, match="rate"):
        flip_labels([0, 1], rate=1.5)
    with pytest.raises(ConfigError, match="unknown flip kind"):
        flip_labels([0, 1], kind="random")
