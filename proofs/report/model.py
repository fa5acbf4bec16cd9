"""The evidence report's document model: sections of paragraphs, tables, code and figures.

The report's content is built once from these small blocks and rendered twice, to HTML
(:mod:`iabp.proofs.report.html`) and to Markdown (:mod:`iabp.proofs.report.markdown`), so the two
cannot drift apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_CLASS = {"PROVED": "ok", "VIOLATED": "bad", "UNKNOWN": "warn", "VACUOUS": "warn"}


# -- document model ---------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """Inline text: plain, ``code``, a link, or a status badge (``cls``); ``anchor`` makes
    it a link target (``#anchor``)."""

    text: str
    code: bool = False
    href: str | None = None
    cls: str = ""
    anchor: str = ""


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
    """Content the HTML folds away (``<details>``; ``unfolded``: open from the start);
    Markdown shows it under a bold line. ``anchor`` makes it a link target (``#anchor``)."""

    summary: str
    blocks: list[Block]
    anchor: str = ""
    unfolded: bool = False


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


def anchor_of(ident: str) -> str:
    """The in-page anchor of a hazard, requirement, property or monitor-rule ID
    (``P-FAULT-HALT`` -> ``p-fault-halt``): lower case, as GitHub's Markdown links expect."""
    return re.sub(r"[^a-z0-9-]+", "-", ident.lower()).strip("-")


def ref(ident: str, text: str | None = None, suffix: str = "") -> Span:
    """A link to the report's entry for ``ident`` (``suffix``: a part of it, e.g. ``-tests``)."""
    return Span(ident if text is None else text, href=f"#{anchor_of(ident)}{suffix}")


def refs(idents: Sequence[str], empty: str = "-") -> Cell:
    """Links to several IDs, comma separated (``empty`` when there are none)."""
    if not idents:
        return [Span(empty)]
    out: Cell = []
    for i, ident in enumerate(idents):
        out += [Span(", ")] if i else []
        out.append(ref(ident))
    return out


def relative_href(target: Path, out_dir: Path) -> str:
    """A link from a report written in ``out_dir`` to ``target`` (a file or directory),
    relative, so it works wherever both are as long as they move together."""
    return Path(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix()

