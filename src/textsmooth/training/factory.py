"""Build a reference model and the featurizer that turns texts into its input tensors."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from textsmooth.training.config import TrainConfig

__all__ = ["Featurizer", "build_model"]

Featurizer = Callable[[list[str]], dict[str, Tensor]]


def build_model(
    config: TrainConfig, train_texts: list[str], n_classes: int, *, aux_head: bool = False
) -> tuple[nn.Module, Featurizer]:
    """``(model, featurizer)`` for ``config.model``.

    ``textcnn`` and ``bilstm`` get a word vocabulary built from the training texts only
    (``min_freq``, ``max_vocab``); ``minilm`` fine-tunes the Hugging Face encoder at ``model_path``
    (default: the offline all-MiniLM-L6-v2) with its own tokenizer. The featurizer returns
    ``{"input_ids", "attention_mask"}`` truncated to ``max_length`` tokens.
    """
    from textsmooth.models import BiLSTM, HFEncoderClassifier, TextCNN, WordVocab

    if config.model == "minilm":
        model = HFEncoderClassifier(
            n_classes, config.model_path, aux_head=aux_head, max_length=config.max_length
        )
        encode = model.encode
    else:
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
        encode = vocab.encode

    def featurize(texts: list[str]) -> dict[str, Tensor]:
        input_ids, attention_mask = encode(texts, config.max_length)
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    return model, featurize
