"""The evidence report's document model: sections of paragraphs, tables, code and figures.

The report's content is built once from these small blocks and rendered twice, to HTML
(:mod:`iabp.proofs.report.html`) and to Markdown (:mod:`iabp.proofs.report.markdown`), so the two
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUS_CLASS = {"PROVED": "ok", "VIOLATED": "bad", "UNKNOWN": "warn", "VACUOUS": "warn"}


# -- document model ---------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """Inline text: plain, ``code``, a link, or a status badge (``cls``)."""

    text: str
    code: bool = False
    href: str | None = None
    cls: str = ""


Cell = list[Span]


@dataclass(frozen=True)
class Para:
    """A paragraph of inline spans."""

    spans: list[Span]


@dataclass(frozen=True)
class Table:
    """A table: header texts and rows of cells (each a list of spans)."""

    headers: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Code:
    """A preformatted block."""

    text: str


@dataclass(frozen=True)
class Image:
    """A figure: inline SVG text, or PNG bytes (a data: URI in HTML, a file in Markdown)."""

    name: str
    alt: str
    svg: str | None = None
    png: bytes | None = None


@dataclass(frozen=True)
class Fold:
    """Content the HTML folds away (``<details>``); Markdown shows it under a bold line."""

    summary: str
    blocks: list[Block]


Block = Para | Table | Code | Image | Fold


@dataclass
class Section:
    """A titled part of the report (level 2 in the table of contents, 3 below it)."""

    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


def t(text: str, **kw: Any) -> Span:
    """A span (shorthand)."""
    return Span(text, **kw)


def cell(*spans: Span | str) -> Cell:
    """A table cell from spans and plain strings."""
    return [s if isinstance(s, Span) else Span(s) for s in spans]


def badge(status: str) -> Span:
    """A status (PROVED, VIOLATED, ...) shown as a coloured badge."""
    return Span(status, cls=STATUS_CLASS.get(status, "warn"))

