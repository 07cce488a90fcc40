"""Label metrics against scikit-learn, with hypothesis-generated label vectors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from textsmooth.errors import InputError
from textsmooth.metrics import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    macro_f1,
    minority_recall,
    per_class_f1,
    per_class_precision,
    per_class_recall,
)


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n_classes = draw(st.integers(2, 6))
    n = draw(st.integers(1, 40))
    gold = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    pred = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    return np.array(pred), np.array(gold), n_classes


@settings(max_examples=150, deadline=None)
@given(label_pairs())
def test_against_sklearn(pair):
    pred, gold, n_classes = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert accuracy(pred, gold) == pytest.approx(skm.accuracy_score(gold, pred), abs=1e-12)
        assert balanced_accuracy(pred, gold) == pytest.approx(
            skm.balanced_accuracy_score(gold, pred), abs=1e-12
        )
        assert macro_f1(pred, gold) == pytest.approx(skm.f1_score(gold, pred, average="macro"), abs=1e-12)
        # Passing more classes never changes macro-F1: classes absent from both are left out.
        assert macro_f1(pred, gold, n_classes=n_classes + 3) == pytest.approx(macro_f1(pred, gold), abs=1e-15)
        np.testing.assert_array_equal(
            confusion_matrix(pred, gold, n_classes=n_classes),
            skm.confusion_matrix(gold, pred, labels=range(n_classes)),
        )
        present = np.unique(gold)
        recall = per_class_recall(pred, gold, n_classes=n_classes)
        np.testing.assert_allclose(
            recall[present], skm.recall_score(gold, pred, labels=present, average=None), atol=1e-12
        )
        assert np.isnan(np.delete(recall, present)).all()
        predicted = np.unique(pred)
        precision = per_class_precision(pred, gold, n_classes=n_classes)
        np.testing.assert_allclose(
            precision[predicted], skm.precision_score(gold, pred, labels=predicted, average=None), atol=1e-12
        )
        either = np.union1d(present, predicted)
        f1 = per_class_f1(pred, gold, n_classes=n_classes)
        np.testing.assert_allclose(
            f1[either], skm.f1_score(gold, pred, labels=either, average=None), atol=1e-12
        )
        assert np.isnan(np.delete(f1, either)).all()


def test_macro_f1_absent_class_convention():
    gold = np.array([0, 0, 1, 1, 3, 3])  # class 2 absent from both labels and predictions
    pred = np.array([0, 1, 1, 1, 3, 0])
    expected = np.mean([2 * 1 / (2 + 1 + 1), 2 * 2 / (4 + 1), 2 * 1 / (2 + 1)])
    assert macro_f1(pred, gold) == pytest.approx(expected, abs=1e-15)
    assert macro_f1(pred, gold, n_classes=10) == pytest.approx(expected, abs=1e-15)
    # sklearn with an explicit label list counts the absent class as 0: we do not.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explicit = skm.f1_score(gold, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert explicit == pytest.approx(expected * 3 / 4)
    # A class predicted but never gold counts with F1 = 0.
    assert per_class_f1([0, 1], [0, 0]).tolist() == [pytest.approx(2 / 3), 0.0]


def test_unbalanced_majority_baseline():
    gold = np.array([0] * 99 + [1])
    pred = np.zeros(100, dtype=int)
    assert accuracy(pred, gold) == 0.99
    assert balanced_accuracy(pred, gold) == 0.5
    assert minority_recall(pred, gold) == (1, 0.0)
    assert macro_f1(pred, gold) == pytest.approx((2 * 99 / (2 * 99 + 1)) / 2)


def test_scores_are_argmaxed_and_tensors_accepted():
    import torch

    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.5, 0.0]])
    gold = torch.tensor([0, 1, 1])
    # ties go to the lowest index, as numpy's argmax
    assert accuracy(probs, gold) == pytest.approx(1 / 3)
    assert accuracy(probs.to(torch.bfloat16), gold) == pytest.approx(1 / 3)
    assert per_class_recall(probs, gold).shape == (3,)
    assert accuracy([1.0, 0.0], [1, 0]) == 1.0  # integer-valued floats are class indices


def test_minority_recall_choices():
    gold = [0, 0, 0, 1, 1, 2, 2]
    pred = [0, 0, 0, 1, 0, 2, 0]
    assert minority_recall(pred, gold) == (1, 0.5)  # tie between 1 and 2: lowest index
    assert minority_recall(pred, gold, minority=2) == (2, 0.5)
    with pytest.raises(InputError, match="no gold example"):
        minority_recall(pred, gold, minority=3, n_classes=4)


@pytest.mark.parametrize(
    ("preds", "labels", "kwargs", "message"),
    [
        ([0, 1], [0, 1, 1], {}, "rows"),
        ([], [], {}, "empty"),
        ([0, 1], [0, -1], {}, "negative"),
        ([0, 1], [0, 0.5], {}, "whole numbers"),
        ([0, 3], [0, 1], {"n_classes": 3}, "out of range"),
        ([[0.5, 0.5]], [0], {"n_classes": 3}, "columns"),
        ([[0, 1], [1, 0]], [[0], [1]], {}, "1-D"),
        ([0, 1], ["a", "b"], {}, "integer"),
        ([True, False], [1, 0], {}, "integer"),
    ],
)
def test_bad_input(preds, labels, kwargs, message):
    with pytest.raises(InputError, match=message):
        per_class_recall(preds, labels, **kwargs)
