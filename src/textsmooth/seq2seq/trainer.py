"""``train_seq2seq``: train a translation model with loss (2), resumable, with early stopping on val BLEU.

Shaped like :func:`textsmooth.training.train_classifier`: a configuration, the data, an optional output
folder. One run:

1. checks everything before training: the method and its related targets (a table must be built for
   exactly these training targets: :func:`~textsmooth.seq2seq.related.related_ids_from_table`), the
   output folder (a checkpoint of another configuration is refused);
2. learns the subword vocabulary on the training split (or reuses the one saved in the folder), builds
   a Marian model (:mod:`textsmooth.seq2seq.model`) seeded by ``config.seed``;
3. trains with AdamW (linear warm-up, then inverse square root decay), loss (2) per batch
   (:func:`~textsmooth.seq2seq.objective.seq2seq_loss`), gradient clipping; after every epoch decodes the
   validation sources (``val_beam_size``, greedy by default) and scores BLEU-4; stops after ``patience``
   epochs without a gain of more than ``min_delta`` BLEU;
4. restores the best epoch's weights, translates the test sources (``beam_size``) and, with an output
   folder, saves the model (:mod:`textsmooth.seq2seq.saved`).

Resuming. With ``out_dir`` the loop writes ``checkpoint.pt`` (weights, optimiser, scheduler, the torch
random state, the position in the epoch and the seconds spent on it, history, best weights) at the end
of every epoch and every ``checkpoint_every`` steps, atomically, ``metrics.jsonl`` (one line per epoch)
and, with each mid-epoch checkpoint, ``progress.json`` (its position in the epoch). The order of the
batches depends only on ``(seed, epoch)`` and the related-target sample on ``(seed, epoch, example)``,
so a run interrupted anywhere and resumed from its checkpoint ends with the weights, hypotheses and BLEU
of an uninterrupted run. A finished run's checkpoint stays (its state is final): calling again returns
the same result without training.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from textsmooth.errors import ArtifactError, ConfigError, InputError
from textsmooth.io.atomic import atomic_path, atomic_write_text
from textsmooth.seq2seq.config import Seq2SeqConfig

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.data import ParallelCorpus
    from textsmooth.seq2seq.vocab import SubwordVocab
    from textsmooth.sequence.table import NeighborTable
    from textsmooth.similarity import SimilarityTable

__all__ = [
    "CHECKPOINT_FILE",
    "PROGRESS_FILE",
    "Seq2SeqResult",
    "epoch_batches",
    "prepare_vocab",
    "train_seq2seq",
]

CHECKPOINT_FILE = "checkpoint.pt"
SIMILARITY_FILE = "similarity.npz"
METRICS_FILE = "metrics.jsonl"
PROGRESS_FILE = "progress.json"
"""Where the last mid-epoch checkpoint stands: ``{"epoch", "batches_done", "batches", "steps", "seconds"}``
(epoch 0-based, seconds spent on it; ``textsmooth experiment status`` shows it)."""


@dataclass
class Seq2SeqResult:
    """What :func:`train_seq2seq` returns.

    Attributes:
        model: the trained model with the best validation epoch's weights (eval mode). vocab: its vocabulary.
        config: the configuration. history: one dict per epoch (``epoch``, ``train_loss``, ``train_nll``,
            ``val_bleu``, ``seconds``). best_val_bleu, best_epoch: model selection.
        test_hypotheses, test_scores: test translations and :func:`~textsmooth.seq2seq.decode.corpus_scores`
            (``None`` without test data). model_dir: where the model was saved, or ``None``.
        steps: optimiser steps taken; resumed: whether the run continued a checkpoint.
        seconds_before: training time of the processes before this call, up to the checkpoint it resumed
            from (the finished epochs' ``seconds`` plus the checkpointed part of the epoch in progress;
            0 for a new run).
    """

    model: Any
    vocab: SubwordVocab
    config: Seq2SeqConfig
    history: list[dict[str, Any]]
    best_val_bleu: float
    best_epoch: int
    test_hypotheses: list[str] | None = None
    test_scores: dict[str, float] | None = None
    model_dir: Path | None = None
    steps: int = 0
    resumed: bool = False
    seconds_before: float = 0.0

    def translate(self, sources: list[str], *, beam_size: int | None = None) -> list[str]:
        """Translate with the trained model (``beam_size`` default: the configuration's)."""
        from textsmooth.seq2seq.decode import translate

        c = self.config
        return translate(
            self.model,
            self.vocab,
            sources,
            beam_size=beam_size or c.beam_size,
            length_penalty=c.length_penalty,
            max_length=c.max_length,
            batch_size=c.eval_batch_size,
        )


@dataclass
class _State:
    """Everything a checkpoint holds besides the configuration."""

    model: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    epoch: int = 0  # the epoch in progress (0-based)
    batches_done: int = 0  # batches of that epoch already trained
    steps: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_bleu: float = -1.0
    best_epoch: int = 0
    stale: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    loss_sum: float = 0.0  # this epoch's running sums
    nll_sum: float = 0.0
    examples: int = 0
    finished: bool = False
    epoch_seconds: float = 0.0  # time spent on the epoch in progress before `clock` (earlier processes)
    clock: float = field(default_factory=time.perf_counter)  # when this process began that epoch

    def epoch_elapsed(self) -> float:
        """Seconds of training on the epoch in progress, earlier processes' checkpointed part included."""
        return self.epoch_seconds + time.perf_counter() - self.clock


def _lr_factor(warmup: int) -> Any:
    """Linear warm-up over ``warmup`` steps, then ``sqrt(warmup / step)`` (Vaswani et al. 2017)."""

    def factor(step: int) -> float:
        s = step + 1
        if warmup <= 0:
            return 1.0
        return min(s / warmup, math.sqrt(warmup / s))

    return factor


def _check_inputs(train: ParallelCorpus, val: ParallelCorpus, config: Seq2SeqConfig, table: Any) -> None:
    if len(train) == 0:
        raise InputError("no training pairs", column="train")
    if len(val) == 0:
        raise InputError("no validation pairs (model selection needs them)", column="val")
    if config.uses_table and table is None:
        raise ConfigError(
            f"method {config.method} needs a neighbour table of the training targets",
            column="method",
            hint="build one with `textsmooth neighbors semantic` (or token-swap) and pass it",
        )
    from textsmooth.similarity import SimilarityTable

    if config.uses_similarity:
        if table is not None and not isinstance(table, SimilarityTable):
            raise ConfigError(
                f"method {config.method} takes a SimilarityTable of the target vocabulary, not a "
                f"{type(table).__name__}",
                column="method",
                hint="leave it out to build one from the training targets",
            )
        return
    if isinstance(table, SimilarityTable):
        raise ConfigError(
            f"method {config.method} does not use a word-similarity table",
            column="method",
            hint="use method similarity-soft, weighted-similarity or weighted-ce",
        )
    if table is not None and not config.uses_table:
        raise ConfigError(
            f"method {config.method} does not use a neighbour table, but one was given",
            column="method",
            hint="use method semantic, semantic-no-rerank or token-swap, or leave the table out",
        )


def _load_pretrained(config: Seq2SeqConfig) -> Any:
    """The checkpoint ``config.model_path`` (on the CPU), after checking that it takes ``max_length``
    and, with ``output_chunk_size``, has an output layer the fused projection can use.

    Raises:
        ConfigError: ``max_length`` beyond the model's positions; a model the fused projection refuses.
        ArtifactError: not a seq2seq model folder.
    """
    from textsmooth.seq2seq.model import load_seq2seq_model, position_limit

    assert config.model_path is not None
    model = load_seq2seq_model(config.model_path)
    limit = position_limit(model.config)
    if limit is not None and config.max_length > limit[0]:
        positions, field_name = limit
        raise ConfigError(
            f"max_length {config.max_length} is longer than the {positions} positions of the model "
            f"({field_name})",
            path=config.model_path,
            column="max_length",
            hint=f"use max_length <= {positions}",
        )
    if config.output_chunk_size is not None:
        from textsmooth.seq2seq.objective import fused_output_layer

        fused_output_layer(model)
    return model


def prepare_vocab(train: ParallelCorpus, config: Seq2SeqConfig, out: Path | None = None) -> SubwordVocab:
    """The vocabulary :func:`train_seq2seq` uses: a pretrained checkpoint's tokenizer
    (``config.model_path``), else the one saved in ``out`` beside a checkpoint (a resumed run keeps its
    vocabulary), else one learned on ``train`` as ``config`` says (``vocab_kind``, ``vocab_size``,
    ``min_frequency``, ``joint_vocab``: deterministic for the same sentences) and saved in ``out``."""
    from textsmooth.seq2seq.vocab import SubwordVocab, train_subword_vocab

    if config.model_path is not None:  # a pretrained checkpoint brings its tokenizer
        from textsmooth.seq2seq.pretrained import PretrainedVocab

        return PretrainedVocab.load(  # type: ignore[return-value]
            config.model_path, source_lang=config.source_lang, target_lang=config.target_lang
        )
    if out is not None and (out / "vocab" / "vocab.json").is_file() and (out / CHECKPOINT_FILE).is_file():
        return SubwordVocab.load(out / "vocab")
    vocab = train_subword_vocab(
        train.sources,
        train.targets,
        kind=config.vocab_kind,  # type: ignore[arg-type]
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        joint=config.joint_vocab,
    )
    if out is not None:
        vocab.save(out / "vocab")
    return vocab


def _token_similarity(
    train: ParallelCorpus, vocab: SubwordVocab, config: Seq2SeqConfig, table: Any, out: Path | None
) -> tuple[Any, Any]:
    """The word-similarity targets of a similarity method: ``table``, or the one saved in an existing run
    folder ``out``, or one built from the training targets; checked against the target vocabulary.

    Returns the targets and the table to save in the run folder (``None`` unless it was built here), so
    the caller makes the folder only after the check and writes nothing for a refused table.
    """
    from textsmooth.seq2seq.objective import TokenSimilarity
    from textsmooth.seq2seq.similarity import build_token_similarity_table, check_table_vocab
    from textsmooth.similarity import SimilarityTable, load_stopwords

    saved = None if out is None else out / SIMILARITY_FILE
    built = None
    if table is None and saved is not None and saved.is_file():
        table = SimilarityTable.read(saved)
    if table is None:
        table = built = build_token_similarity_table(
            vocab, train.targets, top_n=config.similarity_top_n, normalize=config.method == "similarity-soft",
            stopwords=load_stopwords("en"), seed=config.seed, max_length=config.max_length,
        )  # fmt: skip
    check_table_vocab(table, vocab)
    neighbors, weights = table.as_tensors(device=config.device)
    return TokenSimilarity(config.method, neighbors, weights), built


def _collator(
    train: ParallelCorpus, vocab: SubwordVocab, config: Seq2SeqConfig, table: NeighborTable | None
) -> Any:
    from textsmooth.seq2seq.collate import Seq2SeqCollator
    from textsmooth.seq2seq.related import related_ids_from_table

    related = None
    if table is not None and config.uses_table:
        related = related_ids_from_table(
            table, train.targets, vocab, config.max_length, max_related=config.related_k
        )
    within = config.method == "within-batch"
    per_step = config.related_per_step
    if within and per_step is None:
        per_step = config.related_k  # k' of the other targets, sampled afresh each step
    return Seq2SeqCollator(
        vocab.pad_id, related=related, related_per_step=per_step, within_batch=within, seed=config.seed
    )


def _warn_truncated(train: ParallelCorpus, vocab: SubwordVocab, max_length: int) -> None:
    """One warning that counts the training sentences longer than ``max_length`` tokens, per side."""
    cut = {side: vocab.count_truncated(texts, max_length, side) for side, texts in
           (("source", train.sources), ("target", train.targets))}  # fmt: skip
    if any(cut.values()):
        where = train.source_path or train.target_path
        warnings.warn(
            f"{'' if where is None else f'{where}: '}{cut['source']} source and {cut['target']} target "
            f"sentences of {len(train)} are longer than max_length {max_length} and were truncated",
            stacklevel=3,
        )


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


BUCKET_BATCHES = 50
"""With ``length_buckets``: batches per pool sorted by length."""


def epoch_batches(
    lengths: list[int], batch_size: int, seed: int, epoch: int, buckets: bool
) -> list[list[int]]:
    """The batches of one epoch, a function of ``(seed, epoch)`` only (so resuming replays them).

    The examples are shuffled; without ``buckets`` consecutive runs of ``batch_size`` are the batches.
    With ``buckets`` each pool of ``BUCKET_BATCHES * batch_size`` shuffled examples is sorted by length
    (stable) and cut into batches, and the batches of the epoch are shuffled again: every batch holds
    sentences of similar length, so padding (most of an LSTM's or Transformer's wasted work on short
    sentences) shrinks, while the epoch still visits every example once in a random order of batches.
    """
    order = _epoch_order(len(lengths), seed, epoch)
    if not buckets:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    pool = BUCKET_BATCHES * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        part = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch + 7_919)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _save_checkpoint(out: Path, config: Seq2SeqConfig, state: _State, vocab: SubwordVocab) -> None:
    saved = {
        "fingerprint": config.fingerprint(),
        "vocab_sha256": vocab.fingerprint(),
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "rng": torch.get_rng_state(),
        "counters": torch.tensor(
            [
                state.epoch,
                state.batches_done,
                state.steps,
                state.best_epoch,
                state.stale,
                state.examples,
                int(state.finished),
            ],
            dtype=torch.long,
        ),
        "floats": torch.tensor([state.best_bleu, state.loss_sum, state.nll_sum], dtype=torch.float64),
        "history": json.dumps(state.history),
        "best_weights": state.best_weights,
        "epoch_seconds": torch.tensor([state.epoch_elapsed() if state.batches_done else 0.0]),
    }
    with atomic_path(out / CHECKPOINT_FILE) as tmp:
        torch.save(saved, tmp)


