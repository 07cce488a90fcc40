"""Word-similarity targets: every vocabulary word's top-N most similar words, for the similarity-based
reconstruction losses (:mod:`textsmooth.losses.similarity`).

* :func:`read_word_vectors` reads word2vec text / GloVe / fastText ``.vec`` files (optionally compressed);
  :func:`vectors_from_model` takes the input embeddings of a local Hugging Face model;
  :func:`train_word_vectors` trains Word2Vec or FastText on the user's corpus (gensim, seeded, offline);
* :func:`build_similarity_table` builds a :class:`SimilarityTable` (indices and weights, the word first,
  stop words and words without a vector one-hot), saved as NPZ with a manifest;
* :func:`load_stopwords` reads the bundled English list (``"en"``) or a file.

Needs only numpy (torch, when installed, speeds up the top-N search).
"""

from __future__ import annotations

from textsmooth.similarity.stopwords import load_stopwords
from textsmooth.similarity.table import SimilarityTable, build_similarity_table, top_similar
from textsmooth.similarity.train import train_word_vectors
from textsmooth.similarity.vectors import WordVectors, read_word_vectors, vectors_from_model

__all__ = [
    "SimilarityTable",
    "WordVectors",
    "build_similarity_table",
    "load_stopwords",
    "read_word_vectors",
    "top_similar",
    "train_word_vectors",
    "vectors_from_model",
]
