"""Finding the project's data folders, and readers for the benchmark corpora (see each folder's SOURCE.md).

Finding data. Every loader of textsmooth (``load_corpus`` here, ``load_multi30k`` in
:mod:`textsmooth.sequence.data`) finds its folder with :func:`find_data_dir`, one rule:

1. an explicit ``root`` (the data folder holding ``<name>/``, or the ``<name>`` folder itself): only
   that place is searched;
2. otherwise the folder named by the environment variable ``TEXTSMOOTH_DATA`` (:data:`DATA_ENV`),
   then the known places: ``shared/data`` beside the checkout (``../shared/data`` next to the
   repository folder, found from where the package is), the data bundled in the package
   (``textsmooth/data``), and the current directory (``./<name>``, then ``shared/data`` beside it or
   one of its parents). The first that holds ``<name>/`` (with its marker file or folder) wins, so
   the result does not depend on the working directory when the repository layout is there.

The error names every place searched and the environment variable.

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
    tokenised), labels ``negative``/``positive``. ``load_corpus("sst2-dev")`` returns
    ``(train, dev)`` with the 872 dev sentences instead of the test set (for tuning).
``trec``
    TREC question classification, 5,452 / 500 questions, the 6 coarse classes.

``load_sentences(name, data_root)`` returns the unlabelled sentences of a SentEval corpus, for
autoencoders: ``mr`` (10,662 movie-review snippets, positive file then negative) and ``subj`` (10,000
plot and review sentences, subjective then objective), lower-cased and tokenised by SentEval.
"""

from __future__ import annotations

import json
import lzma
import os
import tarfile
from importlib import resources
from pathlib import Path

import numpy as np

from textsmooth.errors import ConfigError, DataError
from textsmooth.io.readers import TextDataset, split_lines

__all__ = [
    "CORPORA",
    "DATA_ENV",
    "SENTENCE_CORPORA",
    "data_search_paths",
    "find_data_dir",
    "load_corpus",
    "load_sentences",
]

CORPORA = ("imdb", "20newsgroups", "sst2", "sst2-dev", "trec")
DATA_ENV = "TEXTSMOOTH_DATA"

# corpus -> (folder under the data root, a file or folder inside it that identifies it)
_LOCATIONS = {
    "imdb": ("imdb", "train.jsonl.xz"),
    "20newsgroups": ("20newsgroups", "20news-bydate.tar.xz"),
    "sst2": ("senteval", "SST/binary"),
    "sst2-dev": ("senteval", "SST/binary"),
    "trec": ("senteval", "TREC"),
}


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for path in paths:
        key = path.absolute()
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def data_search_paths() -> list[Path]:
    """The data folders searched, in order, when no explicit root is given (see the module docstring).

    ``$TEXTSMOOTH_DATA`` first (when set), then ``shared/data`` beside the checkout, the bundled package
    data, the current directory, and ``shared/data`` beside the current directory or its parents.
    """
    places: list[Path] = []
    env = os.environ.get(DATA_ENV)
    if env:
        places.append(Path(env).expanduser())
    package = Path(__file__).resolve().parent.parent  # .../textsmooth
    places += [ancestor / "shared" / "data" for ancestor in package.parents]
    places.append(Path(str(resources.files("textsmooth") / "data")))
    cwd = Path.cwd().resolve()
    places.append(cwd)
    places += [ancestor / "shared" / "data" for ancestor in (cwd, *cwd.parents)]
    return _unique(places)


def _holds(folder: Path, marker: str | None) -> bool:
    return folder.is_dir() and (marker is None or (folder / marker).exists())


def find_data_dir(name: str, root: str | Path | None = None, *, marker: str | None = None) -> Path:
    """The folder of data set ``name`` (e.g. ``"multi30k"``, ``"senteval"``), found by one rule.

    Args:
        name: the folder's name under a data root (``../shared/data/<name>``).
        root: an explicit place: a data root holding ``<name>/``, or the ``<name>`` folder itself
            (recognised by ``marker``, or by its name when there is no marker). Only it is searched.
        marker: a path inside the folder that must exist (``"task1"`` for Multi30k), so an unrelated
            folder of the same name is not taken.

    Returns:
        The folder, as found (not resolved).

    Raises:
        DataError: not found; the message lists every place searched and names ``TEXTSMOOTH_DATA``.

    Without ``root``: ``$TEXTSMOOTH_DATA``, then the known places (:func:`data_search_paths`); the
    first place holding ``<name>/`` wins.
    """
    if root is not None:
        base = Path(root).expanduser()
        tried = [base / name, base]
        if _holds(base / name, marker):
            return base / name
        if _holds(base, marker) and (marker is not None or base.name == name):
            return base
    else:
        tried = [place / name for place in data_search_paths()]
        for folder in tried:
            if _holds(folder, marker):
                return folder
    what = f"{name}/" + (f" (with {marker})" if marker else "")
    env = os.environ.get(DATA_ENV)
    env_note = f"{DATA_ENV}={env}" if env else f"{DATA_ENV} is not set"
    raise DataError(
        f"data folder {what} not found; searched: {', '.join(str(p) for p in _unique(tried))} ({env_note})",
        hint=(
            f"pass root= (the folder holding {name}/), or set {DATA_ENV} to a folder holding {name}/"
            if root is None
            else f"root= must be the folder holding {name}/ or that folder itself"
        ),
    )