def _load_checkpoint(out: Path, config: Seq2SeqConfig, state: _State, vocab: SubwordVocab) -> bool:
    path = out / CHECKPOINT_FILE
    if not path.exists():
        return False
    hint = "it is unusable; delete it to start this run over"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)  # never unpickles objects
    except Exception as exc:  # truncated zip, EOF ...: not a usable checkpoint
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ArtifactError(f"checkpoint is truncated or corrupt ({reason})", path=path, hint=hint) from exc
    if not isinstance(saved, dict) or "fingerprint" not in saved:
        raise ArtifactError("not a textsmooth seq2seq checkpoint", path=path, hint=hint)
    if saved["fingerprint"] not in config.accepted_fingerprints():
        raise ConfigError(
            "the output folder holds a checkpoint of another configuration",
            path=path,
            hint="use a new output folder, or delete the checkpoint to start over",
        )
    if saved.get("vocab_sha256") != vocab.fingerprint():
        raise ArtifactError("the checkpoint was trained with another vocabulary", path=path, hint=hint)
    try:
        state.model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        state.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        c = saved["counters"].tolist()
        state.epoch, state.batches_done, state.steps, state.best_epoch, state.stale, state.examples = c[:6]
        state.finished = bool(c[6])
        state.best_bleu, state.loss_sum, state.nll_sum = saved["floats"].tolist()
        state.history = json.loads(saved["history"])
        state.best_weights = saved["best_weights"]
        if "epoch_seconds" in saved:  # checkpoints written before it existed: the epoch's time restarts
            state.epoch_seconds = float(saved["epoch_seconds"][0])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"checkpoint does not fit this model ({exc})", path=path, hint=hint) from exc
    return True


