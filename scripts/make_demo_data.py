"""Build the demo sample bundled in the package from ../shared/data/senteval/TREC.

TREC question classification (Li & Roth 2002, freely available), as SentEval ships it: each line is
``COARSE:fine question``. We keep all 5,452 training and 500 test questions as CSV (text, label,
fine_label), gzip-compressed. Run from the repository root: ``python scripts/make_demo_data.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from pathlib import Path

SOURCE = Path("../shared/data/senteval/TREC")
OUT = Path("src/textsmooth/data")


def convert(name: str, out_name: str) -> int:
    raw = lzma.decompress((SOURCE / f"{name}.xz").read_bytes())
    lines = raw.decode("latin-1").splitlines()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label", "fine_label"])
    for line in lines:
        tag, _, question = line.partition(" ")
        coarse, _, fine = tag.partition(":")
        writer.writerow([question.strip(), coarse, fine])
    data = gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0)
    (OUT / out_name).write_bytes(data)
    return len(lines)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    print("train", convert("train_5500.label", "trec_train.csv.gz"))
    print("test", convert("TREC_10.label", "trec_test.csv.gz"))
