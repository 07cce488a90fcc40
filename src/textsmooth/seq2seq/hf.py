"""Hugging Face integration for sequence-level smoothing: a ``datasets.Dataset``, a collator, and a
``Seq2SeqTrainer`` whose training loss is loss (2) of the semantic-smoothing paper.

* :func:`seq2seq_dataset` turns a :class:`~textsmooth.seq2seq.data.ParallelCorpus` and a
  :class:`~textsmooth.seq2seq.vocab.SubwordVocab` into a ``datasets.Dataset`` with the columns ``index``
  (the row of the corpus), ``input_ids`` (source ids) and ``labels`` (target ids), both ending in ``</s>``.
* :func:`seq2seq_collator` builds the :class:`~textsmooth.seq2seq.collate.Seq2SeqCollator` that pads a
  batch and attaches, through the ``index`` column, the related target sequences ``R(y)`` of each example
  (``related_labels`` ``(B, K, T')`` and ``related_mask`` ``(B, K)``) from a
  :class:`~textsmooth.sequence.NeighborTable` (semantic neighbours, token swaps) or the other targets of
  the batch (within-batch).
* :class:`SemanticSeq2SeqTrainer` is a ``transformers.Seq2SeqTrainer`` whose training ``compute_loss`` is
  :func:`~textsmooth.seq2seq.objective.seq2seq_loss`: per example ``b``, with sequence NLLs summed over
  tokens (Lukasik et al. 2020, "Semantic label smoothing for sequence to sequence problems", loss (2))::

      loss_b = -log p(y | x) + alpha / |R(y)| * sum_{y' in R(y)} -log p(y' | x)

  with the encoder run once per source (its states reused for the gold and the related targets) and
  optional token label smoothing ``label_smoothing`` on every decoder pass. Evaluation and prediction are
  those of ``Seq2SeqTrainer`` (the model's own token cross-entropy as ``eval_loss``, ``generate`` with
  ``predict_with_generate``), so ``eval_loss`` and BLEU compare across methods.

Normalisation and gradient accumulation. ``normalize="examples"`` (default) divides the sum of
``loss_b`` over the accumulation window by its number of examples: one optimiser step on 3 accumulated
micro-batches of 4 equals one step on the batch of 12 (and 4 + 4 + 2 rows weigh every row the same,
where a mean of micro-batch means would weigh the last two double). The Trainer counts target *tokens*
for ``num_items_in_batch``; this class counts examples instead (rows of ``labels`` with a real token),
through the same gathering across processes and GPUs. ``normalize="tokens"`` keeps the Trainer's token
count: the sum of ``loss_b`` divided by the number of gold target tokens of the window, the scale of
``Seq2SeqTrainer``'s own loss (the related terms are still weighted per example by ``alpha / |R(y)|``).
A step without a count (a Trainer that passes none) returns the micro-batch mean and says it is not
scaled, so the Trainer divides it by the number of accumulation steps, as the classification integration
(:mod:`textsmooth.training.hf`) does.

Devices. Single process, CPU or one GPU; ``DataParallel`` (several GPUs in one process: the loss runs
on the unwrapped model with the whole batch, the count of the whole batch is restored as in
:mod:`textsmooth.training.hf`); and DDP (several processes, e.g. ``torchrun`` or ``accelerate launch``).
The loss calls the encoder and the decoder of the unwrapped model (so that the encoder runs once), and
DDP only synchronises gradients of passes through its own ``forward``: under DDP the loss is computed
*inside* the wrapper's forward (the unwrapped model's ``forward`` stands in for loss (2) during that call),
the window's count is gathered over the processes by the Trainer and the loss multiplied by the number
of processes, as ``Trainer.compute_loss`` does, so that DDP's gradient mean gives the gradient of the
whole global batch (tested: two CPU processes over gloo take the step one process takes on their
joint batch). FSDP and DeepSpeed shard or own the parameters and are refused with a
:class:`~textsmooth.errors.ConfigError`.

Related targets of evaluation data. The training collator looks related targets up by the ``index`` of
the *training* corpus; evaluation and test data go through ``eval_data_collator`` (default: a plain
``Seq2SeqCollator`` with the model's pad id when the training collator is a ``Seq2SeqCollator``), and any
related columns an evaluation batch carries are dropped before the model sees it.

Example (runs offline; ``examples/hf_seq2seq_semantic.py`` is the complete script)::

    train_ds = seq2seq_dataset(corpus, vocab, max_length=64)
    collator = seq2seq_collator(vocab, corpus=corpus, table=table, max_length=64, related_per_step=2)
    trainer = SemanticSeq2SeqTrainer(model=model, args=Seq2SeqTrainingArguments(...),
                                     train_dataset=train_ds, data_collator=collator, alpha=0.1)
    trainer.train()
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, get_args

import torch

from textsmooth._params import check_int
from textsmooth.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.collate import Seq2SeqCollator
    from textsmooth.seq2seq.data import ParallelCorpus
    from textsmooth.seq2seq.vocab import SubwordVocab
    from textsmooth.sequence.table import NeighborTable

__all__ = [  # noqa: F822  (SemanticSeq2SeqTrainer is built on first use)
    "INDEX_COLUMN",
    "RELATED_COLUMNS",
    "Normalize",
    "SemanticSeq2SeqTrainer",
    "seq2seq_collator",
    "seq2seq_dataset",
]

INDEX_COLUMN = "index"
"""The dataset column holding the corpus row of each example (the collator's key into the related ids)."""

RELATED_COLUMNS = ("related_labels", "related_mask")
"""The batch entries the collator adds for the related target sequences; only the loss reads them."""

Normalize = Literal["examples", "tokens"]


def seq2seq_dataset(corpus: ParallelCorpus, vocab: SubwordVocab, *, max_length: int = 128) -> Any:
    """A ``datasets.Dataset`` of ``corpus``: columns ``index`` (0-based corpus row), ``input_ids`` (the
    source encoded with ``vocab.source``) and ``labels`` (the target encoded with ``vocab.target``), each
    ending in ``</s>`` and at most ``max_length`` ids.

    Longer sentences are truncated (``</s>`` kept) with one warning that counts them per side.

    Raises:
        ConfigError: ``max_length`` below 2.
    """
    from textsmooth._extras import require

    datasets = require("datasets", extra="seq2seq", feature="seq2seq_dataset")
    check_int("max_length", max_length, low=2)
    cut = {
        side: vocab.count_truncated(texts, max_length, side)
        for side, texts in (("source", corpus.sources), ("target", corpus.targets))
    }
    if any(cut.values()):
        where = corpus.source_path or corpus.target_path
        warnings.warn(
            f"{'' if where is None else f'{where}: '}truncated {cut['source']} source and {cut['target']} "
            f"target sentences of {len(corpus)} to {max_length} tokens",
            stacklevel=2,
        )
    return datasets.Dataset.from_dict(
        {
            INDEX_COLUMN: list(range(len(corpus))),
            "input_ids": vocab.encode_sources(corpus.sources, max_length),
            "labels": vocab.encode_targets(corpus.targets, max_length),
        }
    )


def seq2seq_collator(
    vocab: SubwordVocab,
    *,
    corpus: ParallelCorpus | None = None,
    table: NeighborTable | None = None,
    max_length: int = 128,
    max_related: int | None = None,
    related_per_step: int | None = None,
    within_batch: bool = False,
    seed: int = 0,
) -> Seq2SeqCollator:
    """The collator for :func:`seq2seq_dataset` rows, attaching the related targets of each example.

    Args:
        vocab: the vocabulary the dataset was encoded with (its pad id pads the batch).
        corpus: the corpus of the dataset; needed with ``table`` (the neighbour ids index its targets).
        table: related targets of ``corpus.targets`` (``SemanticNeighbors``, ``TokenSwapTargets`` ...);
            ``None`` and ``within_batch=False``: no related targets (plain or token-LS training).
        max_length: target ids per related sequence (as the dataset's ``labels``).
        max_related: keep at most this many related targets per example (best first); ``None``: all
            of the table's ``k'``.
        related_per_step: sample this many of an example's related targets at each step (without
            replacement, seeded): an unbiased estimate of the mean in loss (2); ``None``: all.
        within_batch: ``R(y)`` = the other targets of the batch (Guo et al. 2018) instead of a table.
        seed: seed of the sampling.

    Raises:
        ConfigError: ``table`` without ``corpus``, or both ``table`` and ``within_batch``.
        InputError: the table was not built for ``corpus.targets`` (from ``related_ids_from_table``).
    """
    from textsmooth.seq2seq.collate import Seq2SeqCollator
    from textsmooth.seq2seq.related import related_ids_from_table

    if table is not None and within_batch:
        raise ConfigError("pass a neighbour table or within_batch=True, not both", column="within_batch")
    related = None
    if table is not None:
        if corpus is None:
            raise ConfigError(
                "a neighbour table needs the corpus it was built for", column="corpus", hint="pass corpus="
            )
        related = related_ids_from_table(table, corpus.targets, vocab, max_length, max_related=max_related)
    return Seq2SeqCollator(
        vocab.pad_id, related=related, related_per_step=related_per_step, within_batch=within_batch, seed=seed
    )


def _without_related(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in RELATED_COLUMNS and k != INDEX_COLUMN}


@contextlib.contextmanager
def _forward_replaced(module: torch.nn.Module, forward: Any) -> Iterator[None]:
    """The next call of ``module.forward`` inside the block is ``forward`` (an instance attribute shadowing
    the class's method, removed as that call starts, so the calls ``forward`` itself makes reach the model's
    own ``forward``); a ``forward`` already set on the instance (accelerate's mixed-precision wrapper) is
    put back."""
    before = module.__dict__.get("forward")

    def restore() -> None:
        if before is None:
            module.__dict__.pop("forward", None)
        else:
            module.forward = before

    def once(*args: Any, **kwargs: Any) -> Any:
        restore()
        return forward(*args, **kwargs)

    module.forward = once
    try:
        yield
    finally:
        restore()


def _trainer_class() -> type:
    from textsmooth._extras import require

    for module in ("transformers", "accelerate"):  # transformers' Trainer needs accelerate
        require(module, extra="seq2seq", feature="SemanticSeq2SeqTrainer")
    import transformers
    from transformers import Seq2SeqTrainer

    if not hasattr(Seq2SeqTrainer, "_get_num_items_in_batch"):
        raise ConfigError(
            f"SemanticSeq2SeqTrainer needs a transformers whose Trainer counts items in "
            f"_get_num_items_in_batch; transformers {transformers.__version__} has none",
            hint="upgrade transformers",
        )

    class SemanticSeq2SeqTrainer(Seq2SeqTrainer):
        """``transformers.Seq2SeqTrainer`` training with loss (2) (see the module docstring).

        Args:
            alpha: weight of the related targets in loss (2), >= 0 (0: plain NLL, or token LS).
            label_smoothing: token label smoothing epsilon on every decoder pass, in [0, 1) (use this,
                not ``args.label_smoothing_factor``).
            normalize: ``examples`` (mean of ``loss_b`` over the accumulation window) or ``tokens``
                (the sum divided by the window's gold target tokens).
            output_chunk_size: fuse the output projection with the loss, this many decoder positions at
                a time (Marian / BART-like models; :func:`~textsmooth.seq2seq.objective.seq2seq_loss`);
                ``None``: the model's logits.
            eval_data_collator: collator of evaluation and test data; default: a plain
                ``Seq2SeqCollator`` when ``data_collator`` is one, else ``data_collator``.
            *args, **kwargs: as ``transformers.Seq2SeqTrainer``.

        Raises:
            ConfigError: a bad option, ``args.label_smoothing_factor`` or ``compute_loss_func`` given, or
                FSDP / DeepSpeed.
        """

        loss_is_scaled_for_ga = True

        def __init__(
            self,
            *args: Any,
            alpha: float = 0.0,
            label_smoothing: float = 0.0,
            normalize: Normalize = "examples",
            eval_data_collator: Any = None,
            output_chunk_size: int | None = None,
            **kwargs: Any,
        ) -> None:
            if not isinstance(alpha, (int, float)) or not alpha >= 0:
                raise ConfigError(f"alpha must be >= 0, got {alpha!r}", column="alpha")
            if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
                raise ConfigError(
                    f"label_smoothing must be in [0, 1), got {label_smoothing!r}", column="label_smoothing"
                )
            if normalize not in get_args(Normalize):
                raise ConfigError(
                    f"normalize must be 'examples' or 'tokens', got {normalize!r}", column="normalize"
                )
            from textsmooth._params import check_int

            self.output_chunk_size = check_int("output_chunk_size", output_chunk_size, allow_none=True)
            super().__init__(*args, **kwargs)
            if self.args.label_smoothing_factor:
                raise ConfigError(
                    "args.label_smoothing_factor would smooth only Seq2SeqTrainer's own loss",
                    column="label_smoothing_factor",
                    hint="pass label_smoothing= to SemanticSeq2SeqTrainer; leave label_smoothing_factor at 0",
                )
            if self.output_chunk_size is not None:
                from textsmooth.seq2seq.objective import fused_output_layer

                fused_output_layer(self.model)  # refused now, not at the first step
            if self.compute_loss_func is not None:
                raise ConfigError(
                    "SemanticSeq2SeqTrainer computes its own loss; compute_loss_func would be ignored",
                    column="compute_loss_func",
                )
            sharded = [name for name in ("fsdp", "deepspeed") if getattr(self, f"is_{name}_enabled", False)]
            if sharded:
                raise ConfigError(
                    f"SemanticSeq2SeqTrainer does not run under {sharded[0].upper()}",
                    hint="the loss calls the encoder and the decoder of the model apart, which a sharding "
                    "wrapper does not allow; use DDP (torchrun / accelerate launch without FSDP or "
                    "DeepSpeed), DataParallel or one device",
                )
            self.alpha = float(alpha)
            self.label_smoothing = float(label_smoothing)
            self.normalize = normalize
            if eval_data_collator is None:
                from textsmooth.seq2seq.collate import Seq2SeqCollator

                eval_data_collator = self.data_collator
                if isinstance(self.data_collator, Seq2SeqCollator):
                    eval_data_collator = Seq2SeqCollator(self.model.config.pad_token_id)
            self.eval_data_collator = eval_data_collator
            # our compute_loss consumes num_items_in_batch, so let the Trainer count it
            self.model_accepts_loss_kwargs = True

        def _set_signature_columns_if_needed(self) -> None:
            super()._set_signature_columns_if_needed()
            # `index` feeds the collator, the related columns feed compute_loss: neither is a forward argument
            for column in ("labels", INDEX_COLUMN, *RELATED_COLUMNS):
                if column not in self._signature_columns:
                    self._signature_columns.append(column)

        def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> Any:
            """The Trainer's count, of examples (rows with a target token) unless ``normalize="tokens"``;
            the gathering across processes and the ``DataParallel`` split are the Trainer's."""
            if self.normalize == "examples":
                batch_samples = [
                    {"labels": torch.where(b["labels"].ne(-100).any(dim=-1), 0, -100)}
                    if isinstance(b, dict) and torch.is_tensor(b.get("labels"))
                    else b
                    for b in batch_samples
                ]
            return super()._get_num_items_in_batch(batch_samples, device)

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if not model.training:
                # evaluation and prediction: Seq2SeqTrainer's loss (the model's token cross-entropy)
                outputs = model(**_without_related(inputs))
                loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
                return (loss, outputs) if return_outputs else loss
            from textsmooth.seq2seq.objective import seq2seq_loss
            from textsmooth.training.hf import count_for_gathered_batch

            num_items = count_for_gathered_batch(self.args, num_items_in_batch)
            # read by training_step right after this call: sum / num_items is already scaled for accumulation
            self.loss_is_scaled_for_ga = num_items is not None
            if num_items is None and self.normalize == "tokens":
                num_items = inputs["labels"].ne(-100).sum()  # this micro-batch's tokens
            unwrapped = self.accelerator.unwrap_model(model)

            def loss_2(**batch: Any) -> dict[str, torch.Tensor]:
                out = seq2seq_loss(
                    unwrapped,
                    batch,
                    alpha=self.alpha,
                    label_smoothing=self.label_smoothing,
                    num_items=num_items,
                    output_chunk_size=self.output_chunk_size,
                )
                return {"loss": out.loss}

            if not isinstance(model, torch.nn.parallel.DistributedDataParallel):
                loss = loss_2(**inputs)["loss"]  # one device, or DataParallel: the whole batch here
            else:  # DDP: only passes through the wrapper's forward have their gradients synchronised
                with _forward_replaced(unwrapped, loss_2):
                    loss = model(**inputs)["loss"]
                if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                    # the count is the global batch's; DDP averages gradients over the processes
                    tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
                    loss = loss * max(self.accelerator.num_processes // tp_size, 1)
            return (loss, {"loss": loss}) if return_outputs else loss

        def prediction_step(
            self,
            model: Any,
            inputs: dict[str, Any],
            prediction_loss_only: bool,
            ignore_keys: list[str] | None = None,
            **gen_kwargs: Any,
        ) -> Any:
            # related columns must reach neither forward nor generate
            return super().prediction_step(
                model, _without_related(inputs), prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs
            )

        @contextlib.contextmanager
        def _evaluation_collator(self) -> Iterator[None]:
            train_collator = self.data_collator
            self.data_collator = self.eval_data_collator
            try:
                yield
            finally:
                self.data_collator = train_collator

        def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
            with self._evaluation_collator():
                return super().get_eval_dataloader(eval_dataset)

        def get_test_dataloader(self, test_dataset: Any) -> Any:
            with self._evaluation_collator():
                return super().get_test_dataloader(test_dataset)

    return SemanticSeq2SeqTrainer


def __getattr__(name: str) -> Any:
    # Build the Trainer subclass on first use, so importing this module does not import transformers.
    if name == "SemanticSeq2SeqTrainer":
        cls = _trainer_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
