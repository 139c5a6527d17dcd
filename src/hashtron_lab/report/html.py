"""Self-contained HTML pages: inline CSS, PNGs as base64 data URIs, no scripts, no requests."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Iterable, Sequence

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td:first-child,th:first-child,td.l,th.l{text-align:left}\nsummary{cursor:pointer;color:#1f6fb4}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.pass{color:#1b7f3b;font-weight:bold}.fail{color:#b3261e;font-weight:bold}.na{color:#777}
.note{font-size:.85em;color:#555}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px 12px;min-width:130px}
.card b{display:block;font-size:1.15em}.alert{color:#8a4b00}
code{background:#f5f5f5;padding:0 3px}
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def data_uri(png: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def figure(png: str | Path, caption: str, alt: str | None = None) -> str:
    return (f'<figure><img src="{data_uri(png)}" alt="{esc(alt or caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], raw: bool = False,
          left: Iterable[int] = ()) -> str:
    """``raw``: cells are already HTML (otherwise escaped). Cells are right-aligned except the
    first column and the columns whose index is in ``left``."""
    cell = (lambda c: str(c)) if raw else esc
    lefts = set(left)
    cls = lambda i: ' class="l"' if i in lefts else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{cell(c)}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict(ok: bool | None) -> str:
    if ok is None:
        return '<span class="na">not measured</span>'
    return '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'


def page(title: str, body: str, refresh_seconds: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"{refresh}<link rel=\"icon\" href=\"data:,\"><title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")
