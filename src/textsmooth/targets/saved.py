"""Save and load every fitted soft-label generator as data: NPZ (``allow_pickle=False``) + JSON manifest.

One format for all generators that learn something in ``fit``:

============================  ===================  ==================================================
generator                     manifest ``kind``    learned state saved
============================  ===================  ==================================================
:class:`KeywordSmoother`      ``kwls-smoother``    vocabulary, WLR (CSR), WIW, label lengths, X_avg
:class:`TfidfSmoother`        ``tfidf-smoother``   the same
:class:`UniformSmoother`      ``uniform-smoother`` classes and their training counts
:class:`PriorSmoother`        ``prior-smoother``   classes, counts and the prior (class frequencies)
:class:`TeacherSmoother`      ``teacher-smoother`` the teacher's log-probabilities per distinct text
============================  ===================  ==================================================

The NPZ file holds numeric arrays only, plus a member ``meta``: the UTF-8 bytes of a JSON object with
the kind, the parameters, the classes and label names and the array sizes. The manifest beside it
(``MODEL.npz.manifest.json``) carries the same description and the file's sha256. Loading checks the
checksum (a manifest without one is refused), then compares every descriptive field of the manifest
with ``meta`` (an edited manifest is refused, never believed), then checks every array's presence,
dtype, shape and range, so a damaged or hand-made file raises :class:`ArtifactError` (never a
``KeyError`` or ``ValueError`` from numpy or scipy). Nothing is ever unpickled. The same generator fitted
on the same data gives a byte-identical NPZ file.

A generator with code in it cannot be saved as data: a ``TeacherSmoother(teacher=callable)`` raises
:class:`ConfigError`; a callable tokenizer is recorded by name and loaded as ``tokenizer=None`` (set it
again before ``transform``).

Example:
    >>> import tempfile, pathlib
    >>> from textsmooth import PriorSmoother
    >>> smoother = PriorSmoother(0.2).fit(["a", "b", "c"], ["x", "x", "y"])
    >>> path = save_generator(smoother, pathlib.Path(tempfile.mkdtemp()) / "prior.npz")
    >>> load_generator(path).prior_.round(3).tolist()
    [0.667, 0.333]
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ArtifactError, ConfigError, StaleArtifactError
from textsmooth.io.atomic import atomic_write_bytes
from textsmooth.io.manifest import check_manifest_fields, read_manifest, write_manifest
from textsmooth.targets.base import SoftLabelGenerator

__all__ = [
    "FORMAT_VERSION",
    "GENERATOR_KINDS",
    "SavedGenerator",
    "load_generator",
    "save_generator",
    "serialize_generator",
]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedGenerator:
    """A fitted generator serialised in memory, ready to be written (see :func:`serialize_generator`).

    Attributes:
        kind: the manifest kind (``"kwls-smoother"`` ...).
        data: the NPZ file's bytes.
        meta: the description stored in the NPZ (``meta`` member) and in the manifest.
    """

    kind: str
    data: bytes
    meta: dict[str, Any]

    def write(self, path: str | Path) -> Path:
        """Write the NPZ atomically, then its manifest (the commit mark); return ``path``."""
        path = Path(path)
        atomic_write_bytes(path, self.data)
        extra = {k: v for k, v in self.meta.items() if k not in ("kind", "parameters")}
        write_manifest(path, kind=self.kind, parameters=self.meta["parameters"], extra=extra)
        return path


def save_generator(generator: SoftLabelGenerator, path: str | Path) -> Path:
    """Write a fitted generator to ``path`` (NPZ, no pickles) with a JSON manifest, atomically.

    Raises:
        NotFittedError: the generator is not fitted.
        ConfigError: it cannot be saved as data (a teacher callable, classes that are not ints or
            strings, an unsupported generator class).
    """
    return serialize_generator(generator).write(path)


def serialize_generator(generator: SoftLabelGenerator) -> SavedGenerator:
    """Serialise a fitted generator in memory, without writing anything.

    Useful to find out whether a generator can be saved before any file is written.

    Raises:
        NotFittedError, ConfigError: as :func:`save_generator`.
    """
    generator._check_fitted()
    codec = _codec_of(generator)
    classes = _json_classes(generator.classes_)
    label_names = [str(n) for n in getattr(generator, "label_names_", classes)]
    if len(label_names) != len(classes):
        raise ConfigError(f"{len(label_names)} label names for {len(classes)} classes")
    arrays, sizes = codec.encode(generator)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": codec.kind,
        "parameters": _json_params(generator, codec.kind),
        "classes": classes,
        "label_names": label_names,
        "n_classes": len(classes),
        **sizes,
    }
    buffer = io.BytesIO()
    meta_bytes = json.dumps(meta, sort_keys=True).encode("utf-8")
    np.savez(buffer, meta=np.frombuffer(meta_bytes, dtype=np.uint8), **arrays)
    return SavedGenerator(kind=codec.kind, data=buffer.getvalue(), meta=meta)


def load_generator(path: str | Path, kinds: Sequence[str] | None = None) -> SoftLabelGenerator:
    """Load a generator written by :func:`save_generator` (or a smoother's ``save``).

    Args:
        path: the ``.npz`` file; its manifest must be beside it.
        kinds: accepted manifest kinds (default: every generator kind).

    Raises:
        ArtifactError: the file or its manifest is missing, the manifest has no checksum, the file is
            not a saved generator of an accepted kind, or one of its arrays is missing or malformed.
        StaleArtifactError: the file's bytes changed since it was saved, or the manifest was edited.
    """
    path = Path(path)
    manifest = read_manifest(path)
    kind = manifest.get("kind")
    accepted = list(GENERATOR_KINDS) if kinds is None else list(kinds)
    if kind not in accepted or kind not in _codec_table():
        raise ArtifactError(
            f"not a saved generator of kind {' or '.join(accepted)} (its manifest says kind {kind!r})",
            path=path,
        )
    arrays = _read_npz(path)
    meta = _read_meta(arrays.pop("meta", None), path)
    check_manifest_fields(
        manifest,
        {
            "kind": meta.get("kind"),
            "parameters": meta.get("parameters"),
            **{k: v for k, v in meta.items() if k not in ("kind", "parameters")},
        },
        path,
    )
    codec = _codec_table()[kind]
    reader = _Arrays(arrays, path)
    classes = _classes_from_json(meta["classes"], path)
    n_classes = len(classes)
    label_names = meta["label_names"]
    if not (
        isinstance(label_names, list) and len(label_names) == n_classes and meta["n_classes"] == n_classes
    ):
        raise ArtifactError("label names and classes of the saved generator disagree", path=path)
    try:
        generator = codec.cls(**codec.params_from_json(dict(meta["parameters"])))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"saved parameters are not valid: {exc}", path=path) from exc
    generator.classes_ = classes
    generator.label_names_ = [str(n) for n in label_names]
    codec.decode(generator, reader, meta)
    unexpected = sorted(set(arrays) - reader.used)
    if unexpected:
        raise ArtifactError(f"saved generator has unexpected members {unexpected}", path=path)
    return generator


# -- one codec per generator class -----------------------------------------------------------------
@dataclass(frozen=True)
class _Codec:
    kind: str
    cls: type
    encode: Callable[[Any], tuple[dict[str, np.ndarray], dict[str, Any]]]
    decode: Callable[[Any, _Arrays, dict[str, Any]], None]
    params_from_json: Callable[[dict[str, Any]], dict[str, Any]]


class _Arrays:
    """Typed, shape-checked access to an NPZ's members; every problem is an :class:`ArtifactError`."""

    def __init__(self, arrays: Mapping[str, np.ndarray], path: Path) -> None:
        self.arrays = arrays
        self.path = path
        self.used: set[str] = set()

    def get(self, name: str, kind: str, shape: tuple[int | None, ...]) -> np.ndarray:
        if name not in self.arrays:
            raise ArtifactError(f"saved generator has no member {name!r}", path=self.path, hint="re-save it")
        self.used.add(name)
        value = self.arrays[name]
        if value.dtype.kind not in kind:
            raise ArtifactError(f"member {name!r} has dtype {value.dtype}", path=self.path)
        if value.ndim != len(shape) or any(
            w is not None and w != v for w, v in zip(shape, value.shape, strict=True)
        ):
            want = "x".join("?" if w is None else str(w) for w in shape) or "scalar"
            raise ArtifactError(f"member {name!r} has shape {value.shape}, expected {want}", path=self.path)
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ArtifactError(f"member {name!r} holds NaN or infinite values", path=self.path)
        return value

    def fail(self, message: str) -> ArtifactError:
        return ArtifactError(message, path=self.path, hint="re-save it")


def _strings_to_arrays(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def _check_offsets(reader: _Arrays, data: np.ndarray, offsets: np.ndarray, what: str) -> None:
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != data.size or (np.diff(offsets) < 0).any():
        raise reader.fail(f"the {what} offsets are not a valid index into its bytes")


def _arrays_to_strings(reader: _Arrays, data: np.ndarray, offsets: np.ndarray, what: str) -> list[str]:
    _check_offsets(reader, data, offsets, what)
    raw = data.tobytes()
    try:
        return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in itertools.pairwise(offsets.tolist())]
    except UnicodeDecodeError as exc:
        raise reader.fail(f"the {what} bytes are not UTF-8") from exc


def _encode_term(generator: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import pyarrow as pa

    vocabulary = generator.vocabulary_
    if isinstance(vocabulary, pa.ChunkedArray):
        vocabulary = vocabulary.combine_chunks()
    if vocabulary.null_count:
        raise ConfigError("the fitted vocabulary has a missing (null) word")
    large = vocabulary.cast(pa.large_string())
    _, offset_buffer, data_buffer = large.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[large.offset : large.offset + len(large) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    vocab_bytes = data[offsets[0] : offsets[-1]].copy()
    offsets = offsets - offsets[0]
    wlr = generator.word_label_relevance_.tocsr()
    wlr.sort_indices()
    arrays = {
        "vocab_bytes": vocab_bytes,
        "vocab_offsets": offsets,
        "wlr_data": np.asarray(wlr.data, dtype=np.float64),
        "wlr_indices": np.asarray(wlr.indices, dtype=np.int64),
        "wlr_indptr": np.asarray(wlr.indptr, dtype=np.int64),
        "word_instance_weight": np.asarray(generator.word_instance_weight_, dtype=np.float64),
        "label_lengths": np.asarray(generator.label_lengths_, dtype=np.float64),
        "mean_length": np.array(float(generator.mean_length_)),
        "n_instances": np.array(int(generator.n_instances_), dtype=np.int64),
    }
    return arrays, {"n_words": len(large), "n_wlr_entries": int(wlr.nnz)}


def _decode_term(generator: Any, reader: _Arrays, meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import scipy.sparse as sp

    n_words, n_labels, nnz = meta.get("n_words"), len(generator.classes_), meta.get("n_wlr_entries")
    if not (isinstance(n_words, int) and isinstance(nnz, int) and n_words >= 0 and nnz >= 0):
        raise reader.fail("the saved generator does not record its vocabulary size")
    vocab_bytes = reader.get("vocab_bytes", "u", (None,))
    offsets = reader.get("vocab_offsets", "i", (n_words + 1,))
    _check_offsets(reader, vocab_bytes, offsets, "vocabulary")
    vocabulary = pa.LargeStringArray.from_buffers(
        n_words, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(vocab_bytes.astype(np.uint8))
    )
    try:
        vocabulary.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise reader.fail(f"the vocabulary is not valid UTF-8 strings ({exc})") from exc
    data = reader.get("wlr_data", "f", (nnz,))
    indices = reader.get("wlr_indices", "i", (nnz,))
    indptr = reader.get("wlr_indptr", "i", (n_words + 1,))
    if indptr[0] != 0 or indptr[-1] != nnz or (np.diff(indptr) < 0).any():
        raise reader.fail("wlr_indptr is not a valid CSR row index (must rise from 0 to the entry count)")
    if nnz and (indices.min() < 0 or indices.max() >= n_labels):
        raise reader.fail(f"wlr_indices has a label index outside 0..{n_labels - 1}")
    weights = reader.get("word_instance_weight", "f", (n_words,))
    lengths = reader.get("label_lengths", "f", (n_labels,))
    mean_length = float(reader.get("mean_length", "f", ()))
    n_instances = int(reader.get("n_instances", "i", ()))
    if not mean_length > 0 or n_instances < 1:
        raise reader.fail("mean_length and n_instances must be positive")
    generator.vocabulary_ = vocabulary
    generator.word_label_relevance_ = sp.csr_matrix((data, indices, indptr), shape=(n_words, n_labels))
    generator.word_instance_weight_ = weights
    generator.label_lengths_ = lengths
    generator.mean_length_ = mean_length
    generator.n_instances_ = n_instances


def _encode_mixture(generator: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {"class_counts": np.asarray(generator.class_counts_, dtype=np.int64)}, {}


def _decode_mixture(generator: Any, reader: _Arrays, meta: dict[str, Any]) -> None:
    counts = reader.get("class_counts", "i", (len(generator.classes_),))
    if (counts < 0).any():
        raise reader.fail("class_counts has a negative count")
    generator.class_counts_ = counts


def _encode_prior(generator: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, sizes = _encode_mixture(generator)
    return {**arrays, "prior": np.asarray(generator.prior_, dtype=np.float64)}, sizes


def _decode_prior(generator: Any, reader: _Arrays, meta: dict[str, Any]) -> None:
    _decode_mixture(generator, reader, meta)
    prior = reader.get("prior", "f", (len(generator.classes_),))
    if prior.min() < 0 or abs(prior.sum() - 1) > 1e-6:
        raise reader.fail("the saved prior is not a probability distribution")
    generator.prior_ = prior


def _encode_teacher(generator: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if generator.teacher_log_probs_ is None:
        raise ConfigError(
            "a TeacherSmoother that calls a teacher function cannot be saved as data",
            hint="fit it with teacher_outputs=array to save the teacher's outputs",
        )
    texts = list(generator.text_index_)  # insertion order = row order of teacher_log_probs_
    text_bytes, text_offsets = _strings_to_arrays(texts)
    arrays = {
        "text_bytes": text_bytes,
        "text_offsets": text_offsets,
        "teacher_log_probs": np.asarray(generator.teacher_log_probs_, dtype=np.float64),
    }
    return arrays, {"n_texts": len(texts)}


def _decode_teacher(generator: Any, reader: _Arrays, meta: dict[str, Any]) -> None:
    n_texts = meta.get("n_texts")
    if not (isinstance(n_texts, int) and n_texts >= 0):
        raise reader.fail("the saved teacher does not record its number of texts")
    text_bytes = reader.get("text_bytes", "u", (None,))
    offsets = reader.get("text_offsets", "i", (n_texts + 1,))
    texts = _arrays_to_strings(reader, text_bytes, offsets, "text")
    log_probs = reader.get("teacher_log_probs", "f", (n_texts, len(generator.classes_)))
    if len(set(texts)) != n_texts:
        raise reader.fail("the saved teacher texts are not distinct")
    generator.text_index_ = {text: i for i, text in enumerate(texts)}
    generator.teacher_log_probs_ = log_probs


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    if "dtype" in params:
        params["dtype"] = np.dtype(params["dtype"])
    return params


def _term_params(params: dict[str, Any]) -> dict[str, Any]:
    if str(params.get("tokenizer", "")).startswith("callable:"):
        params["tokenizer"] = None
    return _plain_params(params)


def _codecs() -> dict[str, _Codec]:
    from textsmooth.targets.classic import PriorSmoother, UniformSmoother
    from textsmooth.targets.keyword import KeywordSmoother, TfidfSmoother
    from textsmooth.targets.teacher import TeacherSmoother

    return {
        "kwls-smoother": _Codec("kwls-smoother", KeywordSmoother, _encode_term, _decode_term, _term_params),
        "tfidf-smoother": _Codec("tfidf-smoother", TfidfSmoother, _encode_term, _decode_term, _term_params),
        "uniform-smoother": _Codec(
            "uniform-smoother", UniformSmoother, _encode_mixture, _decode_mixture, _plain_params
        ),
        "prior-smoother": _Codec(
            "prior-smoother", PriorSmoother, _encode_prior, _decode_prior, _plain_params
        ),
        "teacher-smoother": _Codec(
            "teacher-smoother", TeacherSmoother, _encode_teacher, _decode_teacher, _plain_params
        ),
    }


@functools.cache
def _codec_table() -> dict[str, _Codec]:
    """The codecs by kind, built on first use (the generator modules import this one lazily)."""
    return _codecs()


#: manifest kinds of the generators this module saves and loads
GENERATOR_KINDS = (
    "kwls-smoother",
    "tfidf-smoother",
    "uniform-smoother",
    "prior-smoother",
    "teacher-smoother",
)


def _codec_of(generator: SoftLabelGenerator) -> _Codec:
    for codec in _codec_table().values():
        if type(generator) is codec.cls:
            return codec
    raise ConfigError(
        f"cannot save a {type(generator).__name__}",
        hint="save_generator supports KeywordSmoother, TfidfSmoother, UniformSmoother, PriorSmoother and "
        "TeacherSmoother",
    )


# -- JSON helpers ------------------------------------------------------------------------------------
#: Parameters that change how fast, not what, a generator computes: not saved (a loaded one gets the
#: default), so a file's bytes and checksum do not depend on the machine it was made on.
RUNTIME_PARAMS = ("n_jobs",)


def result_params(generator: SoftLabelGenerator) -> dict[str, Any]:
    """``generator.get_params()`` without :data:`RUNTIME_PARAMS`: what its soft labels depend on (what
    saved files and output manifests record)."""
    return {k: v for k, v in generator.get_params().items() if k not in RUNTIME_PARAMS}


def _json_params(generator: SoftLabelGenerator, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in result_params(generator).items():
        if name == "dtype":
            out[name] = str(np.dtype(value))
        elif name == "tokenizer" and callable(value):
            out[name] = f"callable:{getattr(value, '__qualname__', 'tokenizer')}"
        elif name == "teacher":
            out[name] = None  # only a teacher's saved outputs are saved (see _encode_teacher)
        elif isinstance(value, np.ndarray):
            out[name] = value.tolist()
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif isinstance(value, list | tuple):
            out[name] = [v.item() if isinstance(v, np.generic) else v for v in value]
        else:
            out[name] = value
        try:
            json.dumps(out[name])
        except TypeError as exc:
            raise ConfigError(
                f"parameter {name!r} of {type(generator).__name__} cannot be saved: {exc}"
            ) from exc
    return out


def _json_classes(classes: np.ndarray) -> list[Any]:
    out = []
    for value in np.asarray(classes).tolist():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(
                f"class {value!r} is a {type(value).__name__}; only integer or string classes can be saved"
            )
        out.append(value)
    return out


def _classes_from_json(classes: Any, path: Path) -> np.ndarray:
    if not isinstance(classes, list) or not classes:
        raise ArtifactError("the saved generator has no list of classes", path=path)
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return np.array(classes, dtype=np.int64)
    if all(isinstance(c, str) for c in classes):
        return np.array(classes, dtype=object)
    raise ArtifactError("the saved classes must be all integers or all strings", path=path)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ArtifactError(f"cannot read the saved generator as NPZ: {exc}", path=path) from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # a plain .npy array
        raise ArtifactError("file is a single NumPy array, not a saved generator (NPZ)", path=path)
    try:
        with loaded as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ArtifactError(f"cannot read the saved generator as NPZ: {exc}", path=path) from exc


def _read_meta(raw: np.ndarray | None, path: Path) -> dict[str, Any]:
    if raw is None:
        raise ArtifactError("saved generator has no member 'meta'", path=path, hint="re-save it")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ArtifactError("member 'meta' is not UTF-8 JSON bytes", path=path)
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"member 'meta' is not valid JSON: {exc}", path=path) from exc
    if not isinstance(meta, dict):
        raise ArtifactError("member 'meta' is not a JSON object", path=path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise StaleArtifactError(
            f"saved with format version {meta.get('format_version')!r}; this textsmooth reads "
            f"version {FORMAT_VERSION}",
            path=path,
            hint="re-save it with this textsmooth",
        )
    for key in ("kind", "parameters", "classes", "label_names", "n_classes"):
        if key not in meta:
            raise ArtifactError(f"member 'meta' has no {key!r}", path=path)
    if not isinstance(meta["parameters"], dict):
        raise ArtifactError("member 'meta' has no parameters object", path=path)
    return meta
