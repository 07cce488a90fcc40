"""Hugging Face integration: soft labels in a ``datasets.Dataset``, a collator, and a ``Trainer``.

* :func:`attach_soft_labels` adds a ``soft_labels`` column (one list of ``C`` floats per row).
* :class:`SoftLabelCollator` pads the tokenised inputs with the tokenizer and stacks the soft labels
  into a float tensor.
* :class:`SoftLabelTrainer` is a ``transformers.Trainer`` whose ``compute_loss`` applies a textsmooth
  :class:`~textsmooth.training.objectives.Objective` (any method: LS-Classic, confidence penalty, KWLS
  eq. 9 / two-head / mixture ...) to the model's logits, the ``labels`` and the ``soft_labels`` of the batch.

Gradient accumulation and DDP: the Trainer counts the labelled items of all accumulated micro-batches
(``num_items_in_batch``, gathered across processes when ``average_tokens_across_devices``); the loss is
``sum / num_items`` (textsmooth losses' ``num_items``), so it is already scaled for accumulation
(``loss_is_scaled_for_ga`` is true for that step) and multiplied by the number of processes as DDP averages
gradients. A step without a count (a Trainer that passes none) returns the micro-batch mean and says it is
not scaled, so the Trainer divides it by the number of accumulation steps. Single-process multi-GPU
(``DataParallel``) computes the loss once over the gathered logits with the count of the whole batch.

Models: any ``transformers`` model, or a plain ``nn.Module`` whose ``forward`` returns logits (or
``(logits, aux_logits)``), such as :class:`textsmooth.models.HFEncoderClassifier`. For a ``forward``
without a ``labels`` argument the Trainer's ``label_names`` default to ``["labels"]`` (else ``evaluate`` and
``predict`` would pass them to ``forward``), and ``compute_loss`` hands the Trainer a ``{"logits": ...}``
output (else ``predict`` would take a bare tensor for ``(loss, logits)`` and drop its first row).

Example (runs offline; ``examples/hf_trainer_kwls.py`` is the complete script)::

    ds = attach_soft_labels(ds, KeywordSmoother().fit_transform(ds["text"], ds["label"]))
    trainer = SoftLabelTrainer(model=model, args=args, train_dataset=ds.map(tokenize),
                               data_collator=SoftLabelCollator(tokenizer),
                               objective=Objective("kwls", alpha=1.0, kwls_variant="mixture"))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from textsmooth.errors import InputError
from textsmooth.training.objectives import Objective

__all__ = ["SOFT_LABEL_COLUMN", "SoftLabelCollator", "SoftLabelTrainer", "attach_soft_labels"]  # noqa: F822

SOFT_LABEL_COLUMN = "soft_labels"


def attach_soft_labels(dataset: Any, soft: np.ndarray, column: str = SOFT_LABEL_COLUMN) -> Any:
    """Return ``dataset`` with a column of soft labels (rows aligned with the dataset's rows).

    Raises:
        InputError: the number of rows differs, or rows are not distributions.
    """
    soft = np.asarray(soft, dtype=np.float32)
    if soft.ndim != 2 or soft.shape[0] != len(dataset):
        raise InputError(f"soft labels have shape {soft.shape}, the dataset has {len(dataset)} rows")
    bad = np.flatnonzero(~np.isfinite(soft).all(axis=1) | (np.abs(soft.sum(axis=1) - 1) > 1e-4))
    if bad.size:
        raise InputError("soft label is not a distribution", row=int(bad[0]) + 1, column=column)
    if column in dataset.column_names:
        dataset = dataset.remove_columns(column)
    return dataset.add_column(column, soft.tolist())


class SoftLabelCollator:
    """Pad with the tokenizer (``DataCollatorWithPadding``) and stack ``soft_labels`` as float32."""

    def __init__(self, tokenizer: Any, column: str = SOFT_LABEL_COLUMN, **padding_kwargs: Any) -> None:
        from textsmooth._extras import require

        require("transformers", extra="hf", feature="SoftLabelCollator")
        from transformers import DataCollatorWithPadding

        self.column = column
        self.pad = DataCollatorWithPadding(tokenizer, **padding_kwargs)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        soft = [f.pop(self.column) for f in features if self.column in f]
        batch = self.pad(features)
        if soft:
            if len(soft) != len(features):
                raise InputError(f"some rows of the batch lack the {self.column!r} column")
            batch[self.column] = torch.tensor(np.asarray(soft, dtype=np.float32))
        return batch


def _logits(outputs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if hasattr(outputs, "logits"):
        return outputs.logits, getattr(outputs, "aux_logits", None)
    if isinstance(outputs, tuple):
        return outputs[0], outputs[1] if len(outputs) > 1 else None
    return outputs, None


def _trainer_class() -> type:
    from textsmooth._extras import require

    for module in ("transformers", "accelerate"):  # transformers' Trainer needs accelerate
        require(module, extra="hf", feature="SoftLabelTrainer")
    from transformers import Trainer

    class SoftLabelTrainer(Trainer):
        """``transformers.Trainer`` with a textsmooth objective (see the module docstring).

        Args:
            objective: the :class:`Objective` (method and hyper-parameters).
            *args, **kwargs: as ``transformers.Trainer``.
        """

        loss_is_scaled_for_ga = True

        def __init__(self, *args: Any, objective: Objective, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.objective = objective
            # our compute_loss consumes num_items_in_batch, so let the Trainer count it
            self.model_accepts_loss_kwargs = True
            if not self.label_names:  # a forward without `labels` (textsmooth models): compute_loss has them
                self.label_names = ["labels"]

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            for column in ("labels", SOFT_LABEL_COLUMN):  # consumed by compute_loss, not by forward
                if column not in self._signature_columns:
                    self._signature_columns.append(column)

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            num_items_in_batch = count_for_gathered_batch(self.args, num_items_in_batch)
            labels = inputs.pop("labels")
            soft = inputs.pop(SOFT_LABEL_COLUMN, None)
            outputs = model(**inputs)
            logits, aux = _logits(outputs)
            if soft is None and self.objective.needs_soft_labels and not model.training:
                # evaluation data carries no soft labels: report the plain NLL
                loss = Objective("none")(logits, labels, num_items=num_items_in_batch).loss
            else:
                loss = self.objective(logits, labels, soft, aux, num_items=num_items_in_batch).loss
            # read by training_step right after this call: sum / num_items is already scaled for accumulation
            self.loss_is_scaled_for_ga = num_items_in_batch is not None
            if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                # DDP averages gradients over processes; tensor-parallel ranks share a batch (as the Trainer)
                tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
                loss = loss * max(self.accelerator.num_processes // tp_size, 1)
            if return_outputs and not isinstance(outputs, dict):
                # prediction_step takes a non-dict output as (loss, logits...) and drops its first element:
                # a plain logits tensor (textsmooth's models) would lose its first row
                outputs = {"logits": logits} if aux is None else {"logits": logits, "aux_logits": aux}
            return (loss, outputs) if return_outputs else loss

    return SoftLabelTrainer


def count_for_gathered_batch(args: Any, num_items: Any) -> Any:
    """The count of the whole batch under ``DataParallel`` (``n_gpu > 1``).

    The Trainer hands every replica a copy of ``num_items_in_batch`` (divided by ``n_gpu`` unless
    ``args.average_tokens_across_devices``), but a loss computed on the gathered outputs of all replicas
    (this module's logits, or :mod:`textsmooth.seq2seq.hf`'s whole batch) needs the count of the whole
    batch: exact up to that division's remainder. Any other count is returned as it is.
    """
    if not torch.is_tensor(num_items) or num_items.dim() == 0:
        return num_items
    num_items = num_items.reshape(-1)[0]
    if not args.average_tokens_across_devices:
        num_items = num_items * args.n_gpu
    return num_items


def __getattr__(name: str) -> Any:
    # Build the Trainer subclass on first use, so importing this module does not import transformers.
    if name == "SoftLabelTrainer":
        cls = _trainer_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
