"""Build a reference model and the featurizer that turns texts into its input tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor, nn

from textsmooth.training.config import TrainConfig

__all__ = ["Featurizer", "TextFeaturizer", "build_model"]

Featurizer = Callable[[list[str]], dict[str, Tensor]]


class TextFeaturizer:
    """Texts -> ``{"input_ids", "attention_mask"}``, truncated to ``max_length`` tokens, right-padded.

    Args:
        encoder: an object with ``encode(texts, max_length) -> (input_ids, attention_mask)``: a
            :class:`~textsmooth.models.WordVocab` (TextCNN, BiLSTM) or an
            :class:`~textsmooth.models.HFEncoderClassifier` (its own tokenizer).
        max_length: tokens kept per text.

    ``vocab`` is the word vocabulary (``None`` for a Hugging Face model), which a saved model folder needs.
    """

    def __init__(self, encoder: Any, max_length: int) -> None:
        from textsmooth.models import WordVocab

        self.encoder = encoder
        self.max_length = int(max_length)
        self.vocab: WordVocab | None = encoder if isinstance(encoder, WordVocab) else None

    def __call__(self, texts: Sequence[str]) -> dict[str, Tensor]:
        input_ids, attention_mask = self.encoder.encode(list(texts), self.max_length)
        return {"input_ids": input_ids, "attention_mask": attention_mask}


def build_model(
    config: TrainConfig, train_texts: list[str], n_classes: int, *, aux_head: bool = False
) -> tuple[nn.Module, TextFeaturizer]:
    """``(model, featurizer)`` for ``config.model``.

    ``textcnn`` and ``bilstm`` get a word vocabulary built from the training texts only
    (``min_freq``, ``max_vocab``); ``minilm`` fine-tunes the Hugging Face encoder at ``model_path``
    (default: the offline all-MiniLM-L6-v2) with its own tokenizer. The featurizer returns
    ``{"input_ids", "attention_mask"}`` truncated to ``max_length`` tokens.
    """
    from textsmooth.models import BiLSTM, HFEncoderClassifier, TextCNN, WordVocab

    if config.model == "minilm":
        model: nn.Module = HFEncoderClassifier(
            n_classes, config.model_path, aux_head=aux_head, max_length=config.max_length
        )
        return model, TextFeaturizer(model, config.max_length)
    vocab = WordVocab.build(train_texts, min_freq=config.min_freq, max_size=config.max_vocab)
    common = {
        "padding_idx": vocab.pad_id,
        "embedding_dim": config.embed_dim,
        "aux_head": aux_head,
    }
    if config.model == "textcnn":
        model = TextCNN(len(vocab), n_classes, n_filters=config.n_filters, **common)
    else:
        model = BiLSTM(len(vocab), n_classes, hidden_size=config.hidden_dim, **common)
    return model, TextFeaturizer(vocab, config.max_length)
