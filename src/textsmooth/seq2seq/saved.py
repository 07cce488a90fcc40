"""Saved translation models: a folder that ``from_pretrained`` loads, with its vocabulary and a manifest.

:func:`load_checkpoint_translator` loads any local Hugging Face seq2seq checkpoint with its tokenizer
instead (a pretrained model before fine-tuning: the baseline of a fine-tuning run); it has no manifest, so
there are no checksums to check.

Layout of a model folder::

    MODEL_DIR/config.json, generation_config.json, model.safetensors   (``save_pretrained``)
    MODEL_DIR/vocab/                    the SubwordVocab (tokenizers JSON + vocab.json)
    MODEL_DIR/textsmooth.json           manifest: kind, training config, vocabulary and weight checksums,
                                        validation BLEU and epoch of the saved weights

The folder is written into a temporary sibling and renamed into place, so a reader never sees half a
model. :func:`load_translator` checks every checksum before the model is used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textsmooth._version import __version__
from textsmooth.errors import ArtifactError

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.vocab import SubwordVocab

__all__ = ["MODEL_KIND", "Translator", "load_checkpoint_translator", "load_translator", "save_translator"]

MODEL_KIND = "seq2seq-model"
_MANIFEST = "textsmooth.json"
_WEIGHTS = "model.safetensors"


@dataclass
class Translator:
    """A trained model with its vocabulary (:func:`load_translator`).

    Attributes:
        model: the Hugging Face encoder-decoder (eval mode). vocab: its vocabulary.
        max_length: subword tokens per sentence the model was trained with. info: the manifest.
    """

    model: Any
    vocab: SubwordVocab
    max_length: int
    info: dict[str, Any]

    def translate(
        self,
        sources: Sequence[str],
        *,
        beam_size: int = 5,
        length_penalty: float = 1.0,
        batch_size: int = 64,
        max_length: int | None = None,
        progress: bool = False,
    ) -> list[str]:
        """Translate ``sources`` (:func:`textsmooth.seq2seq.decode.translate`)."""
        from textsmooth.seq2seq.decode import translate

        return translate(
            self.model,
            self.vocab,
            sources,
            beam_size=beam_size,
            length_penalty=length_penalty,
            max_length=max_length or self.max_length,
            batch_size=batch_size,
            progress=progress,
        )


def save_translator(
    model: Any,
    vocab: SubwordVocab,
    folder: str | Path,
    *,
    max_length: int,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and ``vocab`` into ``folder`` (replacing an earlier model there, atomically)."""
    from textsmooth.io.manifest import sha256_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        from textsmooth.seq2seq.model import quiet_transformers

        with quiet_transformers():
            model.save_pretrained(tmp, safe_serialization=True)
        pretrained = getattr(vocab, "kind", None) == "pretrained"
        vocab.save(tmp if pretrained else tmp / "vocab")  # a checkpoint's tokenizer: the HF layout
        manifest = {
            "kind": MODEL_KIND,
            "tokenizer": "pretrained" if pretrained else "subword-vocab",
            "textsmooth": __version__,
            "max_length": int(max_length),
            "vocab_sha256": vocab.fingerprint(),
            "weights_sha256": sha256_file(tmp / _WEIGHTS),
            **(info or {}),
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_translator(folder: str | Path) -> Translator:
    """Read a model folder written by :func:`save_translator` (or ``textsmooth seq2seq train``).

    Raises:
        ArtifactError: not a model folder, a missing or changed file (checksums), or a model that is not
            an encoder-decoder.
    """
    from textsmooth.io.manifest import sha256_file
    from textsmooth.seq2seq.model import load_seq2seq_model
    from textsmooth.seq2seq.vocab import SubwordVocab

    folder = Path(folder)
    if not folder.is_dir():
        raise ArtifactError(
            "model folder does not exist" if not folder.exists() else "not a folder", path=folder
        )
    manifest_file = folder / _MANIFEST
    if not manifest_file.is_file():
        raise ArtifactError(
            f"not a textsmooth translation model (no {_MANIFEST})",
            path=folder,
            hint="pass a folder written by `textsmooth seq2seq train` (its model/ sub-folder)"
            + (
                "; a Hugging Face checkpoint with its tokenizer loads with load_checkpoint_translator"
                if (folder / "config.json").is_file()
                else ""
            ),
        )
    try:
        info = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"manifest is not valid JSON ({exc})", path=manifest_file) from exc
    if not isinstance(info, dict) or info.get("kind") != MODEL_KIND:
        raise ArtifactError("manifest is not a seq2seq model manifest", path=manifest_file)
    for key in ("weights_sha256", "vocab_sha256", "max_length"):
        if key not in info:
            raise ArtifactError(
                f"manifest has no {key}", path=manifest_file, hint="the model folder is damaged"
            )
    weights = folder / _WEIGHTS
    if not weights.is_file() or sha256_file(weights) != info["weights_sha256"]:
        raise ArtifactError(
            "model weights are missing or differ from the manifest (sha256)",
            path=weights,
            hint="the folder was changed after training; retrain or restore it",
        )
    if info.get("tokenizer") == "pretrained":
        from textsmooth.seq2seq.pretrained import PretrainedVocab

        vocab: Any = PretrainedVocab.load(folder)
    else:
        vocab = SubwordVocab.load(folder / "vocab")
    if vocab.fingerprint() != info["vocab_sha256"]:
        raise ArtifactError("the vocabulary is not the one the model was trained with", path=folder / "vocab")
    model = load_seq2seq_model(folder)
    model.eval()
    return Translator(model, vocab, int(info["max_length"]), info)


