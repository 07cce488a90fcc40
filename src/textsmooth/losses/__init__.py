"""Losses for label smoothing that knows language: functions first, thin ``nn.Module`` wrappers.

Every function takes logits with the class dimension last, ``ignore_index``, ``reduction`` in
``"mean" | "sum" | "none"``, ``num_items`` (:data:`NumItems`: the ``mean`` denominator for gradient
accumulation) and ``validate``.

The return convention:

* a **function** returns :class:`LossOutput` ``(loss, nll)``: train on ``out.loss``; ``out.nll`` is the
  plain NLL of the gold labels, reduced like the loss and detached (``None`` where a loss has no gold
  label), for perplexity and calibration (fairseq's ``label_smoothed_nll_loss`` returns the same pair);
* a **module** (:class:`LossModule` subclass) stores the hyper-parameters and returns the loss tensor, a
  drop-in for ``torch.nn.CrossEntropyLoss``; ``module.with_nll(...)`` gives the :class:`LossOutput`.

Formulas and paper equations are in each docstring and in ``docs/losses.md``. The kernel's machine-tuned
block sizes are documented there and set with :func:`set_block_elements`.
"""

import textsmooth._extras as _extras

if not _extras.installed("torch"):
    raise _extras.missing("torch", extra="torch", feature="textsmooth.losses")

from textsmooth.losses._common import LossModule, LossOutput, NumItems, Reduction
from textsmooth.losses._kernel import BlockElements, set_block_elements
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
    "BlockElements",
    "ConfidencePenalty",
    "DistillationLoss",
    "FusedLinearCrossEntropy",
    "KWLSLoss",
    "KWLSVariant",
    "LossModule",
    "LossOutput",
    "NumItems",
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
    "set_block_elements",
    "similarity_soft_label_loss",
    "smoothed_cross_entropy",
    "soft_target_cross_entropy",
    "sparse_soft_target_cross_entropy",
    "stopword_mask",
    "weighted_cross_entropy",
    "weighted_similarity_loss",
]
