"""``textsmooth report RUN_DIR`` for a seq2seq recipe run: tables shaped like the semantic label smoothing
paper's, validation curves and related-target examples, as one self-contained HTML page and Markdown.

Sections:

* **BLEU-4 per method and pair** (the paper's Table 2): mean ± standard deviation over seeds of test
  BLEU-4, the paper's number where the recipe gives one, and the paired bootstrap p-value against the
  strongest baseline (the method row of highest mean BLEU among ``none``, ``token-ls``, ``within-batch``
  and ``token-swap`` of that pair). The test is sacrebleu's paired bootstrap resampling
  (``sacrebleu.significance.PairedTest``, ``bs``, 1,000 resamples, sacrebleu's fixed seed) on corpus
  BLEU-4, run per seed on the two rows' test hypotheses; the column lists the p-value of every seed.
  Where the two rows share two seeds or more, a second column tests the difference of their BLEU means
  over those seeds (:func:`~textsmooth.seq2seq.decode.paired_bleu_p_value_over_seeds`: the same
  resampled sentences for every seed; test-set noise only, not the variation between seeds).
* **BLEU-3, BLEU-4, BLEU-5 and chrF** (the paper's Tables 3-4: the effect of the BLEU order), means
  over seeds.
* **BLEU-4 per seed** (where the pair has runs of two or more seeds): each row's test BLEU-4 on every
  seed, "–" for a seed the row did not run, so a mean ± standard deviation can be read with its values.
* **Ablations of the semantic row** (the paper's Table 4, the no-pruning ablation, k' and alpha): every
  other ``semantic`` / ``semantic-no-rerank`` row of the pair against the first ``semantic`` row of the
  recipe (the reference), with what it changes (method, re-rank order, alpha, k', m, token LS), the mean
  BLEU-4 difference over the seeds both have, and the paired bootstrap p-value per shared seed.
* **Every two rows, per seed**: the paired bootstrap p-value of each pair of rows that ran the seed (a
  triangle; the test is symmetric), so any comparison a reader makes has its p-value; and, where two rows
  or more ran the same two seeds or more, the p-value of each two rows' seed means.
* **Validation BLEU per epoch** (model selection), one plot per pair.
* **Related targets** (the paper's Table 1): a few training targets with their best two related targets
  of every table the runs used, with cosine and BLEU.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from textsmooth.errors import ArtifactError
from textsmooth.experiments.pages import CSS, png_data_uri, table_html, table_md
from textsmooth.experiments.records import format_duration
from textsmooth.experiments.seq2seq import (
    Seq2SeqRecord,
    hypotheses_path,
    read_seq2seq_result,
    test_files,
)
from textsmooth.io.atomic import atomic_write_text
from textsmooth.seq2seq.decode import paired_bleu_p_value, paired_bleu_p_value_over_seeds

__all__ = ["BASELINE_METHODS", "build_seq2seq_report", "paired_bleu_p_value"]

BASELINE_METHODS = ("none", "token-ls", "within-batch", "token-swap")
"""Methods a semantic row is tested against (the strongest of them per pair)."""

_SCORES = (("bleu3", "BLEU-3"), ("bleu", "BLEU-4"), ("bleu5", "BLEU-5"), ("chrf", "chrF"))


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[Seq2SeqRecord]]:
    import yaml

    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ArtifactError(
            f"not a finished seq2seq run folder ({exc})",
            path=run_dir,
            hint="run `textsmooth experiment run` first",
        ) from exc
    records = [read_seq2seq_result(p) for p in sorted((run_dir / "results").glob("*.json"))]
    if not records:
        raise ArtifactError("the run folder has no finished runs yet", path=run_dir)
    return recipe, manifest, records


def _recipe_labels(recipe: dict[str, Any]) -> list[str]:
    """The row labels of the run folder's recipe copy, in the recipe's order."""
    from textsmooth.experiments.seq2seq import Seq2SeqRecipe

    try:
        parsed = Seq2SeqRecipe(**{"path": "", **recipe})
        return [parsed.method_label(row) for row in parsed.methods]
    except (TypeError, KeyError):  # a hand-edited copy: the records' order alone
        return []


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def _per_seed(rows: dict[str, list[Seq2SeqRecord]]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of test BLEU-4 per row label and seed; no rows below two seeds."""
    seeds = sorted({r.seed for recs in rows.values() for r in recs})
    header = ["method", *[f"seed {s}" for s in seeds]]
    if len(seeds) < 2:
        return header, []
    table = []
    for label, recs in rows.items():
        by_seed = {r.seed: r.test["bleu"] for r in recs}
        table.append([label, *[f"{by_seed[s]:.2f}" if s in by_seed else "–" for s in seeds]])
    return header, table


