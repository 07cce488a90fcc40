"""``textsmooth report RUN_DIR``: one self-contained HTML page (and a Markdown table) per recipe run.

The page holds: the recipe, its budget and the package versions; the main table laid out like the
paper's (methods as rows, mean ± standard deviation over seeds of test accuracy, macro-F1, ECE, mean
confidence minus accuracy (the sign of the miscalibration: + over-, − under-confident) and NLL,
a significance mark against the hard-label baseline, and the paper's number beside ours where the
recipe gives it); setting-specific tables and plots (per-variant gains for the imbalance grid,
accuracy and ECE versus noise rate, the distillation caveat); reliability diagrams; and a few test
examples with their KWLS soft labels and highlighted keywords. Images are embedded as base64 PNGs,
so the file can be mailed or committed as it is.

Significance: for each method and model, the per-example correctness of the method and of the baseline
(same seeds, same data variants, same test examples) is concatenated and compared by a two-sided paired
bootstrap (:func:`textsmooth.metrics.paired_bootstrap`, 2,000 resamples); ``▲``/``▼`` mark p < 0.05.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ArtifactError
from textsmooth.experiments.pages import CSS, png_data_uri, table_html, table_md
from textsmooth.experiments.records import RunRecord, format_duration, read_examples, read_result
from textsmooth.experiments.settings import SETTINGS
from textsmooth.io.atomic import atomic_write_text

__all__ = ["build_report", "load_results", "run_command"]

# (key in the test record, column header, scale); "overconfidence" is mean confidence minus accuracy:
# positive = over-confident, negative = under-confident (ECE alone does not tell the direction).
METRICS = (
    ("accuracy", "acc (%)", 100.0),
    ("macro_f1", "macro-F1 (%)", 100.0),
    ("ece", "ECE (%)", 100.0),
    ("overconfidence", "conf − acc (pts)", 100.0),
    ("nll", "NLL", 1.0),
)


def load_results(run_dir: str | Path) -> tuple[dict[str, Any], list[RunRecord]]:
    """The recipe (as a dict) and every finished run's result record of ``run_dir``.

    Raises:
        ArtifactError: not a run directory, no finished run yet, or a corrupt ``recipe.yaml`` or result
            file (naming the file and what to do).
    """
    import yaml

    run_dir = Path(run_dir)
    recipe_path = run_dir / "recipe.yaml"
    if not recipe_path.exists():
        raise ArtifactError(
            "not a run directory (no recipe.yaml)", path=run_dir, hint="run `textsmooth experiment run`"
        )
    try:
        recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        recipe = exc
    if not isinstance(recipe, dict) or "name" not in recipe:
        raise ArtifactError(
            "corrupt copy of the recipe in the run directory",
            path=recipe_path,
            hint="run `textsmooth experiment run RECIPE -o RUN_DIR` again: it rewrites the copy and keeps "
            "the finished results",
        )
    results = [read_result(p) for p in sorted((run_dir / "results").glob("*.json"))]
    if not results:
        raise ArtifactError("the run directory has no finished run yet", path=run_dir)
    return recipe, results


def _load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        manifest = exc
    if not isinstance(manifest, dict):
        raise ArtifactError(
            "corrupt manifest (not a JSON object)",
            path=path,
            hint="run `textsmooth experiment run RECIPE -o RUN_DIR` again: it rewrites the manifest and "
            "keeps the finished results",
        )
    return manifest


def run_command(recipe: dict[str, Any], manifest: dict[str, Any], run_dir: Path) -> str:
    """The command line that produced the run directory, with every option that changed what ran
    (``--seeds`` when the folder holds fewer seeds than the recipe lists)."""
    recipe_file = manifest.get("recipe_file", "<recipe>")
    shown_dir = manifest.get("run_dir", str(run_dir))
    command = f"textsmooth experiment run {recipe_file} -o {shown_dir}"
    seeds_run = manifest.get("seeds")
    if isinstance(seeds_run, list) and sorted(seeds_run) != sorted(recipe.get("seeds") or []):
        command += " --seeds " + ",".join(str(s) for s in seeds_run)
    return command


def _correct(run_dir: Path, run_id: str) -> np.ndarray:
    with np.load(run_dir / "results" / f"{run_id}.npz", allow_pickle=False) as data:
        return (data["probs"].argmax(axis=1) == data["labels"]).astype(np.float64)


def _fmt(values: list[float], scale: float = 100.0, *, signed: bool = False) -> str:
    arr = np.asarray(values, dtype=np.float64) * scale
    mean = f"{arr.mean():+.2f}" if signed else f"{arr.mean():.2f}"
    if arr.size > 1:
        return f"{mean} ± {arr.std(ddof=1):.2f}"
    return mean


class _Tables:
    """Results grouped by (variant, model, method label); seed means average over several variants."""

    def __init__(
        self, recipe: dict[str, Any], results: list[RunRecord], run_dir: Path, variants: list[str]
    ) -> None:
        self.recipe = recipe
        self.results = results
        self.run_dir = run_dir
        self.methods = [str(r.get("label") or r["method"]) for r in recipe.get("methods", [])]
        self.models = list(dict.fromkeys(r.model for r in results))
        found = list(dict.fromkeys(r.variant for r in results))  # in the recipe's order (noise 0, 0.1 ...)
        self.variants = [v for v in variants if v in found] + [v for v in found if v not in variants]
        base = [
            str(r.get("label") or r["method"]) for r in recipe.get("methods", []) if r["method"] == "none"
        ]
        self.baseline = base[0] if base else None
        self.by_key: dict[tuple[str, str, str], list[RunRecord]] = defaultdict(list)
        for r in results:
            self.by_key[(r.variant, r.model, r.method)].append(r)

    def seed_means(self, model: str, method: str, metric: str, variants: list[str]) -> list[float]:
        """Per seed, the metric averaged over ``variants`` (seeds missing a variant are skipped)."""
        per_seed: dict[int, list[float]] = defaultdict(list)
        for variant in variants:
            for r in self.by_key.get((variant, model, method), []):
                value = r.overconfidence if metric == "overconfidence" else r.test.get(metric)
                if value is not None:
                    per_seed[r.seed].append(value)
        return [float(np.mean(v)) for s, v in sorted(per_seed.items()) if len(v) == len(variants)]

    def significance(self, model: str, method: str, variants: list[str]) -> str:
        from textsmooth.metrics import paired_bootstrap

        if self.baseline is None or method == self.baseline:
            return ""
        a, b = [], []
        for variant in variants:
            ours = {r.seed: r for r in self.by_key.get((variant, model, method), [])}
            base = {r.seed: r for r in self.by_key.get((variant, model, self.baseline), [])}
            for seed in sorted(set(ours) & set(base)):
                a.append(_correct(self.run_dir, ours[seed].run_id))
                b.append(_correct(self.run_dir, base[seed].run_id))
        if not a:
            return ""
        test = paired_bootstrap(np.concatenate(a), np.concatenate(b), n_resamples=2000, seed=0)
        if test.p_value >= 0.05:
            return ""
        return " ▲" if test.delta > 0 else " ▼"

    def main_rows(self, variants: list[str]) -> list[list[str]]:
        paper = self.recipe.get("paper") or {}
        rows = []
        for model in self.models:
            for method in self.methods:
                if not self.by_key.get((variants[0], model, method)):
                    continue
                cells = [model, method]
                for metric, _, scale in METRICS:
                    values = self.seed_means(model, method, metric, variants)
                    cell = _fmt(values, scale, signed=metric == "overconfidence") if values else "-"
                    if metric == "accuracy" and values:
                        cell += self.significance(model, method, variants)
                    cells.append(cell)
                minority = self.seed_means(model, method, "minority_recall", variants)
                cells.append(_fmt(minority) if minority else "-")
                cells.append(f"{paper[method]:.2f}" if method in paper else "")
                rows.append(cells)
        return rows


def _variant_plot(tables: _Tables, metric: str, title: str, relative: bool) -> str:
    from textsmooth._extras import require

    matplotlib = require("matplotlib", extra="report", feature="the plots of an experiment report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    x = np.arange(len(tables.variants))
    for model in tables.models:
        base = (
            [
                np.mean(tables.seed_means(model, tables.baseline, metric, [v]) or [np.nan])
                for v in tables.variants
            ]
            if tables.baseline
            else None
        )
        for method in tables.methods:
            if relative and method == tables.baseline:
                continue
            ys = np.array(
                [np.mean(tables.seed_means(model, method, metric, [v]) or [np.nan]) for v in tables.variants]
            )
            if relative and base is not None:
                ys = ys - np.array(base)
            ax.plot(
                x, 100 * ys, marker="o", label=f"{method} ({model})" if len(tables.models) > 1 else method
            )
    ax.set_xticks(x, tables.variants, rotation=30)
    ax.set_ylabel(("gain in " if relative else "") + metric + " (points)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png_data_uri(fig)


def _curves_plot(tables: _Tables, variant: str) -> str | None:
    """Dev macro-F1 and training loss per epoch (mean over seeds), one line per method: the paper's
    Figure 2 in spirit (how each target shapes training), for the first model and ``variant``."""
    from textsmooth._extras import require

    matplotlib = require("matplotlib", extra="report", feature="the plots of an experiment report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = tables.models[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    drawn = False
    for method in tables.methods:
        histories = [r.history for r in tables.by_key.get((variant, model, method), [])]
        longest = max((len(h) for h in histories), default=0)
        if not longest:
            continue
        epochs = np.arange(1, longest + 1)
        for ax, key in ((left, "macro_f1"), (right, "train_loss")):
            ys = [
                np.mean([h[e][key] for h in histories if len(h) > e and key in h[e]] or [np.nan])
                for e in range(longest)
            ]
            ax.plot(epochs, np.asarray(ys) * (100.0 if key == "macro_f1" else 1.0), marker=".", label=method)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    left.set_ylabel("dev macro-F1 (%)")
    right.set_ylabel("training loss (own objective)")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle(
        f"training curves ({model}, {variant}; mean over seeds; runs stop early at different epochs)"
    )
    return png_data_uri(fig)


def _reliability_images(tables: _Tables) -> list[tuple[str, str]]:
    from textsmooth._extras import require

    matplotlib = require("matplotlib", extra="report", feature="the plots of an experiment report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textsmooth.metrics import calibration_bins

    images = []
    variant, model = tables.variants[0], tables.models[0]
    for method in tables.methods:
        runs = sorted(tables.by_key.get((variant, model, method), []), key=lambda r: r.seed)
        if not runs:
            continue
        with np.load(tables.run_dir / "results" / f"{runs[0].run_id}.npz", allow_pickle=False) as data:
            probs, labels = data["probs"].astype(np.float64), data["labels"]
        probs /= probs.sum(axis=1, keepdims=True)
        bins = calibration_bins(probs, labels, n_bins=10)
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
        rows = bins.to_rows()
        conf = [r["confidence"] for r in rows if r["count"]]
        acc = [r["accuracy"] for r in rows if r["count"]]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.bar(conf, acc, width=0.08, alpha=0.7, edgecolor="black")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{method} (ECE {100 * bins.ece:.1f})", fontsize=10)
        images.append((method, png_data_uri(fig)))
    return images


def _examples_html(run_dir: Path) -> str:
    """A few test texts with their KWLS soft labels and highlighted keywords, as the runner recorded
    them in ``examples.json`` (fitted on the recipe's training data)."""
    rows_found = read_examples(run_dir)
    if rows_found is None:
        return "<p>(examples unavailable: the run folder has no examples.json; run the recipe again)</p>"
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    rows = []
    for example in rows_found:
        words = [
            html.escape(token)
            if index is None
            else f'<b style="color:{palette[index % len(palette)]}">{html.escape(token)}</b>'
            for token, index in example.tokens
        ]
        soft = " ".join(
            f'<span style="color:{palette[m % len(palette)]}">{html.escape(name)} {p:.2f}</span>'
            for name, p, m in example.soft
        )
        rows.append(f"<tr><td>{' '.join(words)}</td><td>{html.escape(example.gold)}</td><td>{soft}</td></tr>")
    return (
        "<table><thead><tr><th>test text (keywords coloured by the label they support)</th>"
        "<th>gold</th><th>KWLS soft label</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _drop_columns(
    header: list[str], rows: list[list[str]], drop: set[str]
) -> tuple[list[str], list[list[str]]]:
    """The table without the columns named in ``drop`` (minority recall only means something when the
    training data is unbalanced; the paper column only when the recipe quotes the paper)."""
    keep = [i for i, name in enumerate(header) if name not in drop]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


@dataclass
class _Report:
    """The page and Markdown under construction, and what every section builder reads."""

    recipe: dict[str, Any]
    results: list[RunRecord]
    manifest: dict[str, Any]
    tables: _Tables
    run_dir: Path
    seeds: list[int]
    html: list[str] = field(default_factory=list)
    md: list[str] = field(default_factory=list)


def build_report(run_dir: str | Path, *, examples: bool = True) -> Path:
    """Write ``RUN_DIR/report.html`` and ``RUN_DIR/results.md``; return the HTML path."""
    run_dir = Path(run_dir)
    recipe, results = load_results(run_dir)
    manifest = _load_manifest(run_dir)
    variants = manifest.get("variants")
    if not isinstance(variants, list):
        raise ArtifactError(
            "the manifest does not list the recipe's data variants",
            path=run_dir / "manifest.json",
            hint="run `textsmooth experiment run RECIPE -o RUN_DIR` again: it rewrites the manifest and "
            "keeps the finished results",
        )
    tables = _Tables(recipe, results, run_dir, [str(v) for v in variants])
    report = _Report(recipe, results, manifest, tables, run_dir, sorted({r.seed for r in results}))
    _summary_section(report)
    _results_section(report)
    _curves_section(report)
    _reliability_section(report)
    if examples:
        report.html.append("<h2>Test examples with KWLS soft labels</h2>" + _examples_html(run_dir))
    out = run_dir / "report.html"
    atomic_write_text(out, _page(report))
    atomic_write_text(run_dir / "results.md", "\n".join(report.md))
    return out


def _total_time(report: _Report) -> str:
    # every finished training's own time, summed: the same whether or not the run was interrupted
    return format_duration(sum(r.seconds for r in report.results))


def _summary_section(report: _Report) -> None:
    """The Markdown head: name, description, budget, measured time, seeds and the command line."""
    recipe = report.recipe
    shown_dir = report.manifest.get("run_dir", str(report.run_dir))
    command = run_command(recipe, report.manifest, report.run_dir)
    report.md += [
        f"# {recipe['name']}",
        "",
        str(recipe.get("description", "")).strip(),
        "",
        f"Budget: {recipe.get('budget', '?')}. Measured: {len(report.results)} runs, {_total_time(report)} "
        f"of training and evaluation in total (the sum over runs). Seeds: {report.seeds}.",
        "",
        f"Command: `{command}` (the report: `textsmooth report {shown_dir}`).",
        "",
    ]


def _results_section(report: _Report) -> None:
    """The main table (pooled settings) or one table per variant, the setting's plots and the legend."""
    setting_name = report.recipe.get("setting", "balanced")
    setting = SETTINGS.get(setting_name)
    tables = report.tables
    header = ["model", "method", *(label for _, label, _ in METRICS)]
    header += ["minority recall (%)", "paper acc (%)"]
    drop = set() if setting_name in ("unbalanced", "imbalance-grid") else {"minority recall (%)"}
    if not report.recipe.get("paper"):
        drop.add("paper acc (%)")
    if setting is None or setting.pooled:
        title = "test results (mean ± std over seeds" + (
            ", averaged over the under-sampled class)" if setting_name == "unbalanced" else ")"
        )
        shown, rows = _drop_columns(header, tables.main_rows(tables.variants), drop)
        report.html.append(f"<h2>Main table: {html.escape(title)}</h2>" + table_html(shown, rows))
        report.md += [f"## {title}", "", table_md(shown, rows), ""]
    else:
        plots = [_variant_plot(tables, metric, title, relative) for metric, title, relative in setting.plots]
        if plots:
            report.html.append('<div class="figs">' + "".join(f'<img src="{p}">' for p in plots) + "</div>")
        for variant in tables.variants:
            shown, rows = _drop_columns(header, tables.main_rows([variant]), drop)
            report.html.append(f"<h3>{html.escape(variant)}</h3>" + table_html(shown, rows))
            report.md += [f"## {variant}", "", table_md(shown, rows), ""]
    report.html.append(
        "<p>▲/▼: accuracy differs from the hard-label baseline with p &lt; 0.05 (paired bootstrap over "
        "the pooled test predictions of all seeds). Paper numbers are quoted from the KWLS paper where the "
        "recipe gives them; "
        "they were measured on other data sizes and budgets.</p>"
    )


def _curves_section(report: _Report) -> None:
    variant = report.tables.variants[0]
    curves = _curves_plot(report.tables, variant)
    if curves is not None:
        report.html.append(
            f"<h2>Training curves ({html.escape(variant)})</h2>"
            "<p>Losses are each method's own objective, so their levels are not comparable across methods; "
            f"the dev curve is the one early stopping reads.</p><img alt='training curves' src='{curves}'>"
        )


def _reliability_section(report: _Report) -> None:
    figures = "".join(
        f'<img alt="reliability diagram of {html.escape(m)}" src="{src}">'
        for m, src in _reliability_images(report.tables)
    )
    report.html.append(
        f"<h2>Reliability diagrams ({html.escape(report.tables.variants[0])}, seed {report.seeds[0]})</h2>"
        "<p>10 equal-width bins, one seed; the tables' ECE uses 15 bins and averages the seeds.</p>"
        f"<div class='figs'>{figures}</div>"
    )


def _page(report: _Report) -> str:
    """The HTML page: the header (budget, setting, seeds, versions, command) and every section."""
    recipe = report.recipe
    versions = ", ".join(f"{k} {v}" for k, v in report.manifest.get("versions", {}).items())
    command = run_command(recipe, report.manifest, report.run_dir)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(recipe['name'])}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(recipe['name'])}</h1>"
        f"<p>{html.escape(str(recipe.get('description', '')))}</p>"
        f"<p><b>Budget:</b> {html.escape(str(recipe.get('budget', '')))} · "
        f"<b>setting:</b> {html.escape(recipe.get('setting', 'balanced'))} · "
        f"<b>seeds:</b> {report.seeds} · <b>runs:</b> {len(report.results)} · "
        f"<b>total run time:</b> {_total_time(report)} (sum over runs)</p>"
        f"<p><b>Versions:</b> {html.escape(versions)}</p>"
        f"<p><b>Command:</b> <code>{html.escape(command)}</code></p>"
        + "".join(report.html)
        + "</body></html>"
    )
