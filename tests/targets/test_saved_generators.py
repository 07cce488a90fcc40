"""Saving and loading every fitted generator as data (NPZ + manifest), and what loading refuses."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from textsmooth import KeywordSmoother, PriorSmoother, TeacherSmoother, TfidfSmoother, UniformSmoother
from textsmooth.errors import ArtifactError, ConfigError, DataError, StaleArtifactError
from textsmooth.io.manifest import manifest_path, sha256_file
from textsmooth.targets.keyword import load_smoother
from textsmooth.targets.saved import load_generator, save_generator

TEXTS = ["great fun film", "dull boring film", "fun fun", "bad plot", "great plot"]
LABELS = ["pos", "neg", "pos", "neg", "pos"]
LOGITS = np.array([[2.0, -1.0], [-1.0, 1.5], [0.5, 0.0], [0.0, 3.0], [1.0, 1.0]])


def _fitted(name):
    if name == "kwls":
        return KeywordSmoother(tokenizer="space", dtype=np.float64).fit(TEXTS, LABELS)
    if name == "tfidf":
        return TfidfSmoother(tf="raw", temperature=0.5).fit(TEXTS, LABELS)
    if name == "uniform":
        return UniformSmoother(0.3, convention="others").fit(TEXTS, LABELS)
    if name == "prior":
        return PriorSmoother(0.4).fit(TEXTS, LABELS)
    if name == "prior-explicit":
        return PriorSmoother(0.4, prior=[0.25, 0.75]).fit(TEXTS, [0, 1, 0, 1, 1])
    return TeacherSmoother(2.0).fit(
        [*TEXTS, "fun fun"], [*LABELS, "pos"], teacher_outputs=np.vstack([LOGITS, LOGITS[:1]])
    )


NAMES = ["kwls", "tfidf", "uniform", "prior", "prior-explicit", "teacher"]


@pytest.mark.parametrize("name", NAMES)
def test_every_generator_roundtrips_byte_identically(tmp_path, name):
    generator = _fitted(name)
    path = generator.save(tmp_path / "model.npz")
    first = path.read_bytes()
    save_generator(_fitted(name), path)
    assert path.read_bytes() == first  # same fit, same bytes
    loaded = load_generator(path)
    assert type(loaded) is type(generator)
    assert loaded.get_params() == {
        k: (np.dtype(v) if k == "dtype" else v) for k, v in generator.get_params().items()
    }
    assert loaded.classes_.tolist() == generator.classes_.tolist()
    assert loaded.label_names_ == generator.label_names_
    labels = generator.classes_[np.arange(len(TEXTS)) % len(generator.classes_)]
    np.testing.assert_array_equal(loaded.transform(TEXTS, labels), generator.transform(TEXTS, labels))
    with np.load(path, allow_pickle=False) as data:  # data only: readable without pickles
        assert all(data[name].dtype != object for name in data.files)


def test_prior_keeps_learned_class_frequencies(tmp_path):
    loaded = load_generator(_fitted("prior").save(tmp_path / "p.npz"))
    np.testing.assert_allclose(loaded.prior_, [0.4, 0.6])
    assert loaded.class_counts_.tolist() == [2, 3]


def test_teacher_with_a_callable_cannot_be_saved(tmp_path):
    smoother = TeacherSmoother(teacher=lambda texts: np.zeros((len(texts), 2))).fit(TEXTS, LABELS)
    with pytest.raises(ConfigError, match="calls a teacher function cannot be saved"):
        smoother.save(tmp_path / "t.npz")
    assert list(tmp_path.iterdir()) == []


def _edit_manifest(path, change):
    mpath = manifest_path(path)
    manifest = json.loads(mpath.read_text())
    change(manifest)
    mpath.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda m: m.update(classes=["neg", "INVENTED"]), r"field 'classes' does not match"),
        (lambda m: m.update(label_names=["neg", "INVENTED"]), r"field 'label_names' does not match"),
        (lambda m: m["parameters"].update(k2=9.0), r"field 'parameters' does not match"),
        (lambda m: m.update(kind="tfidf-smoother"), r"field 'kind' does not match"),
    ],
)
def test_edited_manifest_is_refused(tmp_path, change, pattern):
    path = _fitted("kwls").save(tmp_path / "kwls.npz")
    _edit_manifest(path, change)
    with pytest.raises(StaleArtifactError, match=pattern):
        load_smoother(path)


def test_missing_checksum_is_an_error_and_tampered_weights_are_never_used(tmp_path):
    path = _fitted("kwls").save(tmp_path / "kwls.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["wlr_data"] = arrays["wlr_data"] * 100  # tampered weights ...
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    _edit_manifest(path, lambda m: m.pop("artifact_sha256"))  # ... and the checksum deleted
    with pytest.raises(ArtifactError, match="no artifact_sha256"):
        load_smoother(path)


def _rewrite_npz(path, change):
    """Rewrite the NPZ with ``change`` applied, and update the manifest's checksum to match."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    _edit_manifest(path, lambda m: m.update(artifact_sha256=sha256_file(path)))


