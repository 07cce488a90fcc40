"""SentEval-style probes: features, the C search against a plain scikit-learn fit, real MRPC/SICK files."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from textsmooth.errors import ConfigError, DataError, InputError
from textsmooth.io.pairs import SentencePairs, load_mrpc, load_sick
from textsmooth.metrics.probing import pair_features, probe_pairs


def test_pair_features_are_sentevals():
    u = np.array([[1.0, -2.0]], dtype=np.float32)
    v = np.array([[3.0, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(pair_features(u, v), [[1, -2, 3, 1, 2, 3, 3, -2]])
    with pytest.raises(InputError):
        pair_features(u, v[:, :1])


def hashed_bag(dim: int = 64):
    """A deterministic bag-of-words encoder (word -> fixed random vector, averaged): no model needed to
    check the probe's mechanics."""
    import zlib

    def encode(sentences):
        out = np.zeros((len(sentences), dim), dtype=np.float32)
        for i, s in enumerate(sentences):
            for w in s.lower().split():
                out[i] += np.random.default_rng(zlib.crc32(w.encode())).standard_normal(dim)
        return out

    return encode


def synthetic_pairs(n: int, seed: int) -> SentencePairs:
    """Label 1 when the two sentences share their first word (learnable from |u - v|)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    first, second, labels = [], [], []
    for _ in range(n):
        a, b = rng.choice(words, 2, replace=False)
        same = rng.random() < 0.5
        first.append(f"{a} x y")
        second.append(f"{a if same else b} x z")
        labels.append(int(same))
    return SentencePairs(first, second, np.array(labels), ["0", "1"])


def test_the_probe_learns_and_matches_a_plain_fit():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    encode = hashed_bag()
    train, test = synthetic_pairs(300, 0), synthetic_pairs(100, 1)
    result = probe_pairs(encode, train, test, cs=(0.25, 1.0, 4.0), folds=3)
    assert result.accuracy > 0.9 and result.f1 is not None and set(result.cv_accuracy) == {0.25, 1.0, 4.0}
    assert result.best_c == max(result.cv_accuracy, key=lambda c: (result.cv_accuracy[c], -c))
    # the same predictions as scaling + logistic regression at the chosen C, written out by hand
    x_train = pair_features(encode(train.first), encode(train.second))
    x_test = pair_features(encode(test.first), encode(test.second))
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(C=result.best_c, max_iter=2000, random_state=0).fit(
        scaler.transform(x_train), train.labels
    )
    np.testing.assert_array_equal(result.predictions, model.predict(scaler.transform(x_test)))
    # the cross-validated accuracies (fitted along a warm-started path of C) equal separate cold fits
    from sklearn.model_selection import StratifiedKFold

    for c in (0.25, 1.0, 4.0):
        correct = 0
        for fit_rows, held_rows in StratifiedKFold(3, shuffle=True, random_state=0).split(
            x_train, train.labels
        ):
            fold_scaler = StandardScaler().fit(x_train[fit_rows])
            cold = LogisticRegression(C=c, max_iter=2000, random_state=0)
            cold.fit(fold_scaler.transform(x_train[fit_rows]), train.labels[fit_rows])
            predicted = cold.predict(fold_scaler.transform(x_train[held_rows]))
            correct += int((predicted == train.labels[held_rows]).sum())
        assert result.cv_accuracy[c] == correct / len(train.labels)
    # a dev split chooses C instead of cross-validation
    on_dev = probe_pairs(encode, train, test, dev=synthetic_pairs(50, 2), cs=(1.0,))
    assert on_dev.best_c == 1.0
    with pytest.raises(ConfigError, match="folds"):
        probe_pairs(encode, train, test, folds=1)


def test_the_benchmark_files_read_as_documented():
    try:
        mrpc_test = load_mrpc("test")
        sick_dev = load_sick("dev")
    except DataError:
        pytest.skip("the shared data is not beside the repository")
    assert len(mrpc_test) == 1725 and set(mrpc_test.labels.tolist()) == {0, 1}
    assert len(load_mrpc("train")) == 4076
    assert len(sick_dev) == 495 and sick_dev.label_names == ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]
    assert len(load_sick("train")) == 4439 and len(load_sick("test")) == 4906
    with pytest.raises(InputError, match="split"):
        load_sick("validation")


def test_minilm_on_a_slice_of_sick_beats_the_majority_class():
    pytest.importorskip("transformers")
    try:
        train, test = load_sick("train"), load_sick("dev")
    except DataError:
        pytest.skip("the shared data is not beside the repository")
    from textsmooth.sequence import SentenceEncoder

    encoder = SentenceEncoder(num_threads=1)

    def subset(pairs, n):
        return SentencePairs(pairs.first[:n], pairs.second[:n], pairs.labels[:n], pairs.label_names)

    train, test = subset(train, 400), subset(test, 200)
    result = probe_pairs(lambda s: encoder.encode(s), train, test, cs=(0.5, 2.0), folds=3)
    majority = np.bincount(test.labels).max() / len(test)
    assert result.accuracy > majority + 0.05 and result.f1 is None
