"""`textsmooth neighbors` and `textsmooth neighbors show` end to end (real MiniLM, few sentences)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.sequence import NeighborTable

runner = CliRunner()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_build_and_show(en, tmp_path):
    targets = _write(tmp_path / "train.en", en[:40])
    out = tmp_path / "table.parquet"
    args = ["neighbors", str(targets), "-o", str(out), "--k", "8", "--keep", "3", "--bleu-order", "4"]
    result = runner.invoke(app, [*args, "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert result.exit_code == 0, result.output
    assert "time per stage" in result.output
    table = NeighborTable.read(out, texts=en[:40])
    assert len(table) == 120 and table.neighbor_text is not None
    assert not (tmp_path / "table.parquet.work").exists()  # the work folder is removed after success
    shown = runner.invoke(app, ["neighbors", "show", str(out), "--id", "0", "--id", "2"])
    assert shown.exit_code == 0, shown.output
    assert "Orig (0):" in shown.output and "1st:" in shown.output and "2nd:" in shown.output


def test_baseline_methods(en, tmp_path):
    targets = _write(tmp_path / "t.en", en[:20])
    for method in ("within-batch", "token-swap"):
        out = tmp_path / f"{method}.parquet"
        result = runner.invoke(
            app, ["neighbors", str(targets), "-o", str(out), "--method", method, "--keep", "3"]
        )
        assert result.exit_code == 0, result.output
        table = NeighborTable.read(out, texts=en[:20])
        assert table.meta["parameters"]["generator"] == method
        assert table.rank.max() == 3


def test_bad_input_gives_one_line_errors_and_no_output(en, tmp_path):
    bad = _write(tmp_path / "bad.en", [en[0], "", en[1]])
    out = tmp_path / "t.parquet"
    result = runner.invoke(app, ["neighbors", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "bad.en, row 2" in result.output and "empty" in result.output
    good = _write(tmp_path / "good.en", en[:10])
    result = runner.invoke(app, ["neighbors", str(good), "-o", str(out), "--k", "3", "--keep", "5"])
    assert result.exit_code == 2 and "keep" in result.output
    result = runner.invoke(app, ["neighbors", str(good), "-o", str(out), "--model", str(tmp_path / "none")])
    assert result.exit_code == 2 and "model path does not exist" in result.output
    result = runner.invoke(app, ["neighbors", str(good), "-o", str(out), "--embed-side", "source"])
    assert result.exit_code == 2 and "--sources" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["neighbors", "show", str(tmp_path / "missing.parquet")])
    assert result.exit_code == 2 and "does not exist" in result.output
