"""TextCNN and BiLSTM: shapes, padding invariance, plain-loop references, gradients, heads, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textsmooth.errors import ConfigError, InputError
from textsmooth.models import BiLSTM, TextCNN, WordVocab, split_logits

VOCAB_SIZE = 40
SMALL = {"embedding_dim": 12}


def make(kind: str, **kwargs):
    torch.manual_seed(0)
    if kind == "textcnn":
        return TextCNN(VOCAB_SIZE, 3, padding_idx=0, n_filters=5, **SMALL, **kwargs)
    pooling = kind.split("-")[1]
    return BiLSTM(VOCAB_SIZE, 3, padding_idx=0, hidden_size=7, pooling=pooling, **SMALL, **kwargs)


KINDS = ["textcnn", "bilstm-mean", "bilstm-max", "bilstm-last"]


def batch(lengths, width=None, seed=1):
    gen = torch.Generator().manual_seed(seed)
    width = width or max(lengths)
    ids = torch.randint(2, VOCAB_SIZE, (len(lengths), width), generator=gen)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_aux_head(kind):
    ids, mask = batch([6, 3, 1, 9])
    model = make(kind).eval()
    assert model(ids, mask).shape == (4, 3)
    assert model.features(ids, mask).shape == (4, model.n_features)
    two = make(kind, aux_head=True, n_aux_classes=5).eval()
    logits, aux = two(ids, mask)
    assert logits.shape == (4, 3) and aux.shape == (4, 5)
    # the aux head shares the features and does not change the main logits' computation
    assert torch.allclose(logits, two.heads.classifier(two.features(ids, mask)))
    assert (two.heads.n_classes, two.heads.n_aux_classes) == (3, 5)
    assert (model.heads.n_classes, model.heads.n_aux_classes) == (3, None)
    main, extra = split_logits(two(ids, mask))
    assert torch.equal(main, logits) and torch.equal(extra, aux)
    main, extra = split_logits(model(ids, mask))
    assert main.shape == (4, 3) and extra is None


@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_changes_the_output(kind):
    ids, mask = batch([7, 2, 4, 1])
    model = make(kind).eval()
    with torch.no_grad():
        base = model(ids, mask)
        wider_ids = F.pad(ids, (0, 6), value=0)
        wider_mask = F.pad(mask, (0, 6), value=0)
        assert torch.allclose(model(wider_ids, wider_mask), base, atol=1e-6)
        # whatever ids sit under a zero mask are ignored
        noisy = torch.where(wider_mask.bool(), wider_ids, torch.randint(0, VOCAB_SIZE, wider_ids.shape))
        assert torch.allclose(model(noisy, wider_mask), base, atol=1e-6)
        # each row alone (no padding at all) gives the same logits as in the batch
        for row, length in enumerate([7, 2, 4, 1]):
            alone = model(ids[row : row + 1, :length], mask[row : row + 1, :length])
            assert torch.allclose(alone, base[row : row + 1], atol=1e-6)
        # attention_mask=None derives the mask from padding_idx
        assert torch.allclose(model(ids), base, atol=1e-6)


def test_textcnn_matches_plain_loop_reference():
    model = make("textcnn", filter_sizes=(2, 3, 5)).eval()
    ids, mask = batch([8, 4, 3, 1], width=10)
    with torch.no_grad():
        features = model.features(ids, mask)
        for row, length in enumerate([8, 4, 3, 1]):
            vectors = model.embedding(ids[row, :length])  # (length, dim)
            expected = []
            for h, conv in zip(model.filter_sizes, model.convs, strict=True):
                if length < h:  # one window: the text, then zero vectors
                    vectors_h = torch.cat([vectors, torch.zeros(h - length, vectors.shape[1])])
                else:
                    vectors_h = vectors
                maps = []
                for t in range(max(length - h + 1, 1)):
                    window = vectors_h[t : t + h].T  # (dim, h)
                    maps.append(F.relu((conv.weight * window).sum(dim=(1, 2)) + conv.bias))
                expected.append(torch.stack(maps).max(dim=0).values)
            assert torch.allclose(features[row], torch.cat(expected), atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_bilstm_matches_unpacked_reference(pooling):
    model = make(f"bilstm-{pooling}", num_layers=2).eval()
    ids, mask = batch([5, 2, 8])
    hidden = model.lstm.hidden_size
    with torch.no_grad():
        features = model.features(ids, mask)
        for row, length in enumerate([5, 2, 8]):
            out, _ = model.lstm(model.embedding(ids[row : row + 1, :length]))  # no padding, no packing
            out = out[0]
            if pooling == "mean":
                expected = out.mean(dim=0)
            elif pooling == "max":
                expected = out.max(dim=0).values
            else:
                expected = torch.cat([out[-1, :hidden], out[0, hidden:]])
            assert torch.allclose(features[row], expected, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_flow(kind):
    model = make(kind, aux_head=True).train()
    ids, mask = batch([6, 3, 2])
    logits, aux = model(ids, mask)
    loss = F.cross_entropy(logits, torch.tensor([0, 1, 2])) + aux.square().mean()
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        if name != "embedding.weight":
            assert param.grad.abs().sum() > 0, name
    grad = model.embedding.weight.grad
    assert grad[0].abs().sum() == 0  # padding row never learns
    assert grad[ids[0, 0]].abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_empty_rows_and_short_inputs(kind):
    model = make(kind).eval()
    ids = torch.tensor([[5, 6], [0, 0]])
    with torch.no_grad():
        out = model(ids, ids != 0)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    with torch.no_grad():  # an all-padding row scores like a zero text vector: the output bias
        assert torch.allclose(out[1], model.heads.classifier.bias)


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_only_in_training(kind):
    model = make(kind)
    ids, mask = batch([6, 6])
    model.train()
    assert not torch.allclose(model(ids, mask), model(ids, mask))
    model.eval()
    assert torch.equal(model(ids, mask), model(ids, mask))


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip(kind):
    model = make(kind, aux_head=True).eval()
    cls = type(model)
    clone = cls(**model.get_config())
    clone.load_state_dict(model.state_dict())
    clone.eval()
    ids, mask = batch([4, 2])
    with torch.no_grad():
        for a, b in zip(model(ids, mask), clone(ids, mask), strict=True):
            assert torch.equal(a, b)


def test_pretrained_embeddings():
    weights = torch.randn(VOCAB_SIZE, 12)
    weights[0] = 0
    frozen = TextCNN(
        VOCAB_SIZE, 2, padding_idx=0, embedding_dim=12, embeddings=weights, freeze_embeddings=True
    )
    assert torch.equal(frozen.embedding.weight, weights) and not frozen.embedding.weight.requires_grad
    trained = BiLSTM(VOCAB_SIZE, 2, padding_idx=0, embedding_dim=12, embeddings=weights.numpy())
    assert trained.embedding.weight.requires_grad
    with pytest.raises(InputError, match="embeddings has shape"):
        TextCNN(VOCAB_SIZE, 2, padding_idx=0, embedding_dim=10, embeddings=weights)


def test_end_to_end_with_vocab():
    texts = ["a good fun film", "a dull bad film", "good", ""]
    vocab = WordVocab.build(texts)
    torch.manual_seed(0)
    for model in (
        TextCNN(len(vocab), 2, padding_idx=vocab.pad_id, embedding_dim=8, n_filters=3),
        BiLSTM(len(vocab), 2, padding_idx=vocab.pad_id, embedding_dim=8, hidden_size=4),
    ):
        model.eval()
        short = model(*vocab.encode(texts))
        fixed = model(*vocab.encode(texts, max_length=12, padding="max_length"))
        assert torch.allclose(short, fixed, atol=1e-6)


@pytest.mark.parametrize("cls", [TextCNN, BiLSTM])
def test_bad_arguments(cls):
    with pytest.raises(TypeError):
        cls(VOCAB_SIZE, 2)  # padding_idx has no default
    with pytest.raises(ConfigError, match="padding_idx is required"):
        cls(VOCAB_SIZE, 2, padding_idx=None)
    with pytest.raises(ConfigError, match="padding_idx must be"):
        cls(VOCAB_SIZE, 2, padding_idx=VOCAB_SIZE)
    with pytest.raises(ConfigError, match="n_classes"):
        cls(VOCAB_SIZE, 0, padding_idx=0)
    with pytest.raises(ConfigError, match="dropout"):
        cls(VOCAB_SIZE, 2, padding_idx=0, dropout=1.0)
    model = cls(VOCAB_SIZE, 2, padding_idx=0, embedding_dim=8)
    with pytest.raises(InputError, match="right-padded"):
        model(torch.tensor([[3, 4, 5]]), torch.tensor([[0, 1, 1]]))
    with pytest.raises(InputError, match="shape"):
        model(torch.tensor([[3, 4, 5]]), torch.tensor([[1, 1]]))
    with pytest.raises(InputError, match="2-D"):
        model(torch.tensor([3, 4, 5]))
    with pytest.raises(InputError, match="integer"):
        model(torch.tensor([[3.0, 4.0]]))


def test_model_specific_options():
    with pytest.raises(ConfigError, match="filter_sizes"):
        TextCNN(VOCAB_SIZE, 2, padding_idx=0, filter_sizes=())
    with pytest.raises(ConfigError, match="filter_sizes"):
        TextCNN(VOCAB_SIZE, 2, padding_idx=0, filter_sizes=(3, 0))
    with pytest.raises(ConfigError, match="pooling"):
        BiLSTM(VOCAB_SIZE, 2, padding_idx=0, pooling="attention")
    kim = TextCNN(VOCAB_SIZE, 2, padding_idx=0)
    assert kim.filter_sizes == (3, 4, 5) and kim.n_features == 300 and kim.heads.dropout.p == 0.5
    assert kim.embedding.embedding_dim == 300


def test_textcnn_max_norm_constraint():
    model = make("textcnn", aux_head=True)
    with torch.no_grad():
        model.heads.classifier.weight.mul_(100)
        model.heads.aux_classifier.weight.mul_(100)
        model.heads.classifier.weight[0] = 0.01  # already inside the ball: left as is
    kept = model.heads.classifier.weight[0].clone()
    model.apply_max_norm(3.0)
    for head in (model.heads.classifier, model.heads.aux_classifier):
        norms = head.weight.norm(dim=1)
        assert torch.all(norms <= 3.0 + 1e-5)
    assert torch.allclose(model.heads.classifier.weight[1].norm(), torch.tensor(3.0), atol=1e-5)
    assert torch.equal(model.heads.classifier.weight[0], kept)
    with pytest.raises(ConfigError, match="max_norm"):
        model.apply_max_norm(0)
