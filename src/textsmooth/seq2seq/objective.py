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

With ``output_chunk_size`` the output projection is fused with the token loss
(:func:`~textsmooth.losses.fused_linear_cross_entropy`): the decoder's hidden states go through the
model's output layer ``output_chunk_size`` positions at a time and the ``(sequences, T, V)`` logits are
never held, which is what limits the batch size or ``m`` with a large vocabulary on a GPU. Loss (2) is
then a weighted sum over token positions (gold tokens ``1``, the tokens of a related target of example
``b`` ``alpha / |R(y_b)|``, all over the batch's denominator), passed as the fused loss's ``row_weight``.
It needs a model whose logits are ``lm_head(decoder states) + final_logits_bias`` (Marian, BART, mBART,
Pegasus), ``lm_head(decoder states)`` (M2M100, NLLB) or ``lm_head(d_model ** -0.5 * decoder states)``
(T5: :func:`fused_output_layer`) and the (smoothed) cross-entropy token loss.

The decoder's inputs are the labels shifted right (:func:`decoder_input_ids`): the model's own
``prepare_decoder_input_ids_from_labels`` where it has one (mBART's rotates the language code to the
front), else the shift its ``forward`` applies to ``labels`` (M2M100, NLLB, Blenderbot).

Word-similarity token targets (:class:`TokenSimilarity`, the similarity-based reconstruction loss
poster) replace the token cross-entropy of every decoder pass with one of the poster's losses; the
sequence terms are still summed over tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from textsmooth.errors import ConfigError, InputError
from textsmooth.losses import LossOutput, NumItems, sequence_smoothed_nll, smoothed_cross_entropy

__all__ = [
    "PLAIN_LM_HEAD_MODELS",
    "SCALED_STATE_MODELS",
    "FusedOutputLayer",
    "TokenSimilarity",
    "decoder_input_ids",
    "decoder_sequence_nll",
    "fused_output_layer",
    "seq2seq_loss",
]


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


def decoder_input_ids(model: Any, labels: Tensor) -> Tensor:
    """The teacher-forced decoder inputs of ``labels`` ``(N, T)`` (``-100`` at padding).

    ``model.prepare_decoder_input_ids_from_labels(labels=labels)`` where the model has it (Marian, BART,
    T5, mBART, our LSTM); else ``labels`` shifted one position right behind
    ``config.decoder_start_token_id``, ``-100`` replaced by ``config.pad_token_id``: what the ``forward``
    of M2M100, NLLB and Blenderbot does with ``labels`` (their ``shift_tokens_right``).

    Raises:
        ConfigError: a model without that method whose configuration lacks the start or padding id.
    """
    prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)
    if prepare is not None:
        return prepare(labels=labels)
    config = getattr(model, "config", None)
    start = getattr(config, "decoder_start_token_id", None)
    pad = getattr(config, "pad_token_id", None)
    if start is None or pad is None:
        raise ConfigError(
            f"{type(model).__name__} has no prepare_decoder_input_ids_from_labels and its configuration "
            "no decoder_start_token_id / pad_token_id to shift the labels with",
            column="model_path",
            hint="set decoder_start_token_id and pad_token_id in the model's config.json",
        )
    shifted = labels.new_full(labels.shape, int(pad))
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = int(start)
    return shifted.masked_fill(shifted == -100, int(pad))


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
        model: a Hugging Face encoder-decoder (``encoder_outputs=`` in ``forward``: Marian, BART, T5,
            mBART, M2M100, NLLB ...); its decoder inputs: :func:`decoder_input_ids`.
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

    outputs = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
        attention_mask=attention_mask,
        decoder_input_ids=decoder_input_ids(model, labels),
        use_cache=False,
    )
    return _token_losses(outputs.logits, labels, label_smoothing, similarity)


PLAIN_LM_HEAD_MODELS = ("M2M100ForConditionalGeneration",)
"""Model classes whose logits are ``lm_head(decoder states)`` and nothing more (NLLB checkpoints are of
this class)."""

SCALED_STATE_MODELS = ("T5ForConditionalGeneration",)
"""Model classes whose logits are ``lm_head(d_model ** -0.5 * decoder states)`` where the config says so
(T5 with tied embeddings, its default), else ``lm_head(decoder states)``."""


