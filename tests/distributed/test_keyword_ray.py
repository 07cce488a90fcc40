"""KWLS / LS-TFIDF on Ray: the same bits as the local smoothers, from lists, Ray Datasets and Hugging Face
datasets, after a worker is killed mid-run, and the library's errors for bad input.

One local Ray instance (2 CPUs) serves the whole folder (``conftest.ray_local``); corpora are small.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from textsmooth import KeywordSmoother, TfidfSmoother  # noqa: E402
from textsmooth.distributed import (  # noqa: E402
    fit_keyword_smoother,
    keyword_soft_labels,
    transform_soft_labels,
)
from textsmooth.errors import (  # noqa: E402
    ConfigError,
    DataError,
    InputError,
    LabelError,
    NotFittedError,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")  # Ray Data's own settings

LOCAL = {"kwls": KeywordSmoother, "tfidf": TfidfSmoother}


def corpus(n: int = 240, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts with Zipf-like word frequencies, words of 1-8, 9-16 and 17+ bytes, non-ASCII words and an
    empty text; labels are names of 3 classes (every class present)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(150)] + [f"medium{i:05d}" for i in range(30)]
    words += [f"averyveryverylongword{i}" for i in range(20)] + ["café", "naïve", "größe", "東京"]
    p = 1.0 / np.arange(1, len(words) + 1)
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 25), p=p / p.sum())) for _ in range(n)]
    texts[5] = ""
    labels = [("neg", "neu", "pos")[i % 3] for i in rng.permutation(n)]
    return texts, labels


def assert_same_smoother(a, b) -> None:
    assert a.vocabulary_.equals(b.vocabulary_)
    assert (a.word_label_relevance_ != b.word_label_relevance_).nnz == 0
    np.testing.assert_array_equal(a.word_label_relevance_.indices, b.word_label_relevance_.indices)
    np.testing.assert_array_equal(a.word_instance_weight_, b.word_instance_weight_)
    np.testing.assert_array_equal(a.label_lengths_, b.label_lengths_)
    assert a.mean_length_ == b.mean_length_ and a.n_instances_ == b.n_instances_
    assert a.classes_.tolist() == b.classes_.tolist() and a.label_names_ == b.label_names_


@pytest.mark.parametrize("method", ["kwls", "tfidf"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_soft_labels_and_smoother_as_the_local_backend(ray_local, method, dtype):
    texts, labels = corpus()
    with warnings.catch_warnings(record=True) as local_warnings:
        warnings.simplefilter("always")
        local = LOCAL[method](dtype=dtype)
        expected = local.fit_transform(texts, labels)
    for num_shards in (1, 5):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            soft, smoother = keyword_soft_labels(
                texts, labels, method=method, dtype=dtype, num_shards=num_shards, return_smoother=True
            )
        assert soft.dtype == dtype and soft.shape == expected.shape
        assert float(np.abs(soft.astype(np.float64) - expected).max()) <= 1e-12
        np.testing.assert_array_equal(soft, expected)  # in fact the same bits
        assert_same_smoother(smoother, local)
        # the empty text (row 6) is reported once, with its row in the corpus, as locally
        assert [str(w.message) for w in caught] == [str(w.message) for w in local_warnings]
        assert "rows 6" in str(caught[0].message)


def test_parameters_and_label_names_reach_the_smoother(ray_local):
    texts, labels = corpus(n=150, seed=1)
    ids = [("neg", "neu", "pos").index(x) for x in labels]
    params = {"k1": 1.2, "b": 0.5, "k2": 3.0, "tokenizer": "space", "temperature": 0.5, "ilr_sum": "tokens"}
    names = ["negative", "neutral", "positive"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = KeywordSmoother(dtype=np.float64, **params)
        expected = local.fit_transform(texts, ids, n_classes=3, label_names=names)
        soft, smoother = keyword_soft_labels(
            texts,
            ids,
            dtype=np.float64,
            num_shards=4,
            n_classes=3,
            label_names=names,
            return_smoother=True,
            **params,
        )
        np.testing.assert_array_equal(soft, expected)
        assert smoother.get_params() == local.get_params() and smoother.label_names_ == names
        # LS-TFIDF with raw counts, from an unfitted smoother's parameters
        tfidf = TfidfSmoother(tf="raw", tokenizer="whitespace", dtype=np.float64)
        np.testing.assert_array_equal(
            keyword_soft_labels(texts, labels, method=tfidf, num_shards=3),
            TfidfSmoother(tf="raw", tokenizer="whitespace", dtype=np.float64).fit_transform(texts, labels),
        )
        assert not hasattr(tfidf, "classes_")  # the smoother given is not fitted in place


def test_fit_alone_and_sharded_transform_of_new_texts(ray_local):
    texts, labels = corpus(n=200, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smoother = fit_keyword_smoother(texts, labels, num_shards=3, dtype=np.float64)
        local = KeywordSmoother(dtype=np.float64).fit(texts, labels)
    assert_same_smoother(smoother, local)
    new = ["w1 w2 unseen", "nothing known here", *texts[:40], "東京 café"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        soft = transform_soft_labels(smoother, new, num_shards=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(soft, local.transform(new))
    assert len(caught) == 1 and "(rows 2, 8)" in str(caught[0].message)  # "", at row 6 of texts
    assert transform_soft_labels(smoother, []).shape == (0, 3)
    with pytest.raises(NotFittedError):
        transform_soft_labels(KeywordSmoother(), new)


def test_ray_dataset_input_in_its_order(ray_local):
    texts, labels = corpus(n=180, seed=3)
    rows = [{"text": t, "label": y, "extra": i} for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
    dataset = ray.data.from_items(rows, override_num_blocks=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = KeywordSmoother(dtype=np.float64).fit_transform(texts, labels)
        for num_shards in (None, 3):
            soft = keyword_soft_labels(dataset, dtype=np.float64, num_shards=num_shards)
            np.testing.assert_array_equal(soft, expected)
        renamed = ray.data.from_items([{"body": t, "y": y} for t, y in zip(texts, labels, strict=True)])
        soft = keyword_soft_labels(renamed, text_column="body", label_column="y", dtype=np.float64)
        np.testing.assert_array_equal(soft, expected)


def test_hugging_face_dataset_with_class_label(ray_local):
    datasets = pytest.importorskip("datasets")
    texts, labels = corpus(n=120, seed=4)
    names = ["neg", "neu", "pos"]
    ids = [names.index(x) for x in labels]
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
    )
    dataset = datasets.Dataset.from_dict({"text": texts, "label": ids}, features=features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = KeywordSmoother(dtype=np.float64)
        expected = local.fit_transform(texts, ids, n_classes=3, label_names=names)
        soft, smoother = keyword_soft_labels(dataset, dtype=np.float64, num_shards=3, return_smoother=True)
        np.testing.assert_array_equal(soft, expected)
        assert smoother.label_names_ == names
        # rows picked through an indices mapping keep their order
        picked = dataset.select(range(119, -1, -2))
        soft = keyword_soft_labels(picked, dtype=np.float64, num_shards=2)
        rows = list(range(119, -1, -2))
        expected = KeywordSmoother(dtype=np.float64).fit_transform(
            [texts[i] for i in rows], [ids[i] for i in rows], n_classes=3, label_names=names
        )
        np.testing.assert_array_equal(soft, expected)


def _killing_tokenizer(marker: str):
    """``str.split(" ")``, except that its first call in a Ray worker kills that worker (SIGKILL), once:
    the first process to create ``marker`` dies. Nested, so cloudpickle sends it to workers by value."""
    driver = os.getpid()

    def tokenizer(text: str) -> list[str]:
        import os
        import signal

        if os.getpid() != driver:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return text.split(" ")

    return tokenizer


def test_worker_killed_mid_run_is_retried_with_the_same_result(ray_local, tmp_path):
    """A worker dies in the middle of the map stage, then of a transform: Ray runs the task again."""
    texts, labels = corpus(n=160, seed=5)
    fit_marker, transform_marker = tmp_path / "killed-in-fit", tmp_path / "killed-in-transform"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = KeywordSmoother(tokenizer="space", dtype=np.float64)
        expected = local.fit_transform(texts, labels)
        soft, smoother = keyword_soft_labels(
            texts,
            labels,
            tokenizer=_killing_tokenizer(str(fit_marker)),
            dtype=np.float64,
            num_shards=4,
            max_retries=2,
            return_smoother=True,
        )
        assert fit_marker.exists()  # a worker was killed
        np.testing.assert_array_equal(soft, expected)
        smoother.set_params(tokenizer=_killing_tokenizer(str(transform_marker)))
        soft = transform_soft_labels(smoother, texts[::-1], num_shards=3, max_retries=2)
        assert transform_marker.exists()
        np.testing.assert_array_equal(soft, local.transform(texts[::-1]))


# -- bad input: the library's errors, as the local path gives them ----------------------------------
def _local_error(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("texts", "labels", "kind"),
    [
        (["a b", "c d", "e"], [0, 1], InputError),  # lengths differ
        ([], [], InputError),  # empty corpus
        (["a b", None, "c"], [0, 1, 0], DataError),  # a missing text, row named
        (["a b", "c d", "e f"], [0, None, 1], LabelError),  # a missing label
        (["a b", "c d"], [0, 2], LabelError),  # class 1 has no instance
        (["", " ", ""], [0, 1, 0], InputError),  # no token at all
        ("one string", [0], InputError),
    ],
)
def test_bad_input_gives_the_local_error(ray_local, texts, labels, kind):
    """Checked on the driver, before any task (only "no token at all" needs the counts)."""
    local = _local_error(lambda: KeywordSmoother().fit(texts, labels))
    with pytest.raises(kind) as info:
        keyword_soft_labels(texts, labels)
    assert type(info.value) is type(local) and str(info.value) == str(local)


def test_an_error_in_a_task_names_the_row_in_the_corpus(ray_local):
    texts, labels = corpus(n=120, seed=6)
    texts[100] = "BAD text"

    def tokenizer(text: str) -> list:  # nested: sent by value; returns a non-string for one text
        return [1] if text == "BAD text" else text.split(" ")

    local = _local_error(lambda: KeywordSmoother(tokenizer=tokenizer).fit(texts, labels))
    with pytest.raises(DataError) as info:
        keyword_soft_labels(texts, labels, tokenizer=tokenizer, num_shards=4)
    assert info.value.row == local.row == 101 and str(info.value) == str(local)
    smoother = KeywordSmoother(tokenizer="space").fit(texts[:50], labels[:50])
    smoother.set_params(tokenizer=tokenizer)
    with pytest.raises(DataError) as info:
        transform_soft_labels(smoother, texts, num_shards=3)
    assert info.value.row == 101


def test_bad_arguments_are_config_errors():
    texts, labels = ["a b", "c d"], [0, 1]
    for kwargs in (
        {"method": "bm25"},
        {"k3": 1.0},
        {"method": "tfidf", "k1": 1.0},
        {"method": KeywordSmoother(), "k1": 1.0},
        {"num_shards": 0},
        {"max_retries": -1},
        {"k1": -1.0},
        {"num_cpus": 0},
        {"dtype": "no-such-dtype"},
    ):
        with pytest.raises(ConfigError):
            keyword_soft_labels(texts, labels, **kwargs)
    with pytest.raises(InputError, match="labels are needed"):
        keyword_soft_labels(texts)


def test_bad_dataset_columns_and_rows(ray_local):
    dataset = ray.data.from_items(
        [
            {"text": "a b", "label": 0},
            {"text": "c", "label": 1},
            {"text": None, "label": 0},
            {"text": "d", "label": 1},
        ],
        override_num_blocks=2,
    )
    with pytest.raises(DataError, match="no column 'body'"):
        keyword_soft_labels(dataset, text_column="body")
    with pytest.raises(DataError) as info:
        keyword_soft_labels(dataset)
    assert info.value.row == 3 and info.value.column == "text"  # the row in the whole dataset
    with pytest.raises(DataError, match="holds int64, not text"):
        keyword_soft_labels(dataset, text_column="label", label_column="text")
    with pytest.raises(InputError, match="label column"):
        keyword_soft_labels(dataset, [0, 1, 0, 1])
    empty = ray.data.from_items([{"text": "a", "label": 0}]).limit(0)
    with pytest.raises(InputError, match="cannot fit on zero texts"):
        keyword_soft_labels(empty)


def test_docs_example_runs(ray_local):
    """The python example of docs/distributed.md runs as written (its ray.init is the fixture's)."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL) if "keyword_soft" in b]
    assert "ray.init(num_cpus=2, include_dashboard=False)" in block
    block = block.replace("ray.init(num_cpus=2, include_dashboard=False)", "assert ray.is_initialized()")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "docs/distributed.md", "exec"), namespace)
    assert namespace["test_soft"].shape == (2, 2)
