"""HFEncoderClassifier with the real offline all-MiniLM-L6-v2 (no mocks), and bad model paths."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import ConfigError, InputError, ModelLoadError
from textsmooth.models import HFEncoderClassifier

SENTENCES = ["A fine, warm film.", "Dull and far too long, honestly.", "ok"]


@pytest.fixture(scope="module")
def model() -> HFEncoderClassifier:
    torch.manual_seed(0)
    return HFEncoderClassifier(3, aux_head=True, max_length=32).eval()


def test_shapes_tokenizer_and_padding_invariance(model):
    ids, mask = model.encode(SENTENCES)
    assert ids.dtype == torch.int64 and ids.shape == mask.shape and ids.shape[0] == 3
    assert mask[2].sum() < mask[1].sum()  # "longest" padding
    with torch.no_grad():
        logits, aux = model(ids, mask)
        assert logits.shape == (3, 3) and aux.shape == (3, 3)
        fixed_ids, fixed_mask = model.encode(SENTENCES, padding="max_length")
        assert fixed_ids.shape == (3, 32)
        fixed_logits, _ = model(fixed_ids, fixed_mask)
        assert torch.allclose(fixed_logits, logits, atol=1e-5)
        alone, _ = model(*model.encode(SENTENCES[2:]))
        assert torch.allclose(alone, logits[2:], atol=1e-5)
        # attention_mask=None: padding found from the tokenizer's pad id
        assert torch.allclose(model(ids)[0], logits, atol=1e-5)
        # left padding is refused: absolute positions would shift
        with pytest.raises(InputError, match="right-padded"):
            model(ids, mask.flip(1))
        truncated, _ = model.encode(SENTENCES, max_length=4)
        assert truncated.shape == (3, 4)


def test_mean_pooling_matches_the_sentence_encoder(model):
    from textsmooth.sequence.encoder import SentenceEncoder

    reference = SentenceEncoder(normalize=False, precision="fp32").encode(SENTENCES)
    with torch.no_grad():
        ours = model.features(*model.encode(SENTENCES)).numpy()
    assert ours.shape == (3, 384) and model.n_features == 384
    assert abs(ours - reference).max() < 1e-4


def test_gradients_reach_encoder_and_heads(model):
    model.train()
    try:
        model.zero_grad()
        logits, aux = model(*model.encode(SENTENCES[:2]))
        (F.cross_entropy(logits, torch.tensor([0, 1])) + aux.square().mean()).backward()
        grads = {name: p.grad for name, p in model.named_parameters()}
        assert grads["heads.classifier.weight"].abs().sum() > 0
        assert grads["heads.aux_classifier.weight"].abs().sum() > 0
        encoder_grads = [g for name, g in grads.items() if name.startswith("encoder.") and g is not None]
        assert len(encoder_grads) > 50 and all(torch.isfinite(g).all() for g in encoder_grads)
        assert sum(float(g.abs().sum()) for g in encoder_grads) > 0
    finally:
        model.zero_grad()
        model.eval()


def test_freeze_encoder_and_config():
    torch.manual_seed(0)
    frozen = HFEncoderClassifier(2, pooling="cls", freeze_encoder=True)
    assert frozen.training and frozen.encoder.training  # the encoder follows the module's mode
    assert not frozen.eval().encoder.training
    frozen.train()
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert all(p.requires_grad for p in frozen.heads.parameters())
    config = frozen.get_config()
    json.dumps(config)
    assert config["model_path"] is None and config["pooling"] == "cls" and config["n_classes"] == 2
    logits = frozen(*frozen.encode(SENTENCES[:2]))
    assert logits.shape == (2, 2)
    logits.sum().backward()
    assert frozen.heads.classifier.weight.grad is not None
    assert all(p.grad is None for p in frozen.encoder.parameters())
    with pytest.raises(InputError, match="shape"):
        frozen(torch.tensor([[101, 2000, 102]]), torch.tensor([[1, 1]]))
    with pytest.raises(InputError, match="2-D"):
        frozen(torch.tensor([101, 2000, 102]))


def test_bad_paths(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        HFEncoderClassifier(2, missing)
    assert str(missing) in str(info.value)
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"\0")
    with pytest.raises(ModelLoadError, match="is a file"):
        HFEncoderClassifier(2, a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json") as info:
        HFEncoderClassifier(2, empty)
    assert str(empty) in str(info.value)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ModelLoadError, match="cannot load") as info:
        HFEncoderClassifier(2, garbage)
    assert str(garbage) in str(info.value)


def test_bad_options():
    with pytest.raises(ConfigError, match="pooling"):
        HFEncoderClassifier(2, pooling="max")
    with pytest.raises(ConfigError, match="n_classes"):
        HFEncoderClassifier(0)


def _tiny_bert(folder, **config_overrides):
    """A small randomly initialised BERT saved to ``folder`` with MiniLM's tokenizer files (a real model)."""
    import shutil

    from transformers import BertConfig, BertModel

    from textsmooth.sequence.encoder import default_model_path

    source = default_model_path()
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    for key, value in config_overrides.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(source / name, folder / name)
    return folder


def test_other_local_encoder_and_a_decoder(tmp_path):
    tiny = HFEncoderClassifier(4, _tiny_bert(tmp_path / "tiny"), max_length=16).eval()
    assert tiny.hidden_size == 32 and tiny.get_config()["model_path"] == str(tmp_path / "tiny")
    with torch.no_grad():
        assert tiny(*tiny.encode(SENTENCES)).shape == (3, 4)
    decoder = _tiny_bert(tmp_path / "decoder", is_decoder=True)
    with pytest.raises(ModelLoadError, match="decoder") as info:
        HFEncoderClassifier(2, decoder)
    assert str(decoder) in str(info.value)
