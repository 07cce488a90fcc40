"""Stop-word lists: the bundled English list (``"en"``) or a file of one word per line.

``"en"`` is NLTK's English stop-word list (179 words, from the Snowball lists, BSD-licensed), shipped in
``textsmooth/data/stopwords_en.txt`` so that nothing downloads.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from textsmooth.errors import DataError

__all__ = ["BUNDLED_STOPWORDS", "load_stopwords"]

BUNDLED_STOPWORDS = {"en": "stopwords_en.txt"}


def load_stopwords(name_or_path: str | Path) -> set[str]:
    """The words of a bundled list (``"en"``) or of a UTF-8 file (one word per line, blank lines skipped).

    Raises:
        DataError: neither a bundled list nor an existing file.
    """
    key = str(name_or_path)
    if key in BUNDLED_STOPWORDS:
        text = (resources.files("textsmooth") / "data" / BUNDLED_STOPWORDS[key]).read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise DataError(
                "not a stop-word file or a bundled list",
                path=path,
                hint=f"bundled: {', '.join(BUNDLED_STOPWORDS)}",
            )
        from textsmooth.io.readers import read_text_file

        text = read_text_file(path)
    return {line.strip() for line in text.split("\n") if line.strip()}
