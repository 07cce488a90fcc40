"""Saved classifiers: a self-describing model folder, written atomically and verified when loaded.

A folder written by :func:`save_classifier` (``train_classifier(..., out_dir=D)`` writes one to ``D/model``)::

    model/
      manifest.json        kind "textsmooth-classifier", library version, model type and constructor
                           arguments, max_length, class names, the training configuration, and the
                           sha256 of every other file in the folder (and of the manifest itself)
      model.safetensors    the model's weights (safetensors: tensors only, nothing executable)
      vocab.json           TextCNN / BiLSTM: the word vocabulary (JSON)
      encoder/             Hugging Face encoder: its config.json and tokenizer files (the weights,
                           fine-tuned, are in model.safetensors)

:func:`load_classifier` checks the manifest (kind, format version, its own checksum), then the checksum of
every file it lists, *before* reading any of them; a missing, modified or foreign file is an
:class:`~textsmooth.errors.ArtifactError` that names it, and weights that do not fit the architecture the
manifest describes are a :class:`~textsmooth.errors.ModelLoadError`. Nothing is unpickled.

Example (runs offline in a few seconds)::

    result = train_classifier(train, dev, TrainConfig(epochs=2), out_dir="runs/one")   # writes runs/one/model
    clf = load_classifier("runs/one/model")
    clf.classes_                         # array(['ABBR', 'DESC', ...])
    clf.predict_proba(["Who wrote Hamlet?"])   # (1, n_classes) float32, rows sum to 1
    clf.predict(["Who wrote Hamlet?"])         # array(['HUM'])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textsmooth._version import __version__
from textsmooth.errors import ArtifactError, ConfigError, InputError, ModelLoadError, StaleArtifactError
from textsmooth.io.atomic import atomic_write_text
from textsmooth.io.manifest import read_manifest, sha256_file
from textsmooth.models import split_logits
from textsmooth.training.factory import TextFeaturizer

__all__ = [
    "CLASSIFIER_KIND",
    "FORMAT_VERSION",
    "SavedClassifier",
    "check_device",
    "check_replaceable",
    "load_classifier",
    "save_classifier",
]

CLASSIFIER_KIND = "textsmooth-classifier"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.json"
ENCODER_DIR = "encoder"
MANIFEST_FILE = "manifest.json"
_MODEL_TYPES = ("textcnn", "bilstm", "hf-encoder")
_SAVE_HINT = "save the model again (train with out_dir, or TrainResult.save)"


# ---------------------------------------------------------------------------------------------- saving
def _model_type(model: nn.Module) -> str:
    from textsmooth.models import BiLSTM, HFEncoderClassifier, TextCNN

    if isinstance(model, TextCNN):
        return "textcnn"
    if isinstance(model, BiLSTM):
        return "bilstm"
    if isinstance(model, HFEncoderClassifier):
        return "hf-encoder"
    raise ConfigError(
        f"cannot save a {type(model).__name__}",
        hint="save_classifier knows TextCNN, BiLSTM and HFEncoderClassifier",
    )


def _manifest_digest(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _dir_mode() -> int:
    from textsmooth.io.atomic import file_mode

    mode = file_mode()
    return mode | ((mode & 0o444) >> 2)  # x wherever r is allowed: 0o644 -> 0o755


def check_replaceable(path: str | Path) -> None:
    """Raise :class:`ConfigError` unless ``path`` is absent or a textsmooth classifier folder.

    :func:`save_classifier` replaces an earlier saved classifier, never a user's file or folder.
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise ConfigError(f"{path} is a file, not a model folder", hint="choose another path for the model")
    manifest = path / MANIFEST_FILE
    try:
        kind = json.loads(manifest.read_text(encoding="utf-8")).get("kind")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        kind = None
    if kind != CLASSIFIER_KIND and any(path.iterdir()):
        raise ConfigError(
            f"{path} exists and is not a saved textsmooth classifier; refusing to replace it",
            hint="move it away or choose another path for the model",
        )


def _share_like_other_outputs(folder: Path) -> None:
    """Give every file and folder under ``folder`` the mode ``open()`` would (``0o644`` with umask 022):
    safetensors writes its file private (``0o600``), which would leave a model folder shared with a group
    or another account with readable vocabulary and manifest but unreadable weights."""
    from textsmooth.io.atomic import file_mode

    for item in folder.rglob("*"):
        os.chmod(item, _dir_mode() if item.is_dir() else file_mode())