_DEFAULT_CHECKPOINT_LENGTH = 256


def load_checkpoint_translator(
    folder: str | Path,
    *,
    max_length: int | None = None,
    source_lang: str | None = None,
    target_lang: str | None = None,
) -> Translator:
    """A local Hugging Face encoder-decoder checkpoint and its tokenizer, not trained by textsmooth.

    The weights load as ``from_pretrained`` loads them (safetensors, or a PyTorch file through torch's
    weights-only loader); the tokenizer as :meth:`~textsmooth.seq2seq.pretrained.PretrainedVocab.load`.
    ``max_length`` (source tokens kept, longest hypothesis): the model's positions where it has them
    (:func:`~textsmooth.seq2seq.model.position_limit`), else the tokenizer's ``model_max_length`` where it
    is set, else 256. ``source_lang`` / ``target_lang``: the languages of a multilingual checkpoint
    (:meth:`~textsmooth.seq2seq.pretrained.PretrainedVocab.load`; ``None``: its tokenizer's), and
    ``generate`` starts in the target language as fine-tuning does
    (:func:`~textsmooth.seq2seq.pretrained.set_target_language_start`).

    Raises:
        ArtifactError: no ``config.json``, not an encoder-decoder, unreadable weights, or no tokenizer.
        ConfigError: a language the tokenizer does not have.
    """
    from textsmooth._params import check_int
    from textsmooth.seq2seq.model import load_seq2seq_model, position_limit
    from textsmooth.seq2seq.pretrained import PretrainedVocab, set_target_language_start

    folder = Path(folder)
    model = load_seq2seq_model(folder)  # refuses a folder without config.json or an encoder-only model
    vocab = PretrainedVocab.load(folder, source_lang=source_lang, target_lang=target_lang)
    set_target_language_start(model, vocab)
    if max_length is None:
        positions = position_limit(model.config)
        limit = getattr(vocab.tokenizer, "model_max_length", None)
        if positions is not None and positions[0] > 1:
            max_length = positions[0]
        elif isinstance(limit, int) and 1 < limit <= 100_000:  # unset tokenizers say 1e30
            max_length = limit
        else:
            max_length = _DEFAULT_CHECKPOINT_LENGTH
    max_length = check_int("max_length", max_length, low=2)
    model.eval()
    info = {"kind": "checkpoint", "tokenizer": "pretrained", "max_length": max_length, "path": str(folder)}
    return Translator(model, vocab, max_length, info)
