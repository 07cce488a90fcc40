"""Sentence representations from a trained encoder-decoder, for probing (:mod:`textsmooth.metrics.probing`).

An :class:`~textsmooth.seq2seq.lstm.LSTMSeq2SeqModel` gives its bottleneck vector ``z`` (the state the
decoder starts from); any other Hugging Face encoder-decoder gives the mean of its encoder states over
the real tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["encode_sentences"]


def encode_sentences(
    model: Any, vocab: Any, texts: Sequence[str], *, max_length: int = 128, batch_size: int = 128
) -> np.ndarray:
    """``(len(texts), d)`` float32 representations of ``texts`` (module docstring), in eval mode."""
    import torch

    from textsmooth.seq2seq.collate import pad_sequences

    ids = vocab.encode_sources(list(texts), max_length)
    rows: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for start in range(0, len(ids), batch_size):
                batch = ids[start : start + batch_size]
                input_ids = pad_sequences(batch, vocab.pad_id).to(device)
                mask = pad_sequences([[1] * len(b) for b in batch], 0).to(device)
                if hasattr(model, "encode_sentences"):
                    vectors = model.encode_sentences(input_ids, mask)
                else:
                    hidden = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
                    weights = mask.unsqueeze(-1).to(hidden.dtype)
                    vectors = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
                rows.append(vectors.float().cpu().numpy())
    finally:
        model.train(was_training)
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(rows).astype(np.float32, copy=False)
