"""The report of an autoencoder recipe run: the poster's Tables 1-2 with our numbers beside its own.

* Probing (the poster's Table 2): MRPC F1 and accuracy, SICK-E accuracy of a logistic regression on the
  frozen sentence vectors, mean and standard deviation over seeds, the poster's value beside each, and
  the p-value of the difference to cross-entropy (paired bootstrap over the test pairs of the
  per-pair correctness averaged over the seeds both rows share, :func:`~textsmooth.metrics.paired_bootstrap`).
* Reconstruction: BLEU-4 of the held-out reconstructions, the fraction of sentences reconstructed
  exactly, and of input words reconstructed exactly, as a near-synonym, or otherwise
  (:mod:`textsmooth.metrics.reconstruction`).
* Examples (the poster's Table 1): inputs and each row's reconstruction (the lowest seed).

Written as ``RUN_DIR/results.md`` and a self-contained ``RUN_DIR/report.html``.
"""

from __future__ import annotations

import html
import statistics
from pathlib import Path
from typing import Any

from textsmooth.errors import ArtifactError

__all__ = ["autoencoder_tables", "build_autoencoder_report"]

_PROBE_COLUMNS = (("mrpc", "f1", "mrpc_f1", "MRPC F1"), ("mrpc", "accuracy", "mrpc_acc", "MRPC acc"),
                  ("sick-e", "accuracy", "sick_e", "SICK-E acc"))  # fmt: skip
_BASELINE = "none"


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def _p_value(rows: list[dict[str, Any]], base: list[dict[str, Any]], task: str) -> str:
    import numpy as np

    from textsmooth.metrics import paired_bootstrap

    seeds = sorted({r["seed"] for r in rows} & {b["seed"] for b in base})
    if not seeds or {r["run_id"] for r in rows} == {b["run_id"] for b in base}:
        return "-"
    a = np.mean([next(r for r in rows if r["seed"] == s)["probe"][task]["correct"] for s in seeds], axis=0)
    b = np.mean([next(r for r in base if r["seed"] == s)["probe"][task]["correct"] for s in seeds], axis=0)
    return f"{paired_bootstrap(a, b, metric='mean', n_resamples=10_000, seed=0).p_value:.3f}"


def autoencoder_tables(run_dir: str | Path) -> dict[str, tuple[list[str], list[list[str]]]]:
    """``{name: (header, rows)}`` of the report's tables (module docstring), rows in recipe order."""
    from textsmooth.experiments.autoencoder import load_autoencoder_recipe, read_autoencoder_records

    run_dir = Path(run_dir)
    records = read_autoencoder_records(run_dir)
    if not records:
        raise ArtifactError("no finished results to report", path=run_dir / "results")
    recipe = load_autoencoder_recipe(run_dir / "recipe.yaml")
    order = [recipe.label(row) for row in recipe.methods]
    by_label: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_label.setdefault(record["label"], []).append(record)
    labels = [x for x in order if x in by_label] + sorted(set(by_label) - set(order))
    base = next((by_label[x] for x in labels if by_label[x][0]["method"] == _BASELINE), [])
    tasks = sorted({t for r in records for t in r["probe"]})
    probe_header = ["model", "seeds"]
    for task, _metric, _key, name in _PROBE_COLUMNS:
        if task in tasks:
            probe_header += [name, f"{name} (poster)"]
    probe_header += [f"p vs cross-entropy ({t})" for t in tasks]
    probe_rows, recon_rows = [], []
    for label in labels:
        rows = sorted(by_label[label], key=lambda r: r["seed"])
        poster = recipe.poster.get(label, {})
        line = [label, ",".join(str(r["seed"]) for r in rows)]
        for task, metric, key, _ in _PROBE_COLUMNS:
            if task in tasks:
                values = [
                    r["probe"][task][metric] for r in rows if r["probe"].get(task, {}).get(metric) is not None
                ]
                line += [_mean_sd(values), f"{poster[key]:.1f}" if key in poster else "-"]
        line += [_p_value(rows, base, t) for t in tasks]
        probe_rows.append(line)
        recon = [r["reconstruction"] for r in rows]
        recon_rows.append([
            label,
            f"{statistics.fmean(r['test']['bleu'] for r in rows):.2f}",
            _mean_sd([x["exact_sentences"] for x in recon]),
            _mean_sd([x["exact"] for x in recon]),
            _mean_sd([x["near_synonym"] for x in recon]),
            _mean_sd([x["other"] for x in recon]),
            f"{statistics.fmean(r['best_epoch'] for r in rows):.1f}",
            f"{statistics.fmean(sum(h['seconds'] for h in r['history']) for r in rows) / 60:.0f}",
        ])  # fmt: skip
    recon_header = ["model", "test BLEU-4", "sentences exact %", "words exact %", "near-synonym %",
                    "other %", "best epoch", "training min"]  # fmt: skip
    first = {x: min(by_label[x], key=lambda r: r["seed"]) for x in labels}
    inputs = [e["input"] for e in first[labels[0]]["examples"]]
    example_rows = []
    for i, text in enumerate(inputs):
        example_rows.append([str(i + 1), "input", text])
        for label in labels:
            examples = first[label]["examples"]
            if i < len(examples):
                example_rows.append(["", label, examples[i]["output"]])
    return {
        "probing": (probe_header, probe_rows),
        "reconstruction": (recon_header, recon_rows),
        "examples": (["#", "model", "sentence"], example_rows),
    }


def build_autoencoder_report(run_dir: str | Path) -> Path:
    """Write ``results.md`` and ``report.html`` into ``run_dir``; returns the HTML path."""
    from textsmooth.experiments.autoencoder import load_autoencoder_recipe
    from textsmooth.experiments.pages import CSS, table_html, table_md
    from textsmooth.io.atomic import atomic_write_text

    run_dir = Path(run_dir)
    tables = autoencoder_tables(run_dir)
    recipe = load_autoencoder_recipe(run_dir / "recipe.yaml")
    intro = (
        f"{recipe.description or recipe.name}\n\nBudget: {recipe.budget}\n\n"
        "Probing: logistic regression on the frozen sentence vectors, mean ± sd over seeds (%); p-values: "
        "paired bootstrap against cross-entropy over the test pairs. Reconstruction: held-out sentences; "
        f"near-synonym = among the input word's top-{recipe.stats_top_n} similar words."
    )
    titles = {"probing": "Sentence representations (the poster's Table 2)",
              "reconstruction": "Reconstruction of held-out sentences",
              "examples": "Reconstruction examples (the poster's Table 1)"}  # fmt: skip
    md = [f"# {recipe.name}", "", intro, ""]
    body = [
        f"<h1>{html.escape(recipe.name)}</h1>",
        "".join(f"<p>{html.escape(p)}</p>" for p in intro.split("\n\n")),
    ]
    for name, (header, rows) in tables.items():
        md += [f"## {titles[name]}", "", table_md(header, rows), ""]
        body += [f"<h2>{html.escape(titles[name])}</h2>", table_html(header, rows)]
    atomic_write_text(run_dir / "results.md", "\n".join(md))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(recipe.name)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    atomic_write_text(run_dir / "report.html", page)
    return run_dir / "report.html"
