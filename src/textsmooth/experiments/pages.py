"""Building blocks of the self-contained report pages: tables (HTML and Markdown), embedded PNG plots and
the page style, shared by the classification and the seq2seq reports."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

__all__ = ["CSS", "png_data_uri", "table_html", "table_md"]

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.figs img { margin: 4px; border: 1px solid #eee; }
code { background: #f5f5f5; padding: 1px 4px; }
"""


def table_html(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table of ``rows`` under ``header`` (cells escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_md(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of ``rows`` under ``header``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def png_data_uri(fig: Any) -> str:
    """A matplotlib figure as a base64 ``data:`` URI (the figure is closed), for self-contained pages."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
