"""Text processing: tokenisers, vocabularies, sparse count matrices, sentence BLEU."""