def _method_of(record: Seq2SeqRecord) -> str:
    return str(record.config.get("method", ""))


class _PairedPValues:
    """The paired bootstrap p-values of one pair's report, each computed once.

    The strongest-baseline, ablation and every-two-rows tables share many comparisons; the test is
    symmetric (sacrebleu's ``bs`` compares absolute BLEU differences on resamples drawn with its fixed
    seed), so one value per unordered pair of runs serves them all. Hypothesis files and the references
    are read once."""

    def __init__(self, run_dir: Path, pair: str) -> None:
        self.run_dir, self.pair = run_dir, pair
        self._references: list[str] | None = None
        self._hypotheses: dict[str, list[str]] = {}
        self._p: dict[frozenset[str], float] = {}
        self._pooled: dict[frozenset[tuple[str, ...]], float] = {}

    def _lines(self, run_id: str) -> list[str]:
        if run_id not in self._hypotheses:
            text = hypotheses_path(self.run_dir, run_id).read_text(encoding="utf-8")
            self._hypotheses[run_id] = text.splitlines()
        return self._hypotheses[run_id]

    def __call__(self, a: Seq2SeqRecord, b: Seq2SeqRecord) -> float:
        """p-value of the test between runs ``a`` and ``b`` (:func:`paired_bleu_p_value`)."""
        key = frozenset((a.run_id, b.run_id))
        if key not in self._p:
            references = self._pair_references()
            self._p[key] = paired_bleu_p_value(self._lines(a.run_id), self._lines(b.run_id), references)
        return self._p[key]

    def over_seeds(self, a: list[Seq2SeqRecord], b: list[Seq2SeqRecord]) -> float:
        """p-value of the test of two rows' BLEU means over the seeds both ran (runs of those seeds in
        ``a`` and ``b``; :func:`paired_bleu_p_value_over_seeds`)."""
        shared = sorted({r.seed for r in a} & {r.seed for r in b})
        runs = [[next(r for r in recs if r.seed == seed) for seed in shared] for recs in (a, b)]
        key = frozenset(tuple(r.run_id for r in row) for row in runs)
        if key not in self._pooled:
            hyps = [[self._lines(r.run_id) for r in row] for row in runs]
            self._pooled[key] = paired_bleu_p_value_over_seeds(hyps[0], hyps[1], self._pair_references())
        return self._pooled[key]

    def _pair_references(self) -> list[str]:
        if self._references is None:
            ref_path = test_files(self.run_dir, self.pair)[1]
            self._references = ref_path.read_text(encoding="utf-8").splitlines()
        return self._references


def _significance(
    p_value: _PairedPValues, rows: dict[str, list[Seq2SeqRecord]]
) -> dict[str, tuple[str, str]]:
    """Per row label, its p-values against the strongest baseline row of the pair: per seed (``" / "``
    between seeds), and over the seeds both rows ran where they share two or more ("–" otherwise)."""
    baselines = {label: recs for label, recs in rows.items() if _method_of(recs[0]) in BASELINE_METHODS}
    if not baselines:
        return {}
    best = max(baselines, key=lambda label: np.mean([r.test["bleu"] for r in baselines[label]]))
    by_seed = {r.seed: r for r in rows[best]}
    out = {best: ("(strongest baseline)", "")}
    for label, recs in rows.items():
        if label == best:
            continue
        shared = sorted((r for r in recs if r.seed in by_seed), key=lambda r: r.seed)
        values = [f"{p_value(by_seed[record.seed], record):.3f}" for record in shared]
        pooled = f"{p_value.over_seeds(rows[best], recs):.3f}" if len(shared) >= 2 else "–"
        out[label] = (" / ".join(values) if values else "–", pooled)
    return out