def load_corpus(name: str, data_root: str | Path | None = None) -> tuple[TextDataset, TextDataset]:
    """``(train, test)`` of a benchmark corpus (see the module docstring for conventions).

    ``data_root``: the data folder holding the corpus folder (``imdb/``, ``senteval/`` ...) or that
    folder itself; default: found by :func:`find_data_dir` (``$TEXTSMOOTH_DATA``, then the known places).
    """
    loaders = {
        "imdb": _imdb,
        "20newsgroups": _newsgroups,
        "sst2": _sst2,
        "sst2-dev": _sst2_dev,
        "trec": _trec,
    }
    if name not in loaders:
        raise ConfigError(f"unknown corpus {name!r}", hint=f"use one of {', '.join(CORPORA)}")
    folder, marker = _LOCATIONS[name]
    return loaders[name](find_data_dir(folder, data_root, marker=marker))


SENTENCE_CORPORA = {
    "mr": ("MR/rt-polarity.pos.xz", "MR/rt-polarity.neg.xz"),
    "subj": ("SUBJ/subj.subjective.xz", "SUBJ/subj.objective.xz"),
}


def load_sentences(name: str, data_root: str | Path | None = None) -> list[str]:
    """The sentences of SentEval corpus ``name`` (``mr`` or ``subj``; module docstring), blank lines
    dropped, surrounding white space stripped. The files are latin-1 (SentEval escaped non-ASCII bytes)."""
    if name not in SENTENCE_CORPORA:
        raise ConfigError(
            f"unknown sentence corpus {name!r}", hint=f"use one of {', '.join(SENTENCE_CORPORA)}"
        )
    root = find_data_dir("senteval", data_root, marker=SENTENCE_CORPORA[name][0].split("/")[0])
    sentences: list[str] = []
    for relative in SENTENCE_CORPORA[name]:
        with lzma.open(_need(root / relative), "rt", encoding="latin-1") as handle:
            sentences.extend(line.strip() for line in handle if line.strip())
    return sentences


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
        path = _need(root / f"{split}.jsonl.xz")
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
    for line in split_lines(head):
        if line.lower().startswith("subject:"):
            subject = line.split(":", 1)[1].strip()
            break
    return f"{subject}\n{body.strip()}" if subject else body.strip()


def _newsgroups(root: Path) -> tuple[TextDataset, TextDataset]:
    path = _need(root / "20news-bydate.tar.xz")
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


def _sst2(root: Path, splits: tuple[str, str] = ("train", "test")) -> tuple[TextDataset, TextDataset]:
    out = []
    for split in splits:
        path = _need(root / "SST" / "binary" / f"sentiment-{split}.xz")
        texts, names = [], []
        for line in split_lines(lzma.decompress(path.read_bytes()).decode("utf-8")):
            if not line.strip():
                continue
            text, _, label = line.rpartition("\t")
            texts.append(text.strip())
            names.append("positive" if label.strip() == "1" else "negative")
        out.append(_dataset(texts, names, ["negative", "positive"], path, split))
    return out[0], out[1]


def _sst2_dev(root: Path) -> tuple[TextDataset, TextDataset]:
    return _sst2(root, ("train", "dev"))


def _trec(root: Path) -> tuple[TextDataset, TextDataset]:
    out = []
    for split, name in (("train", "train_5500.label.xz"), ("test", "TREC_10.label.xz")):
        path = _need(root / "TREC" / name)
        texts, names = [], []
        for line in split_lines(lzma.decompress(path.read_bytes()).decode("latin-1")):
            tag, _, question = line.partition(" ")
            texts.append(question.strip())
            names.append(tag.split(":", 1)[0])
        out.append(_dataset(texts, names, ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"], path, split))
    return out[0], out[1]
