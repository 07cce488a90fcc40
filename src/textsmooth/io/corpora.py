"""Readers for the benchmark corpora in ``../shared/data`` (see each folder's SOURCE.md).

``load_corpus(name, data_root)`` returns ``(train, test)`` :class:`TextDataset` pairs with the published
splits. Conventions (documented here because they change results):

``imdb``
    25,000 / 25,000 movie reviews, labels ``neg``/``pos``; ``<br />`` line breaks become spaces.
``20newsgroups``
    11,314 / 7,532 posts of the bydate split, 20 groups. Like AG News's *title + description*, the text is
    the ``Subject:`` line followed by the body; every other header (``From:``, ``Organization:``,
    ``Lines:`` ...) is dropped because it identifies authors rather than topics. Bytes are latin-1.
``sst2``
    SST-2 as SentEval ships it: 67,349 training *phrases* and 1,821 test sentences (lower-cased,
    tokenised), labels ``negative``/``positive``. The 872 dev sentences are ``load_corpus("sst2-dev")``.
``trec``
    TREC question classification, 5,452 / 500 questions, the 6 coarse classes.
"""

from __future__ import annotations

import json
import lzma
import tarfile
from pathlib import Path

import numpy as np

from textsmooth.errors import ConfigError, DataError
from textsmooth.io.readers import TextDataset

__all__ = ["CORPORA", "default_data_root", "load_corpus"]

CORPORA = ("imdb", "20newsgroups", "sst2", "trec")


def default_data_root() -> Path:
    """``../shared/data`` next to the repository (or the working directory's ``../shared/data``)."""
    here = Path(__file__).resolve()
    for base in [Path.cwd(), *here.parents]:
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def load_corpus(name: str, data_root: str | Path | None = None) -> tuple[TextDataset, TextDataset]:
    """``(train, test)`` of a benchmark corpus (see the module docstring for conventions)."""
    root = Path(data_root) if data_root is not None else default_data_root()
    loaders = {"imdb": _imdb, "20newsgroups": _newsgroups, "sst2": _sst2, "trec": _trec}
    if name not in loaders:
        raise ConfigError(f"unknown corpus {name!r}", hint=f"use one of {', '.join(CORPORA)}")
    if not root.is_dir():
        raise DataError("data folder does not exist", path=root, hint="pass data_root=")
    return loaders[name](root)


def _dataset(
    texts: list[str], names: list[str], label_names: list[str], source: Path, split: str
) -> TextDataset:
    index = {n: i for i, n in enumerate(label_names)}
    labels = np.array([index[n] for n in names], dtype=np.int64)
    return TextDataset(texts=texts, labels=labels, label_names=label_names, source=f"{source}:{split}")


def _need(path: Path) -> Path:
    if not path.exists():
        raise DataError("corpus file does not exist", path=path)
    return path


def _imdb(root: Path) -> tuple[TextDataset, TextDataset]:
    out = []
    for split in ("train", "test"):
        path = _need(root / "imdb" / f"{split}.jsonl.xz")
        texts, names = [], []
        with lzma.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                texts.append(row["text"].replace("<br />", " "))
                names.append("pos" if row["label"] == 1 else "neg")
        out.append(_dataset(texts, names, ["neg", "pos"], path, split))
    return out[0], out[1]


def _strip_headers(message: str) -> str:
    head, _, body = message.partition("\n\n")
    subject = ""
    for line in head.splitlines():
        if line.lower().startswith("subject:"):
            subject = line.split(":", 1)[1].strip()
            break
    return f"{subject}\n{body.strip()}" if subject else body.strip()


def _newsgroups(root: Path) -> tuple[TextDataset, TextDataset]:
    path = _need(root / "20newsgroups" / "20news-bydate.tar.xz")
    splits: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "test": ([], [])}
    with tarfile.open(path, "r:xz") as archive:
        for member in archive:
            if not member.isfile():
                continue
            top, group, _ = member.name.split("/", 2)
            split = "train" if top.endswith("train") else "test"
            raw = archive.extractfile(member).read().decode("latin-1")  # type: ignore[union-attr]
            splits[split][0].append(_strip_headers(raw))
            splits[split][1].append(group)
    groups = sorted(set(splits["train"][1]))
    train = _dataset(*splits["train"], groups, path, "train")
    test = _dataset(*splits["test"], groups, path, "test")
    return train, test


def _sst2(root: Path) -> tuple[TextDataset, TextDataset]:
    out = []
    for split in ("train", "test"):
        path = _need(root / "senteval" / "SST" / "binary" / f"sentiment-{split}.xz")
        texts, names = [], []
        for line in lzma.decompress(path.read_bytes()).decode("utf-8").splitlines():
            if not line.strip():
                continue
            text, _, label = line.rpartition("\t")
            texts.append(text.strip())
            names.append("positive" if label.strip() == "1" else "negative")
        out.append(_dataset(texts, names, ["negative", "positive"], path, split))
    return out[0], out[1]


def _trec(root: Path) -> tuple[TextDataset, TextDataset]:
    out = []
    for split, name in (("train", "train_5500.label.xz"), ("test", "TREC_10.label.xz")):
        path = _need(root / "senteval" / "TREC" / name)
        texts, names = [], []
        for line in lzma.decompress(path.read_bytes()).decode("latin-1").splitlines():
            tag, _, question = line.partition(" ")
            texts.append(question.strip())
            names.append(tag.split(":", 1)[0])
        out.append(_dataset(texts, names, ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"], path, split))
    return out[0], out[1]
