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

import base64
import html
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ArtifactError
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


def load_results(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The recipe (as a dict) and every finished run's result record of ``run_dir``.

    Raises:
        ArtifactError: not a run directory, no finished run yet, or a corrupt ``recipe.yaml`` or result
            file (naming the file and what to do).
    """
    import yaml

    from textsmooth.experiments.runner import read_result

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


def _mean_confidence(run_dir: Path, run_id: str) -> float | None:
    path = run_dir / "results" / f"{run_id}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return float(data["probs"].max(axis=1).mean())


def _complete_test_metrics(record: dict[str, Any], run_dir: Path) -> None:
    """Fill in, in place, the derived test metrics the tables show: ``overconfidence`` (mean confidence
    minus accuracy) and, for records written before these fields existed or were fixed, ``confidence``
    (from the stored predictions) and the minority recall of the under-sampled class(es)."""
    from textsmooth.experiments.runner import minority_metrics

    test = record["test"]
    if record.get("data_change") and "per_class" in test:
        test.update(minority_metrics(record["data_change"], test, list(test["per_class"])))
    if "accuracy" not in test:
        return
    confidence = test.get("confidence")
    if confidence is None:
        confidence = _mean_confidence(run_dir, record["run_id"])
    if confidence is not None:
        test["overconfidence"] = float(confidence) - float(test["accuracy"])


def _fmt(values: list[float], scale: float = 100.0, *, signed: bool = False) -> str:
    arr = np.asarray(values, dtype=np.float64) * scale
    mean = f"{arr.mean():+.2f}" if signed else f"{arr.mean():.2f}"
    if arr.size > 1:
        return f"{mean} ± {arr.std(ddof=1):.2f}"
    return mean


class _Tables:
    """Results grouped by (variant, model, method label); seed means average over several variants."""

    def __init__(self, recipe: dict[str, Any], results: list[dict[str, Any]], run_dir: Path) -> None:
        self.recipe = recipe
        self.results = results
        self.run_dir = run_dir
        self.methods = [str(r.get("label") or r["method"]) for r in recipe.get("methods", [])]
        self.models = list(dict.fromkeys(r["model"] for r in results))
        self.variants = _recipe_order(run_dir, results)
        base = [
            str(r.get("label") or r["method"]) for r in recipe.get("methods", []) if r["method"] == "none"
        ]
        self.baseline = base[0] if base else None
        self.by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in results:
            _complete_test_metrics(r, run_dir)
            self.by_key[(r["variant"], r["model"], r["method"])].append(r)

    def seed_means(self, model: str, method: str, metric: str, variants: list[str]) -> list[float]:
        """Per seed, the metric averaged over ``variants`` (seeds missing a variant are skipped)."""
        per_seed: dict[int, list[float]] = defaultdict(list)
        for variant in variants:
            for r in self.by_key.get((variant, model, method), []):
                value = r["test"].get(metric)
                if value is not None:
                    per_seed[r["seed"]].append(value)
        return [float(np.mean(v)) for s, v in sorted(per_seed.items()) if len(v) == len(variants)]

    def significance(self, model: str, method: str, variants: list[str]) -> str:
        from textsmooth.metrics import paired_bootstrap

        if self.baseline is None or method == self.baseline:
            return ""
        a, b = [], []
        for variant in variants:
            ours = {r["seed"]: r for r in self.by_key.get((variant, model, method), [])}
            base = {r["seed"]: r for r in self.by_key.get((variant, model, self.baseline), [])}
            for seed in sorted(set(ours) & set(base)):
                a.append(_correct(self.run_dir, ours[seed]["run_id"]))
                b.append(_correct(self.run_dir, base[seed]["run_id"]))
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


def _recipe_order(run_dir: Path, results: list[dict[str, Any]]) -> list[str]:
    """Data variants in the recipe's order (noise 0, 0.1, 0.2 ...), not in file-name order."""
    found = list(dict.fromkeys(r["variant"] for r in results))
    try:
        from textsmooth.experiments.recipe import load_recipe

        specs = load_recipe(run_dir / "recipe.yaml").runs(label_names=list(results[0]["test"]["per_class"]))
        order = list(dict.fromkeys(spec.variant for spec in specs))
    except Exception:  # a recipe that no longer validates (moved data): keep the order found
        return found
    return [v for v in order if v in found] + [v for v in found if v not in order]


def _table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _variant_plot(tables: _Tables, metric: str, title: str, relative: bool) -> str:
    import matplotlib

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
    return _png(fig)


def _curves_plot(tables: _Tables, variant: str) -> str | None:
    """Dev macro-F1 and training loss per epoch (mean over seeds), one line per method: the paper's
    Figure 2 in spirit (how each target shapes training), for the first model and ``variant``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = tables.models[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    drawn = False
    for method in tables.methods:
        histories = [r.get("history") or [] for r in tables.by_key.get((variant, model, method), [])]
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
    return _png(fig)


def _reliability_images(tables: _Tables) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from textsmooth.metrics import calibration_bins

    images = []
    variant, model = tables.variants[0], tables.models[0]
    for method in tables.methods:
        runs = sorted(tables.by_key.get((variant, model, method), []), key=lambda r: r["seed"])
        if not runs:
            continue
        with np.load(tables.run_dir / "results" / f"{runs[0]['run_id']}.npz", allow_pickle=False) as data:
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
        images.append((method, _png(fig)))
    return images


def _examples_html(recipe: dict[str, Any], run_dir: Path, n: int = 5) -> str:
    """A few test texts with their KWLS soft labels (from the training data) and highlighted keywords."""
    from textsmooth.experiments.recipe import load_recipe
    from textsmooth.experiments.runner import load_recipe_data
    from textsmooth.targets.keyword import KeywordSmoother

    try:
        train, test = load_recipe_data(load_recipe(run_dir / "recipe.yaml"))
    except Exception as exc:  # the data may have moved since the run; the report still renders
        return f"<p>(examples unavailable: {html.escape(str(exc))})</p>"
    smoother = KeywordSmoother().fit(
        train.texts, train.labels, n_classes=train.n_classes, label_names=train.label_names
    )
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    rows = []
    rng = np.random.default_rng(0)
    for i in rng.choice(len(test), size=min(n, len(test)), replace=False):
        text = test.texts[i][:600]
        explanations = smoother.explain(text, top=5)
        best: dict[str, tuple[float, int]] = {}
        for m, e in enumerate(explanations):
            for word, value in e.words:
                if value > best.get(word, (0.0, -1))[0]:
                    best[word] = (value, m)
        from textsmooth.text.tokenize import tokenize

        words = []
        for token in tokenize(text):
            if token in best:
                colour = palette[best[token][1] % len(palette)]
                words.append(f'<b style="color:{colour}">{html.escape(token)}</b>')
            else:
                words.append(html.escape(token))
        soft = " ".join(
            f'<span style="color:{palette[m % len(palette)]}">'
            f"{html.escape(e.name)} {e.probability:.2f}</span>"
            for m, e in sorted(enumerate(explanations), key=lambda t: -t[1].probability)[:3]
        )
        gold = html.escape(test.label_names[test.labels[i]])
        rows.append(f"<tr><td>{' '.join(words)}</td><td>{gold}</td><td>{soft}</td></tr>")
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


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.figs img { margin: 4px; border: 1px solid #eee; }
code { background: #f5f5f5; padding: 1px 4px; }
"""


def build_report(run_dir: str | Path, *, examples: bool = True) -> Path:
    """Write ``RUN_DIR/report.html`` and ``RUN_DIR/results.md``; return the HTML path."""
    from textsmooth.experiments.runner import format_duration

    run_dir = Path(run_dir)
    recipe, results = load_results(run_dir)
    manifest = _load_manifest(run_dir)
    tables = _Tables(recipe, results, run_dir)
    setting = recipe.get("setting", "balanced")
    header = ["model", "method", *(label for _, label, _ in METRICS)]
    header += ["minority recall (%)", "paper acc (%)"]
    with_minority = setting in ("unbalanced", "imbalance-grid")
    seeds = sorted({r["seed"] for r in results})
    shown_dir = manifest.get("run_dir", str(run_dir))
    command = run_command(recipe, manifest, run_dir)
    # every finished training's own time, summed: the same whether or not the run was interrupted
    total = format_duration(sum(float(r.get("seconds") or 0.0) for r in results))
    md_parts = [
        f"# {recipe['name']}",
        "",
        str(recipe.get("description", "")).strip(),
        "",
        f"Budget: {recipe.get('budget', '?')}. Measured: {len(results)} runs, {total} of "
        f"training and evaluation in total (the sum over runs). Seeds: {seeds}.",
        "",
        f"Command: `{command}` (the report: `textsmooth report {shown_dir}`).",
        "",
    ]
    drop = set() if with_minority else {"minority recall (%)"}
    if not recipe.get("paper"):
        drop.add("paper acc (%)")
    sections = []
    if setting in ("balanced", "unbalanced"):
        title = "test results (mean ± std over seeds" + (
            ", averaged over the under-sampled class)" if setting == "unbalanced" else ")"
        )
        shown, rows = _drop_columns(header, tables.main_rows(tables.variants), drop)
        sections.append(f"<h2>Main table: {html.escape(title)}</h2>" + _table_html(shown, rows))
        md_parts += [f"## {title}", "", _table_md(shown, rows), ""]
    else:
        for variant in tables.variants:
            shown, rows = _drop_columns(header, tables.main_rows([variant]), drop)
            sections.append(f"<h3>{html.escape(variant)}</h3>" + _table_html(shown, rows))
            md_parts += [f"## {variant}", "", _table_md(shown, rows), ""]
        if setting in ("imbalance-grid", "noise"):
            plots = []
            if setting == "imbalance-grid":
                plots.append(
                    _variant_plot(tables, "accuracy", "accuracy gain over hard labels", relative=True)
                )
            else:
                plots.append(_variant_plot(tables, "accuracy", "accuracy versus noise rate", relative=False))
                plots.append(_variant_plot(tables, "ece", "ECE versus noise rate", relative=False))
            sections.insert(0, '<div class="figs">' + "".join(f'<img src="{p}">' for p in plots) + "</div>")
    sections.append(
        "<p>▲/▼: accuracy differs from the hard-label baseline with p &lt; 0.05 (paired bootstrap over "
        "the pooled test predictions of all seeds). Paper numbers are quoted from the KWLS paper where the "
        "recipe gives them; "
        "they were measured on other data sizes and budgets.</p>"
    )
    curves = _curves_plot(tables, tables.variants[0])
    if curves is not None:
        sections.append(
            f"<h2>Training curves ({html.escape(tables.variants[0])})</h2>"
            "<p>Losses are each method's own objective, so their levels are not comparable across methods; "
            f"the dev curve is the one early stopping reads.</p><img alt='training curves' src='{curves}'>"
        )
    figures = "".join(
        f'<img alt="reliability diagram of {html.escape(m)}" src="{src}">'
        for m, src in _reliability_images(tables)
    )
    sections.append(
        f"<h2>Reliability diagrams ({html.escape(tables.variants[0])}, seed {seeds[0]})</h2>"
        "<p>10 equal-width bins, one seed; the tables' ECE uses 15 bins and averages the seeds.</p>"
        f"<div class='figs'>{figures}</div>"
    )
    if examples:
        sections.append("<h2>Test examples with KWLS soft labels</h2>" + _examples_html(recipe, run_dir))
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(recipe['name'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(recipe['name'])}</h1>"
        f"<p>{html.escape(str(recipe.get('description', '')))}</p>"
        f"<p><b>Budget:</b> {html.escape(str(recipe.get('budget', '')))} · "
        f"<b>setting:</b> {html.escape(setting)} · "
        f"<b>seeds:</b> {seeds} · <b>runs:</b> {len(results)} · "
        f"<b>total run time:</b> {total} (sum over runs)</p>"
        f"<p><b>Versions:</b> {html.escape(versions)}</p>"
        f"<p><b>Command:</b> <code>{html.escape(command)}</code></p>" + "".join(sections) + "</body></html>"
    )
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    atomic_write_text(run_dir / "results.md", "\n".join(md_parts))
    return out
