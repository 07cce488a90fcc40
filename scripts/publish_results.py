"""Copy finished experiment reports into docs/results/ (the tables in Markdown, the HTML pages beside them).

Usage: python scripts/publish_results.py runs/trec-textcnn-balanced [runs/... ...]

Each RUN_DIR's report is rebuilt with ``textsmooth report`` first (the classification, seq2seq or
autoencoder report, by the run folder's manifest), so the published files match the results on disk;
``docs/results/<run dir name>.md`` and ``docs/results/reports/<run dir name>.html`` are overwritten.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from textsmooth.experiments.autoencoder import is_autoencoder_run_dir
from textsmooth.experiments.autoencoder_report import build_autoencoder_report
from textsmooth.experiments.report import build_report
from textsmooth.experiments.seq2seq import is_seq2seq_run_dir
from textsmooth.experiments.seq2seq_report import build_seq2seq_report

DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"


def main(run_dirs: list[str]) -> int:
    if not run_dirs:
        print(__doc__)
        return 2
    (DOCS / "reports").mkdir(parents=True, exist_ok=True)
    for run_dir in map(Path, run_dirs):
        if is_autoencoder_run_dir(run_dir):
            html = build_autoencoder_report(run_dir)
        elif is_seq2seq_run_dir(run_dir):
            html = build_seq2seq_report(run_dir)
        else:
            html = build_report(run_dir)
        shutil.copyfile(run_dir / "results.md", DOCS / f"{run_dir.name}.md")
        shutil.copyfile(html, DOCS / "reports" / f"{run_dir.name}.html")
        print(f"{run_dir} -> docs/results/{run_dir.name}.md, docs/results/reports/{run_dir.name}.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
