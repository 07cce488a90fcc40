"""Train -> save -> load: a reloaded classifier predicts exactly what the run evaluated; bad folders fail."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from textsmooth.cli.demo import bundled_path
from textsmooth.errors import ArtifactError, ConfigError, InputError, ModelLoadError
from textsmooth.io.manifest import sha256_file, write_manifest
from textsmooth.io.readers import TextDataset, read_dataset
from textsmooth.training import load_classifier, save_classifier
from textsmooth.training import saved as saved_module
from textsmooth.training.config import TrainConfig
from textsmooth.training.loop import train_classifier


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits(trec_per_class) -> tuple[TextDataset, TextDataset, TextDataset]:
    train, dev = trec_per_class(25, 10, seed=1)
    test = read_dataset(bundled_path("trec_test.csv.gz"), "text", "label").subset(np.arange(90))
    return train, dev, test


def tiny_bert(folder):
    """A small randomly initialised BERT with MiniLM's tokenizer files (a real local HF encoder)."""
    from transformers import BertConfig, BertModel

    from textsmooth.sequence.encoder import default_model_path

    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(default_model_path() / name, folder / name)
    return folder


def config_for(kind: str, tmp_path) -> TrainConfig:
    base = {"epochs": 2, "batch_size": 32, "max_length": 16, "embed_dim": 16, "hidden_dim": 8, "min_freq": 1}
    if kind == "minilm":
        base.update(model_path=str(tiny_bert(tmp_path / "tiny-bert")), lr=1e-3)
    return TrainConfig(model=kind, n_filters=8, **base)


@pytest.fixture(scope="module")
def trained_textcnn(splits, tmp_path_factory):
    train, dev, test = splits
    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    result = train_classifier(train, dev, config_for("textcnn", out), out_dir=out, test=test, progress=False)
    return result, out


