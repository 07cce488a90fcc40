"""Losses for label smoothing that knows language: functions first, thin ``nn.Module`` wrappers.

Every function takes logits with the class dimension last, ``ignore_index``, ``reduction`` in
``"mean" | "sum" | "none"``, ``num_items`` (the ``mean`` denominator for gradient accumulation),
``return_nll`` (also return the plain NLL of the gold labels, see :class:`LossOutput`) and ``validate``.
Formulas and paper equations are in each docstring and in ``docs/losses.md``.
"""

from textsmooth.losses._common import LossOutput, Reduction
from textsmooth.losses.confidence_penalty import ConfidencePenalty, confidence_penalty
from textsmooth.losses.distillation import DistillationLoss, distillation_loss
from textsmooth.losses.fused_linear import FusedLinearCrossEntropy, fused_linear_cross_entropy
from textsmooth.losses.kwls import KWLSLoss, KWLSVariant, kwls_loss
from textsmooth.losses.sequence import SequenceSmoothedNLL, sequence_smoothed_nll
from textsmooth.losses.similarity import (
    SimilaritySoftLabelLoss,
    WeightedCrossEntropy,
    WeightedSimilarityLoss,
    similarity_soft_label_loss,
    stopword_mask,
    weighted_cross_entropy,
    weighted_similarity_loss,
)
from textsmooth.losses.smoothed_ce import SmoothedCrossEntropy, smoothed_cross_entropy
from textsmooth.losses.soft_target import (
    SoftTargetCrossEntropy,
    SparseSoftTargetCrossEntropy,
    soft_target_cross_entropy,
    sparse_soft_target_cross_entropy,
)

__all__ = [
    "ConfidencePenalty",
    "DistillationLoss",
    "FusedLinearCrossEntropy",
    "KWLSLoss",
    "KWLSVariant",
    "LossOutput",
    "Reduction",
    "SequenceSmoothedNLL",
    "SimilaritySoftLabelLoss",
    "SmoothedCrossEntropy",
    "SoftTargetCrossEntropy",
    "SparseSoftTargetCrossEntropy",
    "WeightedCrossEntropy",
    "WeightedSimilarityLoss",
    "confidence_penalty",
    "distillation_loss",
    "fused_linear_cross_entropy",
    "kwls_loss",
    "sequence_smoothed_nll",
    "similarity_soft_label_loss",
    "smoothed_cross_entropy",
    "soft_target_cross_entropy",
    "sparse_soft_target_cross_entropy",
    "stopword_mask",
    "weighted_cross_entropy",
    "weighted_similarity_loss",
]