def _train_epoch(
    state: _State,
    config: Seq2SeqConfig,
    data: tuple[list[list[int]], list[list[int]]],
    collator: Any,
    out: Path | None,
    vocab: SubwordVocab,
    progress: bool,
    similarity: Any = None,
) -> None:
    """Train the rest of ``state.epoch`` (from ``state.batches_done``), checkpointing as configured."""
    from tqdm.auto import tqdm

    from textsmooth.seq2seq.objective import seq2seq_loss

    sources, targets = data
    lengths = [max(len(s), len(t)) for s, t in zip(sources, targets, strict=True)]
    batches = epoch_batches(lengths, config.batch_size, config.seed, state.epoch, config.length_buckets)
    collator.set_epoch(state.epoch)
    alpha = config.alpha if config.uses_related else 0.0
    autocast = torch.autocast(
        torch.device(config.device).type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
    )
    state.model.train()
    bar = tqdm(
        total=len(batches),
        initial=state.batches_done,
        desc=f"epoch {state.epoch + 1}/{config.epochs}",
        unit="batch",
        disable=not progress,
        leave=False,
    )
    with bar:
        for b in range(state.batches_done, len(batches)):
            rows = batches[b]
            batch = collator([{"index": i, "input_ids": sources[i], "labels": targets[i]} for i in rows])
            batch = {k: v.to(config.device) for k, v in batch.items()}
            with autocast:
                out_loss = seq2seq_loss(
                    state.model,
                    batch,
                    alpha=alpha,
                    label_smoothing=float(config.label_smoothing or 0),
                    similarity=similarity,
                    output_chunk_size=config.output_chunk_size,
                )
            state.optimizer.zero_grad(set_to_none=True)
            out_loss.loss.backward()
            if config.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.clip_norm)
            state.optimizer.step()
            state.scheduler.step()
            state.steps += 1
            state.batches_done = b + 1
            state.loss_sum += float(out_loss.loss.detach()) * len(rows)
            state.nll_sum += float(out_loss.nll if out_loss.nll is not None else out_loss.loss) * len(rows)
            state.examples += len(rows)
            bar.update(1)
            bar.set_postfix(loss=f"{state.loss_sum / state.examples:.2f}")
            if out is not None and config.checkpoint_every and state.steps % config.checkpoint_every == 0:
                _save_checkpoint(out, config, state, vocab)
                where = {
                    "epoch": state.epoch,
                    "batches_done": b + 1,
                    "batches": len(batches),
                    "steps": state.steps,
                    "seconds": round(state.epoch_elapsed(), 3),
                }
                atomic_write_text(out / PROGRESS_FILE, json.dumps(where) + "\n")