@pytest.mark.parametrize("kind", ["textcnn", "bilstm", "minilm"])
def test_reloaded_model_predicts_what_the_run_evaluated(splits, tmp_path, kind):
    train, dev, test = splits
    config = config_for(kind, tmp_path)
    if kind == "bilstm":  # the second head is saved and reloaded too
        config = TrainConfig.from_dict({**config.to_dict(), "method": "kwls", "kwls_variant": "two_head"})
    result = train_classifier(train, dev, config, out_dir=tmp_path / "run", test=test, progress=False)
    assert result.model_dir == tmp_path / "run" / "model"
    rng_before = torch.get_rng_state()
    clf = load_classifier(result.model_dir)  # a fresh object built from the folder alone
    assert torch.equal(torch.get_rng_state(), rng_before)  # loading leaves the caller's RNG alone
    assert clf.model is not result.model and not clf.model.training
    assert clf.classes_.tolist() == train.label_names
    probs = clf.predict_proba(test.texts)
    assert probs.dtype == np.float32 and probs.shape == (len(test), train.n_classes)
    np.testing.assert_allclose(probs, result.test_probs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(clf.predict_proba(dev.texts), result.dev_probs, atol=1e-6, rtol=0)
    # smaller batches pad differently; padding never changes the output
    np.testing.assert_allclose(clf.predict_proba(test.texts, batch_size=7), probs, atol=1e-6, rtol=0)
    assert clf.predict(test.texts[:5]).tolist() == [train.label_names[i] for i in probs[:5].argmax(1)]
    # the loop's own dev evaluation of the best model is the best epoch's logged one
    best = result.history[result.best_epoch - 1]
    assert result.dev_metrics == {k: v for k, v in best.items() if k not in ("epoch", "train_loss")}
    manifest = clf.manifest
    assert manifest["parameters"]["model"] == kind and manifest["best_epoch"] == result.best_epoch
    assert manifest["files"]["model.safetensors"] == sha256_file(result.model_dir / "model.safetensors")
    assert manifest["inputs"]["train"]["content_sha256"] == train.content_sha256
    assert clf.predict_proba([]).shape == (0, train.n_classes)


def test_predict_input_checks(trained_textcnn):
    _, out = trained_textcnn
    clf = load_classifier(out / "model")
    with pytest.raises(InputError, match="not one string"):
        clf.predict_proba("What is a cat?")
    with pytest.raises(InputError, match=r"texts\[1\] is int"):
        clf.predict_proba(["What is a cat?", 3])
    with pytest.raises(InputError, match="batch_size"):
        clf.predict_proba(["What is a cat?"], batch_size=0)


def copy_model(trained, tmp_path):
    _, out = trained
    folder = tmp_path / "model"
    shutil.copytree(out / "model", folder)
    return folder


def rewrite_manifest(folder, **changes):
    """Change manifest fields *and* re-seal it, as a careful forger would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    manifest["manifest_sha256"] = saved_module._manifest_digest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_bad_model_folders_name_the_file(trained_textcnn, tmp_path):
    _, out = trained_textcnn
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_classifier(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_classifier(out / "checkpoint.pt")
    with pytest.raises(ArtifactError, match=r"no manifest\.json") as info:
        load_classifier(out)  # the training folder, not its model/ subfolder
    assert str(out / "model") in str(info.value)

    folder = copy_model(trained_textcnn, tmp_path)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum") as info:
        load_classifier(folder)
    assert str(weights) in str(info.value)

    weights.unlink()
    with pytest.raises(ArtifactError, match="missing") as info:
        load_classifier(folder)
    assert str(weights) in str(info.value)

    folder = copy_model(trained_textcnn, tmp_path / "b")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["classes"][0] = "SOMETHING-ELSE"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="modified") as info:
        load_classifier(folder)
    assert str(folder / "manifest.json") in str(info.value)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_classifier(folder)

    folder = copy_model(trained_textcnn, tmp_path / "c")
    rewrite_manifest(folder, format_version=99)
    with pytest.raises(ArtifactError, match="unsupported model folder format 99"):
        load_classifier(folder)
    rewrite_manifest(folder, format_version=1, classes=["a", "b"])
    with pytest.raises(ArtifactError, match="2 classes for a model with 6 outputs"):
        load_classifier(folder)

    other = tmp_path / "other-kind"
    other.mkdir()
    (other / "table.parquet").write_bytes(b"x")
    write_manifest(other, kind="neighbour-table")
    with pytest.raises(ArtifactError, match="expected a 'textsmooth-classifier'") as info:
        load_classifier(other)
    assert str(other / "manifest.json") in str(info.value)


def test_weights_that_do_not_fit_the_architecture(trained_textcnn, splits, tmp_path):
    train, dev, _ = splits
    folder = copy_model(trained_textcnn, tmp_path)
    wider = train_classifier(
        train,
        dev,
        TrainConfig.from_dict({**config_for("textcnn", tmp_path).to_dict(), "n_filters": 5, "epochs": 1}),
        progress=False,
    )
    wider.save(tmp_path / "wider")
    shutil.copy(tmp_path / "wider" / "model.safetensors", folder / "model.safetensors")
    manifest = json.loads((folder / "manifest.json").read_text())
    rewrite_manifest(
        folder, files={**manifest["files"], "model.safetensors": sha256_file(folder / "model.safetensors")}
    )
    with pytest.raises(ModelLoadError, match="weights do not fit the textcnn") as info:
        load_classifier(folder)
    assert str(folder / "model.safetensors") in str(info.value)


def test_saving_is_all_or_nothing_and_never_replaces_user_files(trained_textcnn, tmp_path, monkeypatch):
    result, _ = trained_textcnn
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a saved textsmooth classifier"):
        result.save(mine)
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1

    target = tmp_path / "saved"
    result.save(target)
    first = sha256_file(target / "manifest.json")
    result.save(target)  # an earlier saved classifier is replaced
    assert load_classifier(target).classes_.tolist() == result.classes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "saved"]
    assert first  # both saves wrote a manifest

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(result.featurizer.vocab, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save_classifier(tmp_path / "half", result.model, result.featurizer, result.classes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "saved"]  # no folder, no temp left
    with pytest.raises(ConfigError, match="2 class names"):
        save_classifier(tmp_path / "x", result.model, result.featurizer, ["a", "b"])
