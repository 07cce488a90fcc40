"""Checks on output paths, made before anything is computed or written.

A command that would write over one of its own inputs, into a folder that is a file, or onto an
existing folder fails here, with the option named, before any work starts (so nothing is half-written
and no input is lost).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from textsmooth.errors import ConfigError

__all__ = ["check_output_paths"]


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_paths(
    outputs: Mapping[str, str | Path | None], inputs: Iterable[str | Path | None] = ()
) -> None:
    """Refuse output paths that would destroy an input or cannot be written.

    Args:
        outputs: option name (as the user typed it, e.g. ``"-o"`` or ``"--save-model"``) -> path;
            ``None`` entries are skipped.
        inputs: the files the command reads; ``None`` entries are skipped.

    Raises:
        ConfigError: an output resolves to an input file or to another output, is an existing folder,
            or has a file where one of its parent folders should be.
    """
    input_paths = [Path(p) for p in inputs if p is not None]
    seen: dict[Path, str] = {}
    for option, value in outputs.items():
        if value is None:
            continue
        out = Path(value)
        for src in input_paths:
            if _same_file(out, src):
                raise ConfigError(
                    f"{out} is also an input of this command; writing it would destroy the input",
                    option=option,
                    hint="choose another output path",
                )
        resolved = out.resolve()
        if resolved in seen:
            raise ConfigError(
                f"{out} is the same file as {seen[resolved]}",
                option=option,
                hint="give each output its own path",
            )
        seen[resolved] = option
        if out.is_dir():
            raise ConfigError(f"{out} is a folder", option=option, hint="give a file path")
        for parent in out.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError(
                        f"{out}: {parent} is a file, not a folder",
                        option=option,
                        hint="choose an output path in a folder",
                    )
                break
