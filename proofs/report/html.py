"""The evidence report rendered as one self-contained HTML page.

CSS is inline, figures are inline SVG or ``data:`` URIs, and a Content-Security-Policy
forbids any fetch.
"""

from __future__ import annotations

import base64
import html

from iabp.proofs.report.model import Block, Code, Image, Para, Section, Span, Table

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1320px;padding:0 24px 60px;color:#111827;background:#fff}
h1{font-size:24px;margin:24px 0 8px}h2{border-bottom:2px solid #e5e7eb;padding-bottom:4px;
 margin-top:36px}h3{margin-top:26px}nav a{margin-right:12px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{border:1px solid #d1d5db;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f3f4f6}tr:nth-child(even) td{background:#fafafa}
.tw{overflow-x:auto}code{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;
 white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:0 2px}
.ok,.bad,.warn{font-weight:600;padding:0 5px;border-radius:4px}
.ok{color:#065f46;background:#d1fae5}.bad{color:#991b1b;background:#fee2e2}
.warn{color:#92400e;background:#fef3c7}figure{margin:10px 0}figure svg,figure img{max-width:100%;
 height:auto}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _span_html(s: Span) -> str:
    text = f"<code>{esc(s.text)}</code>" if s.code else esc(s.text)
    if s.cls:
        text = f'<span class="{s.cls}">{text}</span>'
    if s.href:
        text = f'<a href="{esc(s.href)}">{text}</a>'
    return f'<span id="{esc(s.anchor)}">{text}</span>' if s.anchor else text


def _block_html(b: Block) -> str:
    if isinstance(b, Para):
        return "<p>" + "".join(_span_html(s) for s in b.spans) + "</p>"
    if isinstance(b, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in b.headers)
        body = "".join("<tr>" + "".join("<td>" + "".join(_span_html(s) for s in c) + "</td>"
                                        for c in row) + "</tr>" for row in b.rows)
        return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{body}' \
               "</tbody></table></div>"
    if isinstance(b, Code):
        return f"<pre>{esc(b.text)}</pre>"
    if isinstance(b, Image):
        inner = b.svg if b.svg is not None else f'<img alt="{esc(b.alt)}" src="{data_uri(b.png)}">'
        return f"<figure>{inner}<figcaption>{esc(b.alt)}</figcaption></figure>"
    attrs = (f' id="{esc(b.anchor)}"' if b.anchor else "") + (" open" if b.unfolded else "")
    return f"<details{attrs}><summary>{esc(b.summary)}</summary>" + "".join(
        _block_html(x) for x in b.blocks) + "</details>"


def render_html(title: str, sections: list[Section]) -> str:
    """One self-contained HTML page: inline CSS and figures, no external reference."""
    nav = "".join(f'<a href="#{s.anchor}">{esc(s.title)}</a>' for s in sections if s.level == 2)
    body = "".join(f'<section id="{esc(s.anchor)}"><h{s.level}>{esc(s.title)}</h{s.level}>'
                   + "".join(_block_html(b) for b in s.blocks) + "</section>"
                   for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><header>"
            f"<h1>{esc(title)}</h1><nav>{nav}</nav></header><main>{body}</main></body></html>\n")


def data_uri(png: bytes | None) -> str:
    """A ``data:`` URI for PNG bytes (no file, no fetch)."""
    return "data:image/png;base64," + base64.b64encode(png or b"").decode("ascii")


def esc(s: str) -> str:
    """HTML-escape text (quotes included)."""
    return html.escape(s, quote=True)
