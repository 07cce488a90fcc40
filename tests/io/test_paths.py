"""check_output_paths: outputs that would destroy an input or cannot be written are refused up front."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from textsmooth.errors import ConfigError
from textsmooth.io.paths import check_output_paths


def test_output_equal_to_an_input_is_refused_with_the_option(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("text,label\na,b\n")
    with pytest.raises(ConfigError, match=r"option -o.*also an input"):
        check_output_paths({"-o": data}, inputs=[data])
    # the same file reached by another spelling of the path, and by a hard link
    with pytest.raises(ConfigError, match="also an input"):
        check_output_paths({"-o": tmp_path / "." / "in.csv"}, inputs=[data])
    os.link(data, tmp_path / "hard.csv")
    with pytest.raises(ConfigError, match="also an input"):
        check_output_paths({"--save-model": tmp_path / "hard.csv"}, inputs=[data])
    assert data.read_text() == "text,label\na,b\n"


def test_two_outputs_on_one_path_a_folder_and_a_path_under_a_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(ConfigError, match=r"option --save-model.*same file as -o"):
        check_output_paths({"-o": out, "--save-model": out})
    with pytest.raises(ConfigError, match=r"option -o.*is a folder"):
        check_output_paths({"-o": tmp_path})
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"option -o.*is a file, not a folder"):
        check_output_paths({"-o": blocker / "sub" / "out.parquet"})


def test_ordinary_outputs_pass_and_none_is_skipped(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("x")
    check_output_paths(
        {"-o": tmp_path / "new" / "deeper" / "out.parquet", "--save-model": None}, [data, None]
    )
    assert not (tmp_path / "new").exists()  # checking creates nothing
