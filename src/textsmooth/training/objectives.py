"""Training objectives: which loss each smoothing method uses, and which soft labels it needs.

| method | soft labels (``textsmooth.targets``) | loss (``textsmooth.losses``) |
|---|---|---|
| ``none`` | — | cross-entropy |
| ``flip`` | — (labels flipped before training) | cross-entropy |
| ``class-weighted`` | — | cross-entropy with class weights ``N / (C * n_c)`` |
| ``classic`` | — | ``smoothed_cross_entropy(epsilon)`` (LS-Classic, closed form) |
| ``prior`` | — | ``smoothed_cross_entropy(epsilon, prior=class frequencies)`` |
| ``confidence-penalty`` | — | ``confidence_penalty(beta)`` |
| ``tfidf`` | ``TfidfSmoother`` | ``kwls_loss(alpha, variant)`` |
| ``kwls`` | ``KeywordSmoother`` | ``kwls_loss(alpha, variant)`` |
| ``distill`` | ``TeacherSmoother`` on a first run's predictions | ``kwls_loss(alpha, variant)`` |

The KWLS paper incorporates every generated soft label "as an auxiliary target" through its eq. (9); we
do the same for LS-TFIDF and LS-Distill so that only the soft labels differ between those three rows.
``kwls_variant`` picks eq. (9) as written (``"eq9"``), the authors' second head (``"two_head"``) or the
cross-entropy to the mixture (``"mixture"``); see :func:`textsmooth.losses.kwls_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast, get_args

import numpy as np
import torch
from torch import Tensor

from textsmooth.errors import ConfigError
from textsmooth.losses import (
    KWLSVariant,
    LossOutput,
    NumItems,
    confidence_penalty,
    kwls_loss,
    smoothed_cross_entropy,
)

__all__ = ["METHODS", "SOFT_LABEL_METHODS", "Objective"]

METHODS = (
    "none",
    "flip",
    "class-weighted",
    "classic",
    "prior",
    "confidence-penalty",
    "tfidf",
    "kwls",
    "distill",
)
SOFT_LABEL_METHODS = ("tfidf", "kwls", "distill")
KWLS_VARIANTS: tuple[str, ...] = get_args(KWLSVariant)  # declared once, by the loss


@dataclass
class Objective:
    """A method's loss with its hyper-parameters and the class statistics it needs.

    Args:
        method: one of :data:`METHODS`.
        epsilon: smoothing mass for ``classic`` and ``prior``.
        alpha: soft-label weight for ``tfidf``, ``kwls``, ``distill``.
        beta: penalty for ``confidence-penalty``.
        kwls_variant: ``"eq9"``, ``"two_head"`` or ``"mixture"``.
        class_counts: training label counts (for ``prior`` and ``class-weighted``).
    """

    method: str = "none"
    epsilon: float = 0.1
    alpha: float = 1.0
    beta: float = 0.1
    kwls_variant: str = "eq9"
    class_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}", hint=f"use one of {', '.join(METHODS)}")
        if self.kwls_variant not in KWLS_VARIANTS:
            raise ConfigError(
                f"unknown kwls_variant {self.kwls_variant!r}", hint=f"use one of {', '.join(KWLS_VARIANTS)}"
            )
        if self.method in ("prior", "class-weighted") and self.class_counts is None:
            raise ConfigError(f"method {self.method!r} needs class_counts")

    @property
    def needs_soft_labels(self) -> bool:
        return self.method in SOFT_LABEL_METHODS

    @property
    def needs_aux_head(self) -> bool:
        return self.needs_soft_labels and self.kwls_variant == "two_head"

    def __call__(
        self,
        logits: Tensor,
        target: Tensor,
        soft: Tensor | None = None,
        aux_logits: Tensor | None = None,
        num_items: NumItems = None,
    ) -> LossOutput:
        """The loss and the plain NLL of a batch (``num_items``: gradient-accumulation denominator)."""
        method = self.method
        if method in ("none", "flip"):
            return smoothed_cross_entropy(logits, target, 0.0, num_items=num_items)
        if method == "class-weighted":
            counts = torch.as_tensor(self.class_counts, dtype=torch.float32, device=logits.device)
            weight = counts.sum() / (len(counts) * counts.clamp_min(1))
            return smoothed_cross_entropy(logits, target, 0.0, weight=weight, num_items=num_items)
        if method == "classic":
            return smoothed_cross_entropy(logits, target, self.epsilon, num_items=num_items)
        if method == "prior":
            counts = torch.as_tensor(self.class_counts, dtype=torch.float32, device=logits.device)
            prior = counts / counts.sum()
            return smoothed_cross_entropy(logits, target, self.epsilon, prior=prior, num_items=num_items)
        if method == "confidence-penalty":
            return confidence_penalty(logits, target, self.beta, num_items=num_items)
        if soft is None:
            raise ConfigError(f"method {method!r} needs soft labels in the batch")
        return kwls_loss(
            logits,
            target,
            soft,
            self.alpha,
            aux_logits if self.kwls_variant == "two_head" else None,
            variant=cast(KWLSVariant, self.kwls_variant),  # checked in __post_init__
            num_items=num_items,
        )
