"""Reference text classifiers for the experiments: TextCNN, BiLSTM and a Hugging Face encoder classifier.

Every classifier is a ``torch.nn.Module`` with the same interface:

* ``model(input_ids, attention_mask)`` returns logits ``(batch, n_classes)``, or ``(logits, aux_logits)``
  when built with ``aux_head=True`` (a second linear head on the same features, for losses such as the
  KWLS authors' that train a separate output); :func:`split_logits` turns either form into
  ``(logits, aux_logits or None)``;
* ``model.features(input_ids, attention_mask)`` returns the pooled text vectors (``model.n_features`` wide);
* ``model.heads.n_classes`` and ``model.heads.n_aux_classes`` (``None`` without a second head) give the
  output widths;
* ``model.get_config()`` returns the constructor arguments, so a checkpoint is ``config + state_dict``;
* inputs are right-padded; padding never changes the output (in eval mode);
* nothing is moved to a device here (use ``model.to(device)``) and randomness follows ``torch.manual_seed``.

Texts become ``(input_ids, attention_mask)`` with ``encode(texts, max_length)``: :class:`WordVocab` for
TextCNN and BiLSTM (whose ``padding_idx`` must be passed explicitly, e.g. ``vocab.pad_id``),
:meth:`HFEncoderClassifier.encode` (its own tokenizer) for the Transformer.

Names are imported lazily: ``import textsmooth.models`` does not import torch or transformers.

Example:
    >>> import torch
    >>> from textsmooth.models import TextCNN, WordVocab
    >>> vocab = WordVocab.build(["a great film", "a dull film"])
    >>> _ = torch.manual_seed(0)
    >>> model = TextCNN(len(vocab), 2, padding_idx=vocab.pad_id, embedding_dim=8, n_filters=4).eval()
    >>> model(*vocab.encode(["great film", "dull"])).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import textsmooth._extras as _extras

if not _extras.installed("torch"):
    raise _extras.missing("torch", extra="torch", feature="textsmooth.models")

_LAZY = {
    "TextCNN": "textsmooth.models.textcnn",
    "BiLSTM": "textsmooth.models.bilstm",
    "HFEncoderClassifier": "textsmooth.models.hf",
    "WordVocab": "textsmooth.models.vocab",
    "ClassifierOutput": "textsmooth.models._common",
    "split_logits": "textsmooth.models._common",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.models._common import ClassifierOutput, split_logits  # noqa: F401
    from textsmooth.models.bilstm import BiLSTM  # noqa: F401
    from textsmooth.models.hf import HFEncoderClassifier  # noqa: F401
    from textsmooth.models.textcnn import TextCNN  # noqa: F401
    from textsmooth.models.vocab import WordVocab  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textsmooth.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
