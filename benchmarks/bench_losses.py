"""Benchmark the loss family against the PyTorch baselines named in issue 3.

Targets (8,192 positions x 32,000 classes, forward + backward):

1. ``smoothed_cross_entropy`` within 1.1x of ``F.cross_entropy(label_smoothing=0.1)`` in time and peak memory;
2. ``sparse_soft_target_cross_entropy`` (N=5) within 1.2x of that same native call in time, and at least 2x
   less peak memory than a dense soft-target loss (``F.cross_entropy`` with a dense probability target,
   which has to be built from the same top-5 entries: that build is part of its cost);
3. ``fused_linear_cross_entropy`` (hidden 512) with peak memory at most a third of the unfused
   ``hidden @ weight.T`` + ``F.cross_entropy(label_smoothing=0.1)``, and at most 1.3x its time.

Time: every variant of a target runs in one process, interleaved (A B C A B C ...), after one warm-up each;
the table gives the median and min-max of the repeats and the ratio of medians to the baseline of the
same run.

Peak memory: measured in a fresh subprocess per variant, so nothing from another variant (or from a
warm-up) is resident. On CPU the inputs are built, the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs`` with ``5``; Linux >= 4.0) and the resident set recorded; after one forward +
backward the peak resident set (``VmHWM``) minus that baseline is the variant's peak extra memory. RSS sees
what torch's CPU allocator really touches (tracemalloc does not see torch allocations at all). Without
``clear_refs`` the script falls back to ``ru_maxrss`` minus the RSS before the call (it says so). On CUDA
it is ``torch.cuda.max_memory_allocated()`` minus the allocation before the call.

Usage::

    python benchmarks/bench_losses.py                  # full size, CPU, float32
    python benchmarks/bench_losses.py --quick          # small shapes, for a smoke run
    python benchmarks/bench_losses.py --device cuda --dtype float16 bfloat16 float32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from textsmooth.losses import (
    fused_linear_cross_entropy,
    smoothed_cross_entropy,
    sparse_soft_target_cross_entropy,
)

EPS = 0.1
TOP_N = 5


@dataclass
class Shapes:
    positions: int
    classes: int
    hidden: int


# --------------------------------------------------------------------------------------------- workloads


def make_inputs(kind: str, shapes: Shapes, dtype: torch.dtype, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(0)
    P, C, H = shapes.positions, shapes.classes, shapes.hidden
    target = torch.randint(0, C, (P,), generator=g)
    target[::17] = -100  # some padding
    out: dict[str, torch.Tensor] = {"target": target.to(device)}
    if kind == "fused":
        out["hidden"] = (torch.randn(P, H, generator=g) / H**0.25).to(device, dtype).requires_grad_()
        out["weight"] = (torch.randn(C, H, generator=g) / H**0.25).to(device, dtype).requires_grad_()
    else:
        out["logits"] = (torch.randn(P, C, generator=g) * 2).to(device, dtype).requires_grad_()
    if kind == "sparse":
        idx = torch.randint(0, C, (P, TOP_N), generator=g)
        idx[:, 0] = target.clamp(min=0)
        w = torch.softmax(torch.randn(P, TOP_N, generator=g), dim=1)
        idx[target == -100] = -100  # padding positions have no soft target
        out["indices"] = idx.to(device)
        out["weights"] = w.to(device, torch.float32)
    return out


def variants(kind: str) -> dict[str, Callable[[dict[str, torch.Tensor]], torch.Tensor]]:
    """name -> function returning the loss; the first one is the baseline."""
    if kind == "smoothed":
        return {
            "F.cross_entropy(label_smoothing=0.1)": lambda x: F.cross_entropy(
                x["logits"], x["target"], label_smoothing=EPS
            ),
            "smoothed_cross_entropy(0.1)": lambda x: (
                smoothed_cross_entropy(x["logits"], x["target"], EPS).loss
            ),
            "smoothed_cross_entropy(0.1, validate=False)": lambda x: (
                smoothed_cross_entropy(x["logits"], x["target"], EPS, validate=False).loss
            ),
        }
    if kind == "sparse":

        def dense(x: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = x["logits"]
            idx = x["indices"]
            keep = idx >= 0
            soft = torch.zeros(logits.shape, dtype=logits.dtype, device=logits.device)
            soft.scatter_add_(1, idx.clamp(min=0), (x["weights"] * keep).to(logits.dtype))
            counted = keep.any(dim=1).sum()  # padding rows are all-zero: they add 0 to the sum
            return F.cross_entropy(logits, soft, reduction="sum") / counted

        return {
            "F.cross_entropy(label_smoothing=0.1)": lambda x: F.cross_entropy(
                x["logits"], x["target"], label_smoothing=EPS
            ),
            "sparse_soft_target_cross_entropy(N=5)": lambda x: (
                sparse_soft_target_cross_entropy(x["logits"], x["indices"], x["weights"]).loss
            ),
            "dense soft target: F.cross_entropy(logits, probs)": dense,
        }
    if kind == "fused":
        return {
            "unfused: h @ W.T, F.cross_entropy(ls=0.1)": lambda x: F.cross_entropy(
                x["hidden"] @ x["weight"].t(), x["target"], label_smoothing=EPS
            ),
            "fused_linear_cross_entropy(0.1)": lambda x: (
                fused_linear_cross_entropy(x["hidden"], x["weight"], x["target"], EPS).loss
            ),
            "unfused: h @ W.T, smoothed_cross_entropy(0.1)": lambda x: (
                smoothed_cross_entropy(x["hidden"] @ x["weight"].t(), x["target"], EPS).loss
            ),
        }
    raise ValueError(kind)


def step(fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], x: dict[str, torch.Tensor]) -> None:
    for t in x.values():
        t.grad = None
    loss = fn(x)
    loss.backward()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --------------------------------------------------------------------------------------------- time


def time_kind(
    kind: str, shapes: Shapes, dtype: torch.dtype, device: str, repeats: int
) -> dict[str, list[float]]:
    x = make_inputs(kind, shapes, dtype, device)
    fns = variants(kind)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        step(fn, x)
    sync(device)
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            step(fn, x)
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


# --------------------------------------------------------------------------------------------- memory


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def measure_memory_here(kind: str, name: str, shapes: Shapes, dtype: torch.dtype, device: str) -> dict:
    x = make_inputs(kind, shapes, dtype, device)
    fn = variants(kind)[name]
    if device.startswith("cuda"):
        sync(device)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(fn, x)
        sync(device)
        return {"peak_bytes": torch.cuda.max_memory_allocated() - base, "method": "cuda.max_memory_allocated"}
    method = "VmHWM after clear_refs"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base_kb = _rss_kb("VmRSS")
    except OSError:
        method = "ru_maxrss (clear_refs unavailable)"
        base_kb = _rss_kb("VmRSS")
    step(fn, x)
    peak_kb = (
        _rss_kb("VmHWM") if method.startswith("VmHWM") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    return {"peak_bytes": (peak_kb - base_kb) * 1024, "method": method}


def measure_memory(kind: str, name: str, shapes: Shapes, dtype_name: str, device: str, threads: int) -> dict:
    """Run :func:`measure_memory_here` in a fresh interpreter."""
    cmd = [
        sys.executable,
        __file__,
        "--_memory-child",
        json.dumps(
            {"kind": kind, "name": name, "shapes": shapes.__dict__, "dtype": dtype_name, "device": device}
        ),
        "--threads",
        str(threads),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"memory child failed for {name}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- report

TARGETS = {
    "smoothed": "time <= 1.1x and peak memory <= 1.1x of F.cross_entropy(label_smoothing=0.1)",
    "sparse": "time <= 1.2x of F.cross_entropy(label_smoothing=0.1); "
    "peak memory <= 1/2 of the dense soft-target loss",
    "fused": "peak memory <= 1/3 and time <= 1.3x of the unfused linear + "
    "F.cross_entropy(label_smoothing=0.1)",
}


def verdict(kind: str, med: dict[str, float], mem: dict[str, float]) -> str:
    names = list(med)
    base = names[0]
    ours = names[1]
    t = med[ours] / med[base]
    if kind == "smoothed":
        m = mem[ours] / mem[base]
        ok = t <= 1.1 and m <= 1.1
        return f"time {t:.2f}x, memory {m:.2f}x -> {'MET' if ok else 'NOT MET'}"
    if kind == "sparse":
        m = mem[names[2]] / mem[ours]
        ok = t <= 1.2 and m >= 2.0
        return f"time {t:.2f}x of native LS CE, dense/sparse memory {m:.1f}x -> {'MET' if ok else 'NOT MET'}"
    m = mem[ours] / mem[base]
    ok = t <= 1.3 and m <= 1 / 3
    return f"time {t:.2f}x, memory {m:.3f}x (limit 0.333) -> {'MET' if ok else 'NOT MET'}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes (4,096 x 8,000, hidden 256)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 7, quick 5)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--kinds", nargs="+", default=["smoothed", "sparse", "fused"])
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    if args.memory_child:
        spec = json.loads(args.memory_child)
        out = measure_memory_here(
            spec["kind"],
            spec["name"],
            Shapes(**spec["shapes"]),
            getattr(torch, spec["dtype"]),
            spec["device"],
        )
        print(json.dumps(out))
        return

    shapes = Shapes(4096, 8000, 256) if args.quick else Shapes(8192, 32000, 512)
    repeats = args.repeats or (5 if args.quick else 7)
    cmd = "python benchmarks/bench_losses.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# textsmooth loss benchmark: `{cmd.strip()}`")
    print(
        f"# {shapes.positions} positions x {shapes.classes} classes (hidden {shapes.hidden}), "
        f"forward + backward, device {args.device}, torch {torch.__version__}, {threads} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {repeats} interleaved repeats"
    )
    print()
    print(
        "| target | dtype | variant | time median s | min-max s | time ratio (median) | time ratio (min) "
        "| peak extra MiB | mem. ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    method = ""
    for dtype_name in args.dtype:
        dtype = getattr(torch, dtype_name)
        for kind in args.kinds:
            times = time_kind(kind, shapes, dtype, args.device, repeats)
            med = {k: statistics.median(v) for k, v in times.items()}
            mem: dict[str, float] = {}
            if not args.no_memory:
                for name in times:
                    r = measure_memory(kind, name, shapes, dtype_name, args.device, threads)
                    mem[name] = r["peak_bytes"]
                    method = r["method"]
            names = list(times)
            base = names[0]
            mem_base = names[2] if kind == "sparse" else base
            for name in names:
                tr = med[name] / med[base]
                tr_min = min(times[name]) / min(times[base])
                mem_txt = f"{mem[name] / 2**20:.0f}" if mem else "-"
                mr = f"{mem[name] / mem[mem_base]:.3f}" if mem and mem[mem_base] > 0 else "-"
                print(
                    f"| {kind} | {dtype_name} | {name} | {med[name]:.3f} | "
                    f"{min(times[name]):.3f}-{max(times[name]):.3f} | {tr:.2f} | {tr_min:.2f} | "
                    f"{mem_txt} | {mr} |"
                )
            if mem:
                verdicts.append(f"- {kind} ({dtype_name}): {TARGETS[kind]}: {verdict(kind, med, mem)}")
            sys.stdout.flush()
    print()
    print(
        "time ratio: median / median (and min / min) of the target's first row (its baseline), "
        "measured in the same run; the verdicts use medians."
    )
    print(
        "memory ratio: peak / peak of the baseline (for `sparse`: of the dense soft-target loss, third row)."
    )
    if method:
        print(f"peak extra memory: {method}, fresh subprocess per variant, inputs excluded.")
    print()
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