SEMANTIC_METHODS = ("semantic", "semantic-no-rerank")
_ABLATED = (
    ("alpha", "alpha"),
    ("related_k", "k'"),
    ("related_per_step", "m"),
    ("label_smoothing", "token LS"),
)


def _changes(row: Seq2SeqRecord, reference: Seq2SeqRecord) -> str:
    """What ``row`` sets differently from ``reference`` (method, table, alpha, k', m, token LS)."""
    out = []
    if _method_of(row) != _method_of(reference):
        out.append(f"method {_method_of(row)}")
    table, ref_table = (row.table or {}).get("name"), (reference.table or {}).get("name")
    if table != ref_table and _method_of(row) == _method_of(reference):
        out.append(f"table {table}")
    for key, name in _ABLATED:
        if row.config.get(key) != reference.config.get(key):
            out.append(f"{name} {reference.config.get(key)} -> {row.config.get(key)}")
    return ", ".join(out) or "(same settings)"


def _ablations(p_value: _PairedPValues, rows: dict[str, list[Seq2SeqRecord]]) -> list[list[str]]:
    """Rows of the ablation table of ``pair`` (module docstring; ``rows`` in recipe order); empty without
    two semantic rows."""
    semantic = [label for label, recs in rows.items() if _method_of(recs[0]) in SEMANTIC_METHODS]
    reference = next((label for label in semantic if _method_of(rows[label][0]) == "semantic"), None)
    if reference is None or len(semantic) < 2:
        return []
    ref_by_seed = {r.seed: r for r in rows[reference]}
    out = [[reference, "(reference)", _mean_sd([r.test["bleu"] for r in rows[reference]]), "", ""]]
    for label in semantic:
        if label == reference:
            continue
        shared = sorted((r for r in rows[label] if r.seed in ref_by_seed), key=lambda r: r.seed)
        deltas = [r.test["bleu"] - ref_by_seed[r.seed].test["bleu"] for r in shared]
        p_values = [f"{p_value(ref_by_seed[r.seed], r):.3f}" for r in shared]
        out.append(
            [
                label,
                _changes(rows[label][0], rows[reference][0]),
                _mean_sd([r.test["bleu"] for r in rows[label]]),
                f"{np.mean(deltas):+.2f} ({len(deltas)} seed{'s' * (len(deltas) != 1)})" if deltas else "–",
                " / ".join(p_values) or "–",
            ]
        )
    return out