class FusedOutputLayer(NamedTuple):
    """The output layer as the fused projection applies it: ``logits = state_scale * states @ weight.T +
    bias``."""

    weight: Tensor
    """``(V, H)``, the model's ``lm_head.weight``."""
    bias: Tensor | None
    """``(V,)`` or ``None``."""
    state_scale: float
    """The factor the model applies to the decoder states before ``lm_head`` (1.0 but for T5)."""


def fused_output_layer(model: Any) -> FusedOutputLayer:
    """The output layer the fused projection applies, read from ``model`` (:class:`FusedOutputLayer`).

    The Marian, BART, mBART, Pegasus and Blenderbot families of ``transformers`` compute
    ``self.lm_head(outputs[0]) + self.final_logits_bias``: the bias is ``final_logits_bias`` (plus
    ``lm_head.bias`` where the layer has one). M2M100 and NLLB (:data:`PLAIN_LM_HEAD_MODELS`) compute
    ``self.lm_head(outputs.last_hidden_state)``: the bias is ``lm_head.bias`` (``None`` there). T5
    (:data:`SCALED_STATE_MODELS`) computes ``self.lm_head(sequence_output * self.model_dim ** -0.5)``
    when ``config.scale_decoder_outputs`` (``tie_word_embeddings`` before transformers 5), else without
    the factor, and has no bias. All take their decoder states from ``model.get_decoder()``.

    Raises:
        ConfigError: another kind of model (the LSTM model has its own layer; mT5 and others are not
            checked here): train it with the model's logits (``output_chunk_size`` ``None``).
    """
    import torch.nn as nn

    name = type(model).__name__
    head = getattr(model, "lm_head", None)
    bias = getattr(model, "final_logits_bias", None)
    decoder = model.get_decoder() if callable(getattr(model, "get_decoder", None)) else None
    plain = name in PLAIN_LM_HEAD_MODELS
    scaled = name in SCALED_STATE_MODELS
    if (
        not isinstance(head, nn.Linear)
        or not isinstance(decoder, nn.Module)
        or not (plain or scaled or isinstance(bias, Tensor))
    ):
        raise ConfigError(
            f"the fused output projection needs a model with lm_head and final_logits_bias (Marian, BART, "
            f"mBART, Pegasus), M2M100 / NLLB or T5, not {name}",
            column="output_chunk_size",
            hint="leave output_chunk_size unset to train on the model's logits",
        )
    if scaled:
        config = model.config
        scale = getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True))
        return FusedOutputLayer(head.weight, head.bias, config.d_model**-0.5 if scale else 1.0)
    if plain:
        return FusedOutputLayer(head.weight, head.bias, 1.0)
    assert isinstance(bias, Tensor)
    full_bias = bias.reshape(-1)
    if head.bias is not None:
        full_bias = full_bias + head.bias
    return FusedOutputLayer(head.weight, full_bias, 1.0)


def _fused_sequence_loss(
    model: Any,
    encoder_hidden: Tensor,
    attention_mask: Tensor,
    labels: Tensor,
    sequence_weight: Tensor,
    *,
    label_smoothing: float,
    chunk_size: int,
) -> LossOutput:
    """``sum_n sequence_weight_n * sum_t loss(n, t)`` through the fused output projection (module
    docstring); ``nll`` the unweighted token NLL summed over every position."""
    from textsmooth.losses import fused_linear_cross_entropy

    layer = fused_output_layer(model)
    states = model.get_decoder()(
        input_ids=decoder_input_ids(model, labels),
        encoder_hidden_states=encoder_hidden,
        encoder_attention_mask=attention_mask,
        use_cache=False,
    ).last_hidden_state
    if layer.state_scale != 1.0:
        states = states * layer.state_scale
    row_weight = sequence_weight.detach()[:, None].expand(labels.shape)
    return fused_linear_cross_entropy(
        states, layer.weight, labels, label_smoothing, bias=layer.bias, row_weight=row_weight,
        reduction="sum", chunk_size=chunk_size, validate=False,
    )  # fmt: skip


