"""The training objective of sequence-level smoothing on a Hugging Face encoder-decoder: loss (2).

Per example ``b`` with source ``x``, gold target ``y`` and related targets ``R(y)`` (Lukasik et al. 2020,
"Semantic label smoothing for sequence to sequence problems", loss (2))::

    loss_b = -log p(y | x) + alpha / |R(y)| * sum_{y' in R(y)} -log p(y' | x)

where ``-log p(y | x) = sum_t -log p(y_t | y_<t, x)`` is summed over the target's tokens (teacher forcing).
With token label smoothing ``eps > 0`` every token term is the smoothed cross-entropy instead
(``F.cross_entropy(..., label_smoothing=eps)``, summed over tokens), on the gold and the related targets.

:func:`seq2seq_loss` runs the encoder **once** per source and reuses its states for the gold target and
for each related target (repeated along the batch by an index, not re-encoded), then scores the related
sequences in one decoder pass over the real (unpadded) entries of ``related_mask``.

Word-similarity token targets (:class:`TokenSimilarity`, the similarity-based reconstruction loss
poster) replace the token cross-entropy of every decoder pass with one of the poster's losses; the
sequence terms are still summed over tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from textsmooth.errors import InputError
from textsmooth.losses import LossOutput, NumItems, sequence_smoothed_nll, smoothed_cross_entropy

__all__ = ["TokenSimilarity", "decoder_sequence_nll", "seq2seq_loss"]


@dataclass(frozen=True)
class TokenSimilarity:
    """Word-similarity token targets (the reconstruction-loss poster's losses) for every decoder pass.

    Attributes:
        method: ``similarity-soft`` (cross-entropy to the normalised top-N row of the gold token),
            ``weighted-similarity`` (``-sum_k s_k p[idx_k]``) or ``weighted-ce``
            (``-sum_k s_k log p[idx_k]``).
        neighbors, weights: ``(V, N)`` tensors of a :class:`~textsmooth.similarity.SimilarityTable` over
            the target vocabulary (:meth:`~textsmooth.similarity.SimilarityTable.as_tensors`).
    """

    method: str
    neighbors: Tensor
    weights: Tensor


def _token_losses(
    logits: Tensor, labels: Tensor, label_smoothing: float, similarity: TokenSimilarity | None = None
) -> tuple[Tensor, Tensor]:
    """Per-sequence sums of the token losses and of the plain token NLL: ``(N,)`` each.

    The token loss is the (smoothed) cross-entropy, or with ``similarity`` the word-similarity loss of its
    method (``textsmooth.losses.similarity``). Logits of a lower precision (``torch.autocast`` to bfloat16
    or float16) are cast to float32 first: a log-sum-exp over 8k classes in bfloat16 loses about 2 digits.
    """
    if logits.dtype in (torch.bfloat16, torch.float16):
        logits = logits.float()
    if similarity is None:
        out = smoothed_cross_entropy(logits, labels, label_smoothing, reduction="none", validate=False)
        assert out.nll is not None
        return out.loss.sum(dim=-1), out.nll.sum(dim=-1)
    from textsmooth.losses import similarity_soft_label_loss, weighted_cross_entropy, weighted_similarity_loss

    function = {
        "similarity-soft": similarity_soft_label_loss,
        "weighted-similarity": weighted_similarity_loss,
        "weighted-ce": weighted_cross_entropy,
    }[similarity.method]
    out = function(logits, labels, similarity.neighbors, similarity.weights, reduction="none", validate=False)
    nll = smoothed_cross_entropy(logits.detach(), labels, 0.0, reduction="none", validate=False).loss
    return out.loss.sum(dim=-1), nll.sum(dim=-1)


def decoder_sequence_nll(
    model: Any,
    encoder_hidden: Tensor,
    attention_mask: Tensor,
    labels: Tensor,
    *,
    label_smoothing: float = 0.0,
    similarity: TokenSimilarity | None = None,
) -> tuple[Tensor, Tensor]:
    """Teacher-forced sequence losses of ``labels`` given encoder states.

    Args:
        model: a Hugging Face encoder-decoder (``prepare_decoder_input_ids_from_labels`` and
            ``encoder_outputs=`` in ``forward``: Marian, BART, T5, mBART ...).
        encoder_hidden: ``(N, S, d)`` encoder states, one row per sequence to score.
        attention_mask: ``(N, S)`` source mask.
        labels: ``(N, T)`` target ids, ``-100`` at padding.
        label_smoothing: token label smoothing epsilon.
        similarity: word-similarity token targets instead of (smoothed) cross-entropy.

    Returns:
        ``(loss, nll)``, both ``(N,)``: the sums over tokens of the smoothed token loss (equal to ``nll``
        when ``label_smoothing`` is 0) and of the plain token NLL (detached).
    """
    from transformers.modeling_outputs import BaseModelOutput

    decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels=labels)
    outputs = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
        attention_mask=attention_mask,
        decoder_input_ids=decoder_input_ids,
        use_cache=False,
    )
    return _token_losses(outputs.logits, labels, label_smoothing, similarity)


def seq2seq_loss(
    model: Any,
    inputs: Mapping[str, Tensor],
    *,
    alpha: float = 0.0,
    label_smoothing: float = 0.0,
    num_items: NumItems = None,
    similarity: TokenSimilarity | None = None,
) -> LossOutput:
    """Loss (2) of a batch from :class:`~textsmooth.seq2seq.collate.Seq2SeqCollator` (module docstring).

    Args:
        model: a Hugging Face encoder-decoder.
        inputs: ``input_ids``, ``attention_mask``, ``labels`` and optionally ``related_labels``
            ``(B, K, T')`` with ``related_mask`` ``(B, K)``.
        alpha: weight of the related targets (0 or no related targets: the sequence NLL alone).
        label_smoothing: token label smoothing on every decoder pass.
        num_items: the denominator of the sum of ``loss_b`` (examples or tokens of an accumulation
            window); ``None``: the mean over the batch's examples.
        similarity: word-similarity token targets (:class:`TokenSimilarity`) in place of the token
            cross-entropy on every decoder pass.

    Returns:
        :class:`~textsmooth.losses.LossOutput`: ``loss`` to train on; ``nll`` the gold sequences' NLL
        reduced the same way (detached).
    """
    for key in ("input_ids", "attention_mask", "labels"):
        if key not in inputs:
            raise InputError(f"the batch has no {key!r}", column=key)
    attention_mask = inputs["attention_mask"]
    encoder = model.get_encoder()
    encoder_hidden = encoder(input_ids=inputs["input_ids"], attention_mask=attention_mask).last_hidden_state
    gold_loss, gold_nll = decoder_sequence_nll(
        model,
        encoder_hidden,
        attention_mask,
        inputs["labels"],
        label_smoothing=label_smoothing,
        similarity=similarity,
    )
    B = gold_loss.shape[0]
    related_labels = inputs.get("related_labels")
    related_mask = inputs.get("related_mask")
    if related_labels is None or related_mask is None or alpha == 0 or not bool(related_mask.any()):
        related_loss = gold_loss.new_zeros((B, 0))
        related_mask = torch.zeros((B, 0), dtype=torch.bool, device=gold_loss.device)
    else:
        if related_labels.dim() != 3 or related_labels.shape[:2] != related_mask.shape:
            raise InputError(
                f"related_labels {tuple(related_labels.shape)} and related_mask {tuple(related_mask.shape)} "
                "must be (B, K, T) and (B, K)",
                column="related_labels",
            )
        rows, slots = related_mask.nonzero(as_tuple=True)  # the real related sequences only
        seq_loss, _ = decoder_sequence_nll(
            model,
            encoder_hidden.index_select(0, rows),  # the encoder ran once; its states are reused
            attention_mask.index_select(0, rows),
            related_labels[rows, slots],
            label_smoothing=label_smoothing,
            similarity=similarity,
        )
        related_loss = gold_loss.new_zeros(related_mask.shape).index_put((rows, slots), seq_loss)
    reduction = "mean" if num_items is not None else "none"
    out = sequence_smoothed_nll(
        gold_loss, related_loss, related_mask, float(alpha), reduction, num_items=num_items, validate=False
    )
    if num_items is None:  # the mean over examples
        return LossOutput(out.loss.mean(), gold_nll.mean())
    assert out.nll is not None
    nll = gold_nll.sum() / (num_items if isinstance(num_items, Tensor) else float(num_items))
    return LossOutput(out.loss, nll.detach())