def _triangle(
    first: str, ran: list[tuple[str, Any]], bleu: Callable[[Any], float], p: Callable[[Any, Any], float]
) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of the matrix of p-values between the ``(label, runs)`` of ``ran``: row ``i``,
    column ``j > i`` holds ``p(runs_i, runs_j)``, the diagonal ``·``; each row is named by its number,
    label and ``bleu(runs)``."""
    header = [first, *[str(j + 1) for j in range(len(ran))]]
    table = []
    for i, (label, runs) in enumerate(ran):
        cells = ["·" if j == i else "" for j in range(len(ran))]
        for j in range(i + 1, len(ran)):
            cells[j] = f"{p(runs, ran[j][1]):.3f}"
        table.append([f"{i + 1}. {label} ({bleu(runs):.2f})", *cells])
    return header, table


def _pairwise(
    p_value: _PairedPValues, rows: dict[str, list[Seq2SeqRecord]]
) -> list[tuple[int, list[str], list[list[str]]]]:
    """Per seed that two rows or more ran: ``(seed, header, rows)`` of the matrix of paired bootstrap
    p-values between them (:func:`_triangle`)."""
    out = []
    seeds = sorted({r.seed for recs in rows.values() for r in recs})
    for seed in seeds:
        ran = [(label, r) for label, recs in rows.items() for r in recs if r.seed == seed]
        if len(ran) >= 2:
            out.append((seed, *_triangle("row (test BLEU-4)", ran, lambda r: r.test["bleu"], p_value)))
    return out


def _pairwise_seed_means(
    p_value: _PairedPValues, rows: dict[str, list[Seq2SeqRecord]]
) -> tuple[list[int], list[str], list[list[str]]] | None:
    """``(seeds, header, rows)`` of the matrix of p-values of the seed means' differences
    (:meth:`_PairedPValues.over_seeds`, :func:`_triangle`) between the rows that ran the most seeds (two
    or more; the same seeds); ``None`` when fewer than two rows did."""
    most = max((sorted({r.seed for r in recs}) for recs in rows.values()), key=len, default=[])
    ran = [(label, recs) for label, recs in rows.items() if sorted({r.seed for r in recs}) == most]
    if len(most) < 2 or len(ran) < 2:
        return None

    def mean(recs: list[Seq2SeqRecord]) -> float:
        return float(np.mean([r.test["bleu"] for r in recs]))

    return most, *_triangle("row (mean test BLEU-4)", ran, mean, p_value.over_seeds)


def _curves(pair: str, rows: dict[str, list[Seq2SeqRecord]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, recs in rows.items():
        for i, record in enumerate(sorted(recs, key=lambda r: r.seed)):
            epochs = [h["epoch"] for h in record.history]
            bleu = [h["val_bleu"] for h in record.history]
            ax.plot(epochs, bleu, marker="o", ms=3, label=label if i == 0 else None, alpha=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation BLEU-4")
    ax.set_title(f"{pair}: model selection")
    ax.legend(fontsize=7)
    return png_data_uri(fig)


def _examples(run_dir: Path, pair: str) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path in sorted((run_dir / "tables" / pair).glob("*.examples.json")):
        try:
            rows = json.loads(path.read_text(encoding="utf-8")).get("examples", [])
        except (OSError, ValueError):
            continue
        out.append((path.name.removesuffix(".examples.json"), rows))
    return out


def build_seq2seq_report(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/report.html`` and ``RUN_DIR/results.md`` (module docstring); return the HTML path."""
    from textsmooth.experiments.report import run_command

    run_dir = Path(run_dir)
    recipe, manifest, records = _load(run_dir)
    paper = recipe.get("paper") or {}
    order = _recipe_labels(recipe) + [r.method for r in records]  # recipe order; removed rows last
    by_pair: dict[str, dict[str, list[Seq2SeqRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        by_pair[record.pair][record.method].append(record)
    labels = list(dict.fromkeys(order))
    command = run_command(recipe, manifest, run_dir)
    seeds = sorted({r.seed for r in records})
    total = format_duration(sum(r.seconds for r in records))
    md = [
        f"# {recipe.get('name')}",
        "",
        str(recipe.get("description", "")).strip(),
        "",
        f"Budget: {str(recipe.get('budget', '')).strip().rstrip('.')}. "
        f"Measured: {total} of training and evaluation (sum over runs). "
        f"Seeds: {seeds}. Runs: {len(records)}.",
        "",
        f"Command: `{command}`",
        "",
    ]
    body = []
    for pair, unordered in by_pair.items():
        rows = {label: unordered[label] for label in labels if label in unordered}
        n = {r.n_train for recs in rows.values() for r in recs}
        p_value = _PairedPValues(run_dir, pair)
        sig = _significance(p_value, rows)
        header = ["method", "BLEU-4 (test)", "seeds", "paper", "p vs strongest baseline (per seed)"]
        header.append("p vs strongest baseline (seed means)")
        table = [
            [
                label,
                _mean_sd([r.test["bleu"] for r in rows[label]]),
                str(len(rows[label])),
                str(paper.get(label, "–")),
                *sig.get(label, ("–", "–")),
            ]
            for label in labels
            if label in rows
        ]
        orders = [["method", *[name for _, name in _SCORES], "best val BLEU", "best epoch"]]
        orders += [
            [
                label,
                *[f"{np.mean([r.test[k] for r in rows[label]]):.2f}" for k, _ in _SCORES],
                f"{np.mean([r.best_val_bleu for r in rows[label]]):.2f}",
                "/".join(str(r.best_epoch) for r in rows[label]),
            ]
            for label in labels
            if label in rows
        ]
        title = f"{pair}: {', '.join(f'{x:,}' for x in sorted(n))} training pairs"
        md += [f"## {title}", "", table_md(header, table), "", "BLEU orders and chrF (means over seeds):", ""]
        md += [table_md(orders[0], orders[1:]), ""]
        body.append(f"<h2>{html.escape(title)}</h2>" + table_html(header, table))
        body.append("<h3>BLEU orders and chrF (the paper's Tables 3-4; means over seeds)</h3>")
        body.append(table_html(orders[0], orders[1:]))
        seed_head, seed_rows = _per_seed(rows)
        if seed_rows:
            md += ["BLEU-4 (test) per seed:", "", table_md(seed_head, seed_rows), ""]
            body.append("<h3>BLEU-4 (test) per seed</h3>" + table_html(seed_head, seed_rows))
        ablations = _ablations(p_value, rows)
        if ablations:
            head = ["semantic row", "changes", "BLEU-4 (test)", "difference (shared seeds)", "p (per seed)"]
            intro = "Ablations of the semantic row (Table 4, no BLEU pruning, k', alpha):"
            md += [intro, "", table_md(head, ablations), ""]
            body.append(f"<h3>{html.escape(intro.rstrip(':'))}</h3>" + table_html(head, ablations))
        for seed, head, matrix in _pairwise(p_value, rows):
            intro = f"Paired bootstrap p-values of every two rows, seed {seed} (BLEU-4, 1,000 resamples):"
            md += [intro, "", table_md(head, matrix), ""]
            body.append(f"<h3>{html.escape(intro.rstrip(':'))}</h3>" + table_html(head, matrix))
        means = _pairwise_seed_means(p_value, rows)
        if means is not None:
            seeds_ran, head, matrix = means
            intro = (
                "Paired bootstrap p-values of every two rows' seed means, seeds "
                f"{', '.join(map(str, seeds_ran))} (BLEU-4, 1,000 resamples, the same for every seed; "
                "test-set noise only, not the variation between seeds):"
            )
            md += [intro, "", table_md(head, matrix), ""]
            body.append(f"<h3>{html.escape(intro.rstrip(':'))}</h3>" + table_html(head, matrix))
        body.append(f"<h3>Validation BLEU per epoch</h3><img src='{_curves(pair, rows)}'>")
        for name, examples in _examples(run_dir, pair):
            ex_rows = [
                [
                    ex["target"],
                    "\n".join(ex["related"]),
                    ", ".join("–" if c is None else f"{c:.2f}" for c in ex.get("cosine", [])),
                    ", ".join("–" if b is None else f"{b:.1f}" for b in ex.get("bleu", [])),
                ]
                for ex in examples
            ]
            if ex_rows:
                head = ["target", "best related targets", "cosine", "BLEU"]
                body.append(f"<h3>Related targets: {html.escape(name)} (the paper's Table 1)</h3>")
                body.append(table_html(head, ex_rows))
                md += [
                    f"Related targets ({name}):",
                    "",
                    table_md(head, [[c.replace("\n", " / ") for c in r] for r in ex_rows]),
                    "",
                ]
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(str(recipe.get('name')))}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(str(recipe.get('name')))}</h1>"
        f"<p>{html.escape(str(recipe.get('description', '')))}</p>"
        f"<p><b>Budget:</b> {html.escape(str(recipe.get('budget', '')))} · <b>seeds:</b> {seeds} · "
        f"<b>runs:</b> {len(records)} · <b>total run time:</b> {total} (sum over runs)</p>"
        f"<p><b>Versions:</b> {html.escape(versions)}</p>"
        f"<p><b>Command:</b> <code>{html.escape(command)}</code></p>" + "".join(body) + "</body></html>"
    )
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    atomic_write_text(run_dir / "results.md", "\n".join(md) + "\n")
    return out