@contextlib.contextmanager
def _atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` (old one removed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, _dir_mode())
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_classifier(
    path: str | Path,
    model: nn.Module,
    featurizer: TextFeaturizer,
    classes: Sequence[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` and what it needs to predict to the folder ``path`` (see the module docstring).

    Args:
        path: the model folder; an earlier saved classifier there is replaced, anything else is refused.
        model: a :class:`~textsmooth.models.TextCNN`, :class:`~textsmooth.models.BiLSTM` or
            :class:`~textsmooth.models.HFEncoderClassifier`.
        featurizer: the :class:`~textsmooth.training.factory.TextFeaturizer` the model was trained with.
        classes: the label name of each output (``classes[i]`` for output ``i``).
        parameters: the training configuration (recorded, e.g. ``TrainConfig.to_dict()``).
        inputs: descriptions of the training data (recorded).
        extra: more JSON-ready fields for the manifest (e.g. the best epoch and its dev metrics).

    The folder appears complete or not at all: it is built beside ``path`` and renamed into place.

    Raises:
        ConfigError: an unknown model type, a class count that differs from the model's outputs, or
            ``path`` holds something that is not a saved classifier.
    """
    path = Path(path)
    model_type = _model_type(model)
    classes = [str(c) for c in classes]
    if len(classes) != model.heads.n_classes or len(set(classes)) != len(classes):
        raise ConfigError(
            f"{len(classes)} class names (unique: {len(set(classes))}) for a model with "
            f"{model.heads.n_classes} outputs",
            column="classes",
        )
    if model_type != "hf-encoder" and featurizer.vocab is None:
        raise ConfigError("a word-vocabulary model needs its WordVocab featurizer", column="featurizer")
    check_replaceable(path)
    from textsmooth._extras import require

    require("safetensors", extra="torch", feature="save_classifier")
    from safetensors.torch import save_model

    with _atomic_folder(path) as tmp:
        save_model(model, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "library": "textsmooth"})
        if featurizer.vocab is not None:
            featurizer.vocab.save(tmp / VOCAB_FILE)
        if model_type == "hf-encoder":
            encoder_dir = tmp / ENCODER_DIR
            model.encoder.config.save_pretrained(str(encoder_dir))
            model.tokenizer.save_pretrained(str(encoder_dir))
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        _share_like_other_outputs(tmp)
        manifest: dict[str, Any] = {
            "library": "textsmooth",
            "version": __version__,
            "kind": CLASSIFIER_KIND,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "parameters": dict(parameters or {}),
            "inputs": dict(inputs or {}),
            "model_type": model_type,
            "model_config": model.get_config(),
            "max_length": int(featurizer.max_length),
            "classes": classes,
            "files": files,
            **dict(extra or {}),
        }
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        atomic_write_text(tmp / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return path


# --------------------------------------------------------------------------------------------- loading
class SavedClassifier:
    """A classifier loaded by :func:`load_classifier`: ``predict_proba``, ``predict`` and ``classes_``.

    Attributes:
        classes_: ``(n_classes,)`` array of label names; column ``i`` of :meth:`predict_proba` is
            ``classes_[i]``.
        model: the ``torch.nn.Module`` (in eval mode, on ``device``).
        featurizer: texts -> model inputs, as in training (same vocabulary/tokenizer and ``max_length``).
        manifest: the folder's manifest (training configuration, versions, checksums).
        path: the model folder.
    """

    def __init__(
        self,
        model: nn.Module,
        featurizer: TextFeaturizer,
        classes: Sequence[str],
        manifest: dict[str, Any],
        path: Path,
        device: str = "cpu",
    ) -> None:
        self.model = model
        self.featurizer = featurizer
        self.classes_ = np.asarray([str(c) for c in classes])
        self.manifest = manifest
        self.path = path
        self.device = device

    @property
    def n_classes(self) -> int:
        return len(self.classes_)

    def __repr__(self) -> str:
        kind = self.manifest.get("model_type")
        return f"SavedClassifier({kind}, {self.n_classes} classes, path={str(self.path)!r})"

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 256, *, progress: bool = False
    ) -> np.ndarray:
        """Softmax probabilities ``(len(texts), n_classes)`` float32, in eval mode without gradients.

        Texts are encoded and scored ``batch_size`` at a time, exactly as the training loop evaluates.

        Raises:
            InputError: ``texts`` is a single string, holds a non-string, or ``batch_size < 1``.
        """
        if isinstance(texts, str | bytes):
            raise InputError("texts must be a list of strings, not one string", hint="wrap it: [text]")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"texts[{i}] is {type(text).__name__}, not a string")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(
                f"batch_size must be a positive integer, got {batch_size!r}", option="--batch-size"
            )
        self.model.eval()
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="predicting", unit="batch", leave=False)
        out = []
        with torch.no_grad():
            for start in starts:
                features = self.featurizer(texts[start : start + batch_size])
                batch = {k: v.to(self.device) for k, v in features.items()}
                logits, _ = split_logits(self.model(**batch))
                out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """The most probable label name of each text (an array of strings from :attr:`classes_`)."""
        return self.classes_[self.predict_proba(texts, batch_size).argmax(axis=1)]


def _not_a_model_folder(path: Path) -> ArtifactError:
    hint = _SAVE_HINT
    if (path / "checkpoint.pt").exists() or (path / "model" / MANIFEST_FILE).exists():
        hint = f"this looks like a training output folder; the saved model is {path / 'model'}"
    elif (path / "config.json").exists():
        hint = "this looks like a Hugging Face model folder; pass a folder saved by textsmooth training"
    return ArtifactError(
        f"no {MANIFEST_FILE}: not a classifier saved by textsmooth (or an unfinished one)",
        path=path,
        hint=hint,
    )


def _read_checked_manifest(path: Path) -> dict[str, Any]:
    mpath = path / MANIFEST_FILE
    if not mpath.is_file():
        raise _not_a_model_folder(path)
    try:
        manifest = read_manifest(path, kind=CLASSIFIER_KIND)
    except StaleArtifactError as exc:  # another kind of artifact: say what it is and where
        raise ArtifactError(
            exc.message, path=mpath, hint="pass a folder saved by textsmooth training"
        ) from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"unsupported model folder format {manifest.get('format_version')!r} (this is textsmooth "
            f"{__version__}, which reads format {FORMAT_VERSION})",
            path=mpath,
            hint="use the textsmooth version that saved it, or save the model again",
        )
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise ArtifactError(
            "the manifest was modified after it was written (its checksum does not match)",
            path=mpath,
            hint=_SAVE_HINT,
        )
    problems = []
    if manifest.get("model_type") not in _MODEL_TYPES:
        problems.append(f"model_type {manifest.get('model_type')!r}")
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        problems.append("classes")
    if not isinstance(manifest.get("model_config"), dict):
        problems.append("model_config")
    if not isinstance(manifest.get("files"), dict) or WEIGHTS_FILE not in manifest["files"]:
        problems.append("files")
    if isinstance(manifest.get("max_length"), bool) or not isinstance(manifest.get("max_length"), int):
        problems.append("max_length")
    if problems:
        raise ArtifactError(f"manifest has no valid {', '.join(problems)}", path=mpath, hint=_SAVE_HINT)
    return manifest


def _verify_files(path: Path, manifest: dict[str, Any]) -> None:
    root = path.resolve()
    needed = {"textcnn": [VOCAB_FILE], "bilstm": [VOCAB_FILE], "hf-encoder": [f"{ENCODER_DIR}/config.json"]}
    for name in [WEIGHTS_FILE, *needed[manifest["model_type"]]]:
        if name not in manifest["files"]:
            raise ArtifactError(f"manifest lists no {name}", path=path / MANIFEST_FILE, hint=_SAVE_HINT)
    for name, digest in manifest["files"].items():
        file = path / name
        if not file.resolve().is_relative_to(root):
            raise ArtifactError(
                f"manifest lists a file outside the folder: {name!r}", path=path / MANIFEST_FILE
            )
        if not file.is_file():
            raise ArtifactError("file listed in the manifest is missing", path=file, hint=_SAVE_HINT)
        if sha256_file(file) != digest:
            raise ArtifactError(
                "file does not match the checksum in the manifest (it was modified or corrupted)",
                path=file,
                hint=_SAVE_HINT,
            )


def _build(path: Path, manifest: dict[str, Any]) -> tuple[nn.Module, TextFeaturizer]:
    from textsmooth.models import BiLSTM, HFEncoderClassifier, TextCNN, WordVocab

    config = dict(manifest["model_config"])
    mpath = path / MANIFEST_FILE
    model_type = manifest["model_type"]
    # building initialises weights at random: leave the caller's random state as it was
    with torch.random.fork_rng(devices=[]):
        try:
            if model_type == "hf-encoder":
                config["model_path"] = path / ENCODER_DIR
                config["max_length"] = config.get("max_length") or manifest["max_length"]
                model: nn.Module = HFEncoderClassifier(**config, pretrained=False)
                return model, TextFeaturizer(model, manifest["max_length"])
            vocab = WordVocab.load(path / VOCAB_FILE)
            model = (TextCNN if model_type == "textcnn" else BiLSTM)(**config)
        except (TypeError, ConfigError, InputError) as exc:
            raise ArtifactError(f"model_config does not describe a {model_type}: {exc}", path=mpath) from exc
    if len(vocab) != config.get("vocab_size"):
        raise ArtifactError(
            f"vocabulary has {len(vocab)} ids, the model {config.get('vocab_size')}", path=path / VOCAB_FILE
        )
    return model, TextFeaturizer(vocab, manifest["max_length"])


def check_device(device: str, *, option: str | None = None) -> None:
    """Raise :class:`ConfigError` unless torch can place a model on ``device`` on this machine.

    ``"bogus"`` is not a device; ``"cuda"`` needs a CUDA build of torch and a GPU (``"cuda:2"`` a third
    one), ``"mps"`` an Apple GPU. ``option`` (``"--device"``) is named in the message for the CLI.
    """
    from textsmooth.training.config import check_device_name

    check_device_name(device, option=option)
    kind, _, index = device.partition(":")
    number = int(index) if index else 0
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        available = number < count
        found = f"{count} CUDA device(s) found" if torch.version.cuda else "torch is built without CUDA"
    elif kind == "mps":
        available, found = torch.backends.mps.is_available(), "no Apple GPU"
    elif kind == "xpu":
        available, found = hasattr(torch, "xpu") and torch.xpu.is_available(), "no XPU"
    else:
        available, found = True, ""
    if not available:
        raise ConfigError(
            f"device {device!r} is not available ({found})",
            option=option,
            column=None if option else "device",
            hint="use cpu, or a device this machine has",
        )


def check_single_process(trainer: str) -> None:
    """Raise :class:`ConfigError` when this process is one of several launched together (``torchrun``,
    ``accelerate launch``: ``WORLD_SIZE`` > 1). ``trainer`` (``"train_seq2seq"``) trains in one process:
    under such a launcher every process would train the same model and write the same folder.
    """
    world = os.environ.get("WORLD_SIZE", "1")
    if world.strip().isdigit() and int(world) > 1:
        rank = os.environ.get("RANK", "?")
        raise ConfigError(
            f"{trainer} trains in one process, but this is process {rank} of {world} (WORLD_SIZE={world}): "
            "every process would train the same model into the same folder",
            hint="start it once with python; for several GPUs use the Hugging Face Trainer integration "
            "(SoftLabelTrainer, SemanticSeq2SeqTrainer), which runs under torchrun with DDP",
        )


def load_classifier(path: str | Path, *, device: str = "cpu") -> SavedClassifier:
    """Load a classifier folder written by :func:`save_classifier` (or by ``train_classifier(out_dir=D)``
    into ``D/model``), after verifying its manifest and the checksum of every file.

    Args:
        path: the model folder.
        device: where the model runs (``"cpu"``, ``"cuda"``, ...).

    Raises:
        ModelLoadError: the path does not exist or is a file; the weights do not fit the architecture the
            manifest describes; the Hugging Face encoder files cannot be loaded.
        ArtifactError: no manifest, or one of another kind or format; a file missing or not matching its
            checksum; a manifest edited by hand.
        ConfigError: ``device`` is not a device, or not one this machine has.
    """
    check_device(device)
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(
            "model folder does not exist", path=path, hint="pass a folder saved by textsmooth"
        )
    if not path.is_dir():
        raise ModelLoadError(
            "is a file, expected a model folder saved by textsmooth",
            path=path,
            hint="training writes it to OUT_DIR/model",
        )
    manifest = _read_checked_manifest(path)
    _verify_files(path, manifest)
    model, featurizer = _build(path, manifest)
    classes = manifest["classes"]
    if model.heads.n_classes != len(classes):
        raise ArtifactError(
            f"manifest names {len(classes)} classes for a model with {model.heads.n_classes} outputs",
            path=path / MANIFEST_FILE,
        )
    from textsmooth._extras import require

    require("safetensors", extra="torch", feature="load_classifier")
    from safetensors.torch import load_model

    weights = path / WEIGHTS_FILE
    try:
        load_model(model, str(weights), strict=True)
    except Exception as exc:  # safetensors and torch raise several kinds for corrupt or mismatched weights
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"weights do not fit the {manifest['model_type']} the manifest describes ({first})",
            path=weights,
            hint=_SAVE_HINT,
        ) from exc
    model.to(device).eval()
    return SavedClassifier(model, featurizer, classes, manifest, path, device)
