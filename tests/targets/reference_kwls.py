"""A deliberately plain, loop-based KWLS written straight from the paper's equations (1)-(8).

Used only by the tests, as an independent check of the vectorised implementation.
"""

from __future__ import annotations

import math
from collections import Counter


def reference_kwls(
    train_tokens: list[list[str]],
    labels: list[int],
    n_classes: int,
    test_tokens: list[list[str]] | None = None,
    *,
    k1: float = 2.0,
    b: float = 0.75,
    k2: float = 2.0,
    ilr_sum: str = "distinct",
    temperature: float = 1.0,
) -> list[list[float]]:
    test_tokens = train_tokens if test_tokens is None else test_tokens
    n = len(train_tokens)
    # eq. (1): per-label counts and lengths
    label_counts = [Counter() for _ in range(n_classes)]
    label_len = [0] * n_classes
    for tokens, y in zip(train_tokens, labels, strict=True):
        label_counts[y].update(tokens)
        label_len[y] += len(tokens)
    s_avg = sum(label_len) / n_classes
    # eq. (2): number of labels whose instances contain the word
    labels_with: Counter = Counter()
    for m in range(n_classes):
        for word in label_counts[m]:
            labels_with[word] += 1
    # eq. (5): number of instances containing the word
    docs_with: Counter = Counter()
    for tokens in train_tokens:
        for word in set(tokens):
            docs_with[word] += 1
    x_avg = sum(len(t) for t in train_tokens) / n

    def wlr(word: str, m: int) -> float:
        f = label_counts[m][word]
        if f == 0:
            return 0.0
        big_k = k1 * (1 - b + b * label_len[m] / s_avg)
        wlc = f * k1 / (f + big_k)
        wlw = math.log(n_classes / labels_with[word]) + 1
        return wlw * wlc

    out = []
    for tokens in test_tokens:
        counts = Counter(tokens)
        ilr = [0.0] * n_classes
        words = list(counts) if ilr_sum == "distinct" else list(tokens)
        for word in words:
            if word not in docs_with:
                continue
            f = counts[word]
            wir = (math.log(n / docs_with[word]) + 1) * (f * k2 / (f + k2))
            for m in range(n_classes):
                ilr[m] += wlr(word, m) * wir
        z = [v / x_avg / temperature for v in ilr]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        out.append([v / total for v in e])
    return out