def seq2seq_loss(
    model: Any,
    inputs: Mapping[str, Tensor],
    *,
    alpha: float = 0.0,
    label_smoothing: float = 0.0,
    num_items: NumItems = None,
    similarity: TokenSimilarity | None = None,
    output_chunk_size: int | None = None,
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
        output_chunk_size: fuse the output projection with the token loss, this many positions at a
            time (module docstring; Marian / BART-like models, NLLB, T5; not with ``similarity``);
            ``None``: the model's logits.

    Returns:
        :class:`~textsmooth.losses.LossOutput`: ``loss`` to train on; ``nll`` the gold sequences' NLL
        reduced the same way (detached).
    """
    for key in ("input_ids", "attention_mask", "labels"):
        if key not in inputs:
            raise InputError(f"the batch has no {key!r}", column=key)
    if output_chunk_size is not None and similarity is not None:
        raise ConfigError(
            "the fused output projection computes the (smoothed) cross-entropy, not the word-similarity "
            "losses",
            column="output_chunk_size",
        )
    attention_mask = inputs["attention_mask"]
    encoder = model.get_encoder()
    encoder_hidden = encoder(input_ids=inputs["input_ids"], attention_mask=attention_mask).last_hidden_state
    if output_chunk_size is not None:
        return _fused_seq2seq_loss(
            model, inputs, encoder_hidden, alpha, label_smoothing, num_items, output_chunk_size
        )
    gold_loss, gold_nll = decoder_sequence_nll(
        model,
        encoder_hidden,
        attention_mask,
        inputs["labels"],
        label_smoothing=label_smoothing,
        similarity=similarity,
    )
    B = gold_loss.shape[0]
    related = _related_rows(inputs, alpha)
    if related is None:
        related_loss = gold_loss.new_zeros((B, 0))
        related_mask = torch.zeros((B, 0), dtype=torch.bool, device=gold_loss.device)
    else:
        related_labels, rows, slots, _ = related
        related_mask = inputs["related_mask"]
        seq_loss, _ = decoder_sequence_nll(
            model,
            encoder_hidden.index_select(0, rows),  # the encoder ran once; its states are reused
            attention_mask.index_select(0, rows),
            related_labels,
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


def _related_rows(inputs: Mapping[str, Tensor], alpha: float) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """``(labels (R, T'), rows (R,), slots (R,), counts (B,))`` of the batch's real related targets
    (``counts``: ``|R(y_b)|`` per example); ``None`` without any, or with ``alpha`` 0."""
    related_labels = inputs.get("related_labels")
    related_mask = inputs.get("related_mask")
    if related_labels is None or related_mask is None or alpha == 0 or not bool(related_mask.any()):
        return None
    if related_labels.dim() != 3 or related_labels.shape[:2] != related_mask.shape:
        raise InputError(
            f"related_labels {tuple(related_labels.shape)} and related_mask {tuple(related_mask.shape)} "
            "must be (B, K, T) and (B, K)",
            column="related_labels",
        )
    rows, slots = related_mask.nonzero(as_tuple=True)  # the real related sequences only
    return related_labels[rows, slots], rows, slots, related_mask.sum(dim=1)


def _fused_seq2seq_loss(
    model: Any,
    inputs: Mapping[str, Tensor],
    encoder_hidden: Tensor,
    alpha: float,
    label_smoothing: float,
    num_items: NumItems,
    chunk_size: int,
) -> LossOutput:
    """Loss (2) with the fused output projection: gold sequences weighted ``1 / denominator``, a related
    target of example ``b`` ``alpha / |R(y_b)| / denominator`` (the denominator: ``num_items``, else
    the batch's examples)."""
    attention_mask, labels = inputs["attention_mask"], inputs["labels"]
    B = labels.shape[0]
    denominator = (
        torch.tensor(float(B))
        if num_items is None
        else torch.as_tensor(num_items, dtype=torch.float32).detach()
    ).to(device=encoder_hidden.device, dtype=torch.float32)
    gold = _fused_sequence_loss(
        model, encoder_hidden, attention_mask, labels, (1.0 / denominator).expand(B),
        label_smoothing=label_smoothing, chunk_size=chunk_size,
    )  # fmt: skip
    loss = gold.loss
    related = _related_rows(inputs, alpha)
    if related is not None:
        related_labels, rows, _, counts = related
        weight = float(alpha) / counts.index_select(0, rows).to(torch.float32) / denominator
        loss = loss + _fused_sequence_loss(
            model, encoder_hidden.index_select(0, rows), attention_mask.index_select(0, rows),
            related_labels, weight, label_smoothing=label_smoothing, chunk_size=chunk_size,
        ).loss  # fmt: skip
    assert gold.nll is not None
    return LossOutput(loss, (gold.nll / denominator).detach())
