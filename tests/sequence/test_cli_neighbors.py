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


def _run(*args: str):
    return runner.invoke(app, ["neighbors", *map(str, args)])


def test_option_errors_name_the_option_as_typed(en, tmp_path):
    good = _write(tmp_path / "good.en", en[:10])
    out = tmp_path / "t.parquet"
    cases = [
        (["--k", "3", "--keep", "5"], "option --keep"),
        (["--k", "0"], "option --k"),
        (["--keep", "0"], "option --keep"),
        (["--bleu-order", "-1"], "option --bleu-order"),
        (["--batch-size", "0"], "option --batch-size"),
        (["--threads", "0"], "option --threads"),
        (["--shard-size", "0"], "option --shard-size"),
        (["--min-cosine", "1.5"], "option --min-cosine"),
        (["--min-cosine", "0.3", "--method", "within-batch"], "option --min-cosine"),
        (["--method", "within-batch", "--train-batch", "0"], "option --train-batch"),
        (["--method", "token-swap", "--samples", "0"], "option --samples"),
        (["--method", "token-swap", "--tau", "0"], "option --tau"),
        (["--method", "token-swap", "--bleu-order", "0"], "option --bleu-order"),
        (["--sources", str(good)], "option --sources"),
        (["--no-cache", "--cache-dir", str(tmp_path / "c")], "option --no-cache"),
    ]
    for extra, want in cases:
        result = _run(good, "-o", out, *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert want in result.output and "column" not in result.output, (extra, result.output)
        assert "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "t.parquet.work").exists()
    table = _write(tmp_path / "x.txt", ["x"])  # `show` options are checked before the table is read
    for extra, want in ((["-n", "-2"], "option -n"), (["--top", "0"], "option --top")):
        result = _run("show", table, *extra)
        assert result.exit_code == 2 and want in result.output, result.output


def test_output_paths_are_refused_before_any_work(en, tmp_path):
    targets = _write(tmp_path / "t.en", en[:10])
    before = targets.read_bytes()
    cache = tmp_path / "cache"
    for method in ("semantic", "within-batch", "token-swap"):
        result = _run(targets, "-o", targets, "--method", method, "--cache-dir", cache)
        assert result.exit_code == 2 and "option -o" in result.output and "input" in result.output
    assert targets.read_bytes() == before and not cache.exists()  # nothing embedded, input intact
    folder = tmp_path / "folder"
    folder.mkdir()
    result = _run(targets, "-o", folder, "--cache-dir", cache)
    assert result.exit_code == 2 and "option -o" in result.output and "is a folder" in result.output
    result = _run(targets, "-o", targets / "t.parquet", "--cache-dir", cache)
    assert result.exit_code == 2 and "option -o" in result.output and "is a file" in result.output
    not_a_dir = _write(tmp_path / "cache-file", ["x"])
    for bad in (not_a_dir, not_a_dir / "sub"):
        result = _run(targets, "-o", tmp_path / "o.parquet", "--cache-dir", bad)
        assert result.exit_code == 2 and "option --cache-dir" in result.output, result.output
        assert "is a file" in result.output and "Traceback" not in result.output
    assert not cache.exists() and not list(tmp_path.glob("*.parquet*"))


def test_empty_file_or_folder_as_targets(en, tmp_path):
    empty = _write(tmp_path / "empty.en", [])
    empty.write_bytes(b"")
    for method in ("semantic", "within-batch", "token-swap"):
        out = tmp_path / f"{method}.parquet"
        result = _run(empty, "-o", out, "--method", method)
        assert result.exit_code == 2 and "empty.en: file is empty" in result.output, (method, result.output)
        assert not out.exists()
    result = _run(tmp_path, "-o", tmp_path / "o.parquet")
    assert result.exit_code == 2 and "is a folder" in result.output and "does not exist" not in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_byte_order_mark_is_not_part_of_a_target(en, tmp_path):
    targets = tmp_path / "bom.en"
    targets.write_bytes(("\ufeff" + "\n".join(en[:12]) + "\n").encode("utf-8"))
    out = tmp_path / "swap.parquet"
    assert _run(targets, "-o", out, "--method", "token-swap", "--samples", "2").exit_code == 0
    swap = NeighborTable.read(out, texts=en[:12])  # the manifest hash is that of the BOM-free texts
    assert not any("\ufeff" in text for text in swap.neighbor_text)
    out = tmp_path / "sem.parquet"
    result = _run(targets, "-o", out, "--k", "11", "--keep", "11", "--bleu-order", "0", "--no-cache", "-q")
    assert result.exit_code == 0, result.output
    table = NeighborTable.read(out, texts=en[:12])
    assert en[0] in table.neighbor_text and not any("\ufeff" in text for text in table.neighbor_text)


def test_min_cosine_option_is_applied_and_recorded(en, tmp_path):
    targets = _write(tmp_path / "t.en", en[:40])
    out = tmp_path / "t.parquet"
    result = _run(targets, "-o", out, "--k", "8", "--keep", "3", "--min-cosine", "0.5", "--no-cache", "-q")
    assert result.exit_code == 0, result.output
    table = NeighborTable.read(out, texts=en[:40])
    params = table.meta["parameters"]
    assert params["min_cosine"] == 0.5 and (table.cosine >= 0.5).all()
    assert params["encoder"]["precision"] == "fp32" and "mincos=0.5" in result.output
    short = params["targets_below_keep"]
    assert short == sum(len(x) < 3 for x in table.as_lists()) and short > 0
    assert f"{short} targets have fewer than k'=3" in result.output