@pytest.mark.parametrize(
    ("name", "change", "pattern"),
    [
        ("kwls", lambda a: a.pop("wlr_indptr"), r"has no member 'wlr_indptr'"),
        (
            "kwls",
            lambda a: a.update(wlr_indptr=a["wlr_indptr"][::-1].copy()),
            r"wlr_indptr is not a valid CSR",
        ),
        ("kwls", lambda a: a.update(wlr_indptr=a["wlr_indptr"][:-1].copy()), r"'wlr_indptr' has shape"),
        ("kwls", lambda a: a.update(wlr_indices=a["wlr_indices"] + 5), r"label index outside 0..1"),
        ("kwls", lambda a: a.update(vocab_offsets=a["vocab_offsets"] * 3), r"vocabulary offsets are not"),
        ("kwls", lambda a: a.update(wlr_data=a["wlr_data"] * np.nan), r"NaN or infinite"),
        ("kwls", lambda a: a.update(wlr_data=a["wlr_data"].astype(np.int64)), r"'wlr_data' has dtype int64"),
        ("kwls", lambda a: a.update(extra=np.zeros(2)), r"unexpected members \['extra'\]"),
        ("kwls", lambda a: a.pop("meta"), r"no member 'meta'"),
        ("prior", lambda a: a.update(prior=np.array([0.9, 0.9])), r"prior is not a probability"),
        ("uniform", lambda a: a.pop("class_counts"), r"no member 'class_counts'"),
        ("teacher", lambda a: a.update(teacher_log_probs=a["teacher_log_probs"][:2]), r"has shape"),
    ],
)
def test_damaged_npz_is_an_artifact_error(tmp_path, name, change, pattern):
    path = _fitted(name).save(tmp_path / "m.npz")
    _rewrite_npz(path, change)
    with pytest.raises(ArtifactError, match=pattern):
        load_generator(path)


def test_not_an_npz_and_wrong_kind(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"not a zip file")
    from textsmooth.io.manifest import write_manifest

    write_manifest(path, kind="kwls-smoother")
    with pytest.raises(ArtifactError, match="cannot read the saved generator as NPZ"):
        load_smoother(path)
    path.write_bytes(b"PK\x03\x04 a broken zip")
    write_manifest(path, kind="kwls-smoother")
    with pytest.raises(ArtifactError, match="cannot read the saved generator as NPZ"):
        load_smoother(path)
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    write_manifest(path, kind="kwls-smoother")
    with pytest.raises(ArtifactError, match="a single NumPy array, not a saved generator"):
        load_smoother(path)
    uniform = _fitted("uniform").save(tmp_path / "u.npz")
    with pytest.raises(ArtifactError, match=r"kind kwls-smoother or tfidf-smoother .*'uniform-smoother'"):
        load_smoother(uniform)


def test_model_without_manifest_says_where_it_was_expected(tmp_path):
    path = _fitted("kwls").save(tmp_path / "kwls.npz")
    manifest_path(path).unlink()
    with pytest.raises(ArtifactError, match=r"no manifest \(expected it at .*kwls.npz.manifest.json\)"):
        load_smoother(path)


def test_tokenizer_returning_non_strings_is_a_clear_error():
    smoother = KeywordSmoother(tokenizer=lambda text: [len(w) for w in text.split()])
    with pytest.raises(DataError, match=r"row 1: the tokenizer returned a int \(5\), not a string"):
        smoother.fit(TEXTS, LABELS)


def test_saved_module_docstring_example():
    import doctest

    import textsmooth.targets.saved as saved

    result = doctest.testmod(saved, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