def _end_epoch(
    state: _State,
    config: Seq2SeqConfig,
    val: ParallelCorpus,
    vocab: SubwordVocab,
    seconds: float,
    progress: bool,
) -> None:
    """Score the epoch on val, update the best weights and early stopping, start the next epoch."""
    from textsmooth.seq2seq.decode import corpus_scores, translate

    hyps = translate(
        state.model,
        vocab,
        val.sources,
        beam_size=config.val_beam_size,
        length_penalty=config.length_penalty,
        max_length=config.max_length,
        batch_size=config.eval_batch_size,
        progress=progress,
    )
    bleu = corpus_scores(hyps, val.targets)["bleu"]
    state.history.append(
        {
            "epoch": state.epoch + 1,
            "train_loss": state.loss_sum / max(state.examples, 1),
            "train_nll": state.nll_sum / max(state.examples, 1),
            "val_bleu": bleu,
            "steps": state.steps,
            "seconds": round(seconds, 3),
        }
    )
    if bleu > state.best_bleu + config.min_delta or state.best_weights is None:
        state.best_bleu, state.best_epoch, state.stale = bleu, state.epoch + 1, 0
        state.best_weights = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
    else:
        state.stale += 1
    state.epoch += 1
    state.batches_done = 0
    state.loss_sum = state.nll_sum = 0.0
    state.examples = 0
    state.finished = state.epoch >= config.epochs or state.stale >= config.patience


