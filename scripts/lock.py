"""Write or check ``requirements.lock``: the exact versions `make demo` and `make test` install.

    python scripts/lock.py write VENV requirements.lock   # `make lock`: freeze a freshly resolved venv
    python scripts/lock.py check requirements.lock        # after installing: the venv matches the lock

The lock is a pip constraints file (``pip install -c requirements.lock ...``), one ``name==version``
per line. torch is written as ``torch==2.13.0`` without its ``+cpu`` local label, so the same line
admits the CPU wheel these machines carry; the Makefile installs it before anything else, which is what
keeps pip from resolving a CUDA build.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = """\
# requirements.lock: the exact versions `make demo` and `make test` install (pip constraints).
# Refresh on purpose with `make lock`, run `make test`, and commit this file with the change.
# Written {date} by scripts/lock.py on Python {python} ({machine}).
"""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write(venv: Path, lock: Path) -> None:
    pip = venv / "bin" / "pip"
    frozen = subprocess.run(
        [str(pip), "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    lines = []
    for line in frozen.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("-e "):
            continue
        if "==" not in line:
            sys.exit(f"cannot lock {line!r}: not a released version (name==version)")
        name, version = line.split("==", 1)
        if _normalise(name) == "torch":
            version = version.split("+", 1)[0]
        lines.append(f"{name}=={version}")
    lines.sort(key=lambda entry: _normalise(entry.split("==")[0]))
    text = HEADER.format(
        date=datetime.date.today().isoformat(), python=platform.python_version(), machine=platform.machine()
    ) + "".join(f"{entry}\n" for entry in lines)
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=f".{lock.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, lock)
    print(f"{lock}: {len(lines)} packages")


def check(lock: Path) -> None:
    wrong = []
    for raw in lock.read_text(encoding="utf-8").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        name, version = entry.split("==", 1)
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name}: locked {version}, not installed")
            continue
        if installed.split("+", 1)[0] != version:
            wrong.append(f"{name}: locked {version}, installed {installed}")
    if wrong:
        sys.exit(f"{lock}: the environment does not match the lock:\n  " + "\n  ".join(wrong))
    print(f"{lock}: environment matches")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "write":
        write(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(Path(sys.argv[2]))
    else:
        sys.exit(__doc__)
