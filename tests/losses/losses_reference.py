"""Plain float64 reference implementations of the losses, written from the formulas, loop by loop.

They share no code with ``textsmooth.losses``: targets are built entry by entry, log-probabilities with
the textbook max-shifted formula. Written with differentiable torch float64 operations so that autograd
gives the reference gradient too.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

F64 = torch.float64


def log_probs(z: Tensor) -> Tensor:
    """log softmax of each row: z - max - log(sum exp(z - max))."""
    z = z.to(F64)
    m = z.max(dim=-1, keepdim=True).values.detach()
    return z - m - torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))


def zero_like_row(row: Tensor) -> Tensor:
    """0 for a skipped position, kept in the graph (so a batch of padding still has a zero gradient)."""
    return (row.to(F64) * 0.0).sum()


def reduce(rows: list[Tensor], denominator: float, reduction: str, num_items: float | None = None) -> Tensor:
    stacked = torch.stack(rows) if rows else torch.zeros(0, dtype=F64)
    if reduction == "none":
        return stacked
    total = stacked.sum()
    if reduction == "sum":
        return total
    d = num_items if num_items is not None else denominator
    return total / d if d != 0 else total * 0.0


def smoothed_target(y: int, C: int, eps: float, prior: list[float] | None, convention: str) -> Tensor:
    pi = [1.0 / C] * C if prior is None else [float(v) for v in prior]
    q = [0.0] * C
    if convention == "all":
        for j in range(C):
            q[j] = eps * pi[j]
        q[y] += 1.0 - eps
    else:
        rest = 1.0 - pi[y]
        for j in range(C):
            q[j] = 1.0 - eps if j == y else eps * pi[j] / rest
    return torch.tensor(q, dtype=F64)


def smoothed_ce(
    z: Tensor,
    t: Tensor,
    eps: float,
    *,
    prior: Tensor | None = None,
    convention: str = "all",
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    num_items: float | None = None,
) -> Tensor:
    z2 = z.reshape(-1, z.shape[-1])
    t1 = t.reshape(-1).tolist()
    C = z2.shape[1]
    lp = log_probs(z2)
    w = torch.ones(C, dtype=F64) if weight is None else weight.to(F64)
    pr = None if prior is None else prior.tolist()
    rows, denom = [], 0.0
    for i, y in enumerate(t1):
        if y == ignore_index:
            rows.append(zero_like_row(lp[i]))
            continue
        q = smoothed_target(y, C, eps, pr, convention)
        rows.append(-(w * q * lp[i]).sum())
        denom += float(w[y])
    out = reduce(rows, denom, reduction, num_items)
    return out.reshape(t.shape) if reduction == "none" else out


def nll(z: Tensor, t: Tensor, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    z2 = z.reshape(-1, z.shape[-1])
    lp = log_probs(z2)
    rows, n = [], 0.0
    for i, y in enumerate(t.reshape(-1).tolist()):
        if y == ignore_index:
            rows.append(zero_like_row(lp[i]))
        else:
            rows.append(-lp[i, y])
            n += 1
    out = reduce(rows, n, reduction)
    return out.reshape(t.shape) if reduction == "none" else out


def soft_ce(z: Tensor, soft: Tensor, reduction: str = "mean", skip: list[bool] | None = None) -> Tensor:
    z2 = z.reshape(-1, z.shape[-1])
    q2 = soft.reshape(-1, z.shape[-1]).to(F64)
    lp = log_probs(z2)
    rows, n = [], 0.0
    for i in range(z2.shape[0]):
        if (skip is not None and skip[i]) or float(q2[i].sum()) == 0.0:
            rows.append(zero_like_row(lp[i]))
            continue
        acc = torch.zeros((), dtype=F64)
        for j in range(z2.shape[1]):
            acc = acc - q2[i, j] * lp[i, j]
        rows.append(acc)
        n += 1
    return reduce(rows, n, reduction)


def dense_from_sparse(indices: Tensor, weights: Tensor, C: int, pad: int = -100) -> Tensor:
    P, N = indices.shape
    q = torch.zeros(P, C, dtype=F64)
    for i in range(P):
        for k in range(N):
            j = int(indices[i, k])
            if j != pad:
                q[i, j] += float(weights[i, k])
    return q


def confidence_penalty(z: Tensor, t: Tensor, beta: float, reduction: str = "mean") -> Tensor:
    lp = log_probs(z)
    rows, n = [], 0.0
    for i, y in enumerate(t.tolist()):
        if y == -100:
            rows.append(zero_like_row(lp[i]))
            continue
        entropy = -(torch.exp(lp[i]) * lp[i]).sum()
        rows.append(-lp[i, y] - beta * entropy)
        n += 1
    return reduce(rows, n, reduction)


def kwls_eq9(z: Tensor, t: Tensor, d: Tensor, alpha: float) -> Tensor:
    """Equation (9) literally: -sum_i sum_j [l log o - alpha/p (d - o)^2] / (2 N (1 + alpha)^2)."""
    N, p = z.shape
    lp = log_probs(z)
    o = torch.exp(lp)
    total = torch.zeros((), dtype=F64)
    for i in range(N):
        for j in range(p):
            l_ij = 1.0 if j == int(t[i]) else 0.0
            total = total + (l_ij * lp[i, j] - alpha / p * (float(d[i, j]) - o[i, j]) ** 2)
    return -total / (2 * N * (1 + alpha) ** 2)


def kwls_two_head(z: Tensor, aux: Tensor, t: Tensor, d: Tensor, alpha: float) -> Tensor:
    """mean cross-entropy + alpha * mean-over-elements MSE(softmax(aux), d), divided by (1 + alpha)^2."""
    N, p = z.shape
    lp = log_probs(z)
    o2 = torch.exp(log_probs(aux))
    ce = sum(-lp[i, int(t[i])] for i in range(N)) / N
    mse = sum((float(d[i, j]) - o2[i, j]) ** 2 for i in range(N) for j in range(p)) / (N * p)
    return (ce + alpha * mse) / (1 + alpha) ** 2


def sequence_smoothed(nt: Tensor, nr: Tensor, mask: Tensor, alpha: float, reduction: str = "mean") -> Tensor:
    rows = []
    for b in range(nt.shape[0]):
        real = [k for k in range(nr.shape[1]) if bool(mask[b, k])]
        loss = nt[b].to(F64)
        if real:
            loss = loss + alpha / len(real) * sum(nr[b, k].to(F64) for k in real)
        rows.append(loss)
    return reduce(rows, float(nt.shape[0]), reduction)


def similarity(
    kind: str,
    z: Tensor,
    t: Tensor,
    neighbors: Tensor,
    sims: Tensor,
    stop: set[int],
    normalize: bool = True,
    reduction: str = "mean",
) -> Tensor:
    lp = log_probs(z)
    rows, n = [], 0.0
    for i, y in enumerate(t.tolist()):
        if y == -100:
            rows.append(zero_like_row(lp[i]))
            continue
        n += 1
        entries = [(int(neighbors[y, k]), float(sims[y, k])) for k in range(neighbors.shape[1])]
        entries = [(j, s) for j, s in entries if j >= 0 and s != 0.0]
        if y in stop or not entries:
            rows.append(-lp[i, y])
            continue
        if kind == "soft_label":
            total = sum(s for _, s in entries) if normalize else 1.0
            rows.append(-sum(s / total * lp[i, j] for j, s in entries))
        elif kind == "weighted_similarity":
            rows.append(-sum(s * torch.exp(lp[i, j]) for j, s in entries))
        else:
            rows.append(-sum(s * lp[i, j] for j, s in entries))
    return reduce(rows, n, reduction)


def distillation(s: Tensor, te: Tensor, T: float, alpha: float, t: Tensor | None) -> Tensor:
    lp_s = log_probs(s / T)
    lp_t = log_probs(te.detach() / T)
    lp = log_probs(s)
    rows = []
    for i in range(s.shape[0]):
        kl = sum(math.exp(float(lp_t[i, j])) * (float(lp_t[i, j]) - lp_s[i, j]) for j in range(s.shape[1]))
        row = alpha * T * T * kl
        if t is not None:
            row = row + (1 - alpha) * (-lp[i, int(t[i])])
        rows.append(row)
    return reduce(rows, float(s.shape[0]), "mean")