def train_seq2seq(
    train: ParallelCorpus,
    val: ParallelCorpus,
    config: Seq2SeqConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    table: NeighborTable | SimilarityTable | None = None,
    test: ParallelCorpus | None = None,
    progress: bool = True,
    save_model: bool = True,
) -> Seq2SeqResult:
    """Train one translation model (module docstring: the steps, resuming and the folder layout).

    Args:
        train, val: parallel corpora (``val`` selects the epoch by BLEU-4); ``test``: translated with the
            best weights at the end (optional).
        config: hyper-parameters (default :class:`Seq2SeqConfig`).
        out_dir: folder for ``checkpoint.pt``, ``metrics.jsonl``, ``vocab/`` and (``save_model``) the best
            model in ``model/``; ``None``: nothing is written and nothing resumes.
        table: related targets of ``train.targets`` for ``semantic``, ``semantic-no-rerank`` and
            ``token-swap`` (:class:`~textsmooth.sequence.SemanticNeighbors`,
            :class:`~textsmooth.sequence.TokenSwapTargets`, or :meth:`NeighborTable.read`); for the
            word-similarity methods a :class:`~textsmooth.similarity.SimilarityTable` of the target
            vocabulary (``None``: built from the training targets and saved as ``out_dir/similarity.npz``).
        progress: show progress bars.

    Raises:
        ConfigError: a method without its table (or a table it does not use), a checkpoint of another
            configuration in ``out_dir``, a device this machine lacks, a setting the ``model_path``
            checkpoint refuses (``max_length``, ``output_chunk_size``), or a process started as one of
            several by ``torchrun`` (:func:`~textsmooth.training.saved.check_single_process`).
        StaleArtifactError: a neighbour table built for other targets, a word-similarity table of another
            vocabulary. InputError: empty data. The errors about the inputs, the tables and the checkpoint
            come before a new ``out_dir`` is made.
        ArtifactError: a damaged checkpoint or vocabulary.
    """
    from textsmooth.seq2seq.model import ModelShape, build_seq2seq_model
    from textsmooth.sequence._threads import thread_limit
    from textsmooth.training.saved import check_device, check_single_process

    config = config or Seq2SeqConfig()
    check_single_process("train_seq2seq")
    check_device(config.device)
    _check_inputs(train, val, config, table)
    out = None if out_dir is None else Path(out_dir)
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError("output path exists and is not a folder", path=out)
    # a checkpoint to fine-tune is loaded, and refuses settings, before anything is written
    pretrained = None if config.model_path is None else _load_pretrained(config)
    fresh = out is not None and not out.exists()  # made below, once the table is checked
    with thread_limit(config.num_threads, faiss_=False):
        vocab = prepare_vocab(train, config, None if fresh else out)
        if pretrained is not None:  # generate starts in the target language, as the labels do
            from textsmooth.seq2seq.pretrained import set_target_language_start

            set_target_language_start(pretrained, vocab)  # type: ignore[arg-type]
        collator = _collator(train, vocab, config, table)  # refuses a table of other targets, before training
        similarity, built = (None, None)
        if config.uses_similarity:  # refuses a table of another vocabulary, before the folder is made
            similarity, built = _token_similarity(train, vocab, config, table, None if fresh else out)
        if out is not None and fresh:
            out.mkdir(parents=True)
            if pretrained is None:
                vocab.save(out / "vocab")
        if out is not None and built is not None:
            parameters = {"built_from": "training targets", "seed": config.seed}
            built.write(out / SIMILARITY_FILE, parameters=parameters)
        shape = ModelShape(
            d_model=config.d_model,
            encoder_layers=config.encoder_layers,
            decoder_layers=config.decoder_layers,
            heads=config.heads,
            ffn_dim=config.ffn_dim,
            dropout=config.dropout,
            max_positions=max(config.max_length, 16),
        )
        if pretrained is not None:
            model = pretrained.to(config.device)
        elif config.architecture == "lstm":
            from textsmooth.seq2seq.lstm import build_lstm_model

            model = build_lstm_model(
                vocab,
                hidden_size=config.d_model,
                embedding_size=config.d_model,
                num_layers=config.encoder_layers,
                dropout=config.dropout,
                seed=config.seed,
            ).to(config.device)
        else:
            model = build_seq2seq_model(vocab, shape, seed=config.seed).to(config.device)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config.warmup_steps))
        state = _State(model, optimizer, scheduler)
        resumed = out is not None and _load_checkpoint(out, config, state, vocab)
        if not resumed:
            torch.manual_seed(config.seed)  # dropout's random stream
        _warn_truncated(train, vocab, config.max_length)
        data = (
            vocab.encode_sources(train.sources, config.max_length),
            vocab.encode_targets(train.targets, config.max_length),
        )
        seconds_before = sum(float(h.get("seconds") or 0.0) for h in state.history) + state.epoch_seconds
        while not state.finished:
            state.clock = time.perf_counter()
            _train_epoch(state, config, data, collator, out, vocab, progress, similarity)
            seconds = state.epoch_elapsed()
            state.epoch_seconds = 0.0
            _end_epoch(state, config, val, vocab, seconds, progress)
            if out is not None:
                _save_checkpoint(out, config, state, vocab)
                atomic_write_text(out / METRICS_FILE, "".join(json.dumps(h) + "\n" for h in state.history))
        assert state.best_weights is not None
        model.load_state_dict(state.best_weights)
        model.eval()
        result = Seq2SeqResult(
            model,
            vocab,
            config,
            list(state.history),
            state.best_bleu,
            state.best_epoch,
            steps=state.steps,
            resumed=resumed,
            seconds_before=seconds_before if resumed else 0.0,
        )
        if test is not None:
            from textsmooth.seq2seq.decode import corpus_scores

            result.test_hypotheses = result.translate(test.sources)
            result.test_scores = corpus_scores(result.test_hypotheses, test.targets)
        if out is not None and save_model:
            from textsmooth.seq2seq.saved import save_translator

            info = {
                "config": config.to_dict(),
                "best_epoch": state.best_epoch,
                "val_bleu": state.best_bleu,
                "test_scores": result.test_scores,
            }
            result.model_dir = save_translator(
                model, vocab, out / "model", max_length=config.max_length, info=info
            )
    return result
