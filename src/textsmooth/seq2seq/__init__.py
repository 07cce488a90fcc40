"""Sequence-to-sequence training with sequence-level (semantic) label smoothing.

* :func:`train_seq2seq` (``textsmooth.seq2seq.trainer``) trains a translation model with loss (2) of the
  semantic label smoothing paper (or token LS, within-batch, token-swap), resumable, with early
  stopping on validation BLEU; :class:`Seq2SeqConfig` holds its hyper-parameters;
* :func:`load_translator` reads a saved model folder back (``translate(sources)``);
  :func:`load_checkpoint_translator` any local Hugging Face checkpoint with its tokenizer;
* :func:`seq2seq_loss` is the objective on any Hugging Face encoder-decoder, the encoder run once;
* :mod:`textsmooth.seq2seq.hf` has :class:`SemanticSeq2SeqTrainer`, a ``transformers.Seq2SeqTrainer``
  with the same loss;
* :func:`read_parallel` / :func:`load_multi30k_pair` read parallel corpora, :func:`train_subword_vocab`
  learns the subword vocabulary, :func:`build_seq2seq_model` builds a compact Marian model,
  :func:`corpus_scores` gives BLEU-3/4/5 and chrF, :func:`paired_bleu_p_value` sacrebleu's paired bootstrap,
  :func:`paired_bleu_p_value_over_seeds` the same test of two methods' BLEU means over several seeds.

Names are imported lazily, so ``import textsmooth.seq2seq`` does not import torch or transformers; a
name that needs torch raises :class:`~textsmooth.errors.MissingDependencyError` (extra ``seq2seq``) when
it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import textsmooth._extras as _extras

_LAZY = {
    "METHODS": "textsmooth.seq2seq.config",
    "Seq2SeqConfig": "textsmooth.seq2seq.config",
    "ParallelCorpus": "textsmooth.seq2seq.data",
    "read_parallel": "textsmooth.seq2seq.data",
    "load_multi30k_pair": "textsmooth.seq2seq.data",
    "SubwordVocab": "textsmooth.seq2seq.vocab",
    "train_subword_vocab": "textsmooth.seq2seq.vocab",
    "ModelShape": "textsmooth.seq2seq.model",
    "build_seq2seq_model": "textsmooth.seq2seq.model",
    "load_seq2seq_model": "textsmooth.seq2seq.model",
    "Seq2SeqCollator": "textsmooth.seq2seq.collate",
    "RelatedIds": "textsmooth.seq2seq.related",
    "related_ids_from_table": "textsmooth.seq2seq.related",
    "seq2seq_loss": "textsmooth.seq2seq.objective",
    "corpus_scores": "textsmooth.seq2seq.decode",
    "paired_bleu_p_value": "textsmooth.seq2seq.decode",
    "paired_bleu_p_value_over_seeds": "textsmooth.seq2seq.decode",
    "translate": "textsmooth.seq2seq.decode",
    "Translator": "textsmooth.seq2seq.saved",
    "load_translator": "textsmooth.seq2seq.saved",
    "load_checkpoint_translator": "textsmooth.seq2seq.saved",
    "save_translator": "textsmooth.seq2seq.saved",
    "Seq2SeqResult": "textsmooth.seq2seq.trainer",
    "train_seq2seq": "textsmooth.seq2seq.trainer",
}

_TORCH_FREE = ("textsmooth.seq2seq.config", "textsmooth.seq2seq.data")
"""Modules that import without torch (the CLI reads the method names from config)."""

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.collate import Seq2SeqCollator  # noqa: F401
    from textsmooth.seq2seq.config import METHODS, Seq2SeqConfig  # noqa: F401
    from textsmooth.seq2seq.data import ParallelCorpus, load_multi30k_pair, read_parallel  # noqa: F401
    from textsmooth.seq2seq.decode import (  # noqa: F401
        corpus_scores,
        paired_bleu_p_value,
        paired_bleu_p_value_over_seeds,
        translate,
    )
    from textsmooth.seq2seq.model import ModelShape, build_seq2seq_model, load_seq2seq_model  # noqa: F401
    from textsmooth.seq2seq.objective import seq2seq_loss  # noqa: F401
    from textsmooth.seq2seq.related import RelatedIds, related_ids_from_table  # noqa: F401
    from textsmooth.seq2seq.saved import (  # noqa: F401
        Translator,
        load_checkpoint_translator,
        load_translator,
        save_translator,
    )
    from textsmooth.seq2seq.trainer import Seq2SeqResult, train_seq2seq  # noqa: F401
    from textsmooth.seq2seq.vocab import SubwordVocab, train_subword_vocab  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module not in _TORCH_FREE and not _extras.installed("torch"):
        raise _extras.missing("torch", extra="seq2seq", feature=f"textsmooth.seq2seq.{name}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
