"""The margins as a document: JSON, the summary table (README, report), the heat map.

Everything here reads the JSON document ``iabp margins --json`` writes, so the report can
show a margin run made earlier without proving anything again.
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from iabp.proofs.margins import BANDS, CONSTANTS, SCOPES, Margin
from iabp.spec.assumptions import STATED_WORLD

#: A slack at or below this is "thin" (highlighted): the constant's stated value is within
#: a few ms of what breaks the proof.
THIN_SLACK_MS = 5
DOC_FORMAT = "iabp-margins/1"


def margins_document(margins: Sequence[Margin], seconds: float, jobs: int,
                     timeout_s: float) -> dict[str, Any]:
    """The JSON document of a margins run (what ``--json`` writes and ``report`` reads)."""
    order = {(s, b.name, c.field): i for i, (s, b, c) in enumerate(
        (s, b, c) for s in SCOPES for c in CONSTANTS for b in BANDS)}
    rows = sorted(margins, key=lambda m: (order.get((m.scope, m.band, m.constant), 0),
                                          m.property_id))
    return {
        "format": DOC_FORMAT,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "solver": f"z3 {z3.get_version_string()}",
        "python": platform.python_version(),
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "timeout_s": timeout_s,
        "stated_world": {c.field: getattr(STATED_WORLD, c.field) for c in CONSTANTS},
        "constants": [{"field": c.field, "label": c.label, "assumption": c.assumption,
                       "worse": "larger" if c.worse > 0 else "smaller", "limit": c.limit}
                      for c in CONSTANTS],
        "bands": [{"name": b.name, "rr_min_ms": b.rr_min_ms, "rr_max_ms": b.rr_max_ms}
                  for b in BANDS],
        "scopes": list(SCOPES),
        "thin_slack_ms": THIN_SLACK_MS,
        "margins": [m.to_json() for m in rows],
    }


@dataclass(frozen=True)
class SummaryCell:
    """The thinnest margin over the properties, for one scope, constant and band."""

    slack: int | None  #: None: no property applies in this band
    at_least: bool  #: every property proved up to the search limit
    limiting: str  #: the property with the thinnest margin (or "")
    margin: int | None

    def text(self) -> str:
        if self.slack is None:
            return "n/a"
        return ("≥ " if self.at_least else "") + f"{self.slack}"

    @property
    def thin(self) -> bool:
        return self.slack is not None and not self.at_least and self.slack <= THIN_SLACK_MS


def summary(doc: dict[str, Any], scope: str, constant: str, band: str) -> SummaryCell:
    rows = [m for m in doc["margins"] if m["scope"] == scope and m["constant"] == constant
            and m["band"] == band and m["slack"] is not None]
    if band != BANDS[0].name:  # properties that ignore the heart rate: their all-rates margin
        searched = {m["property_id"] for m in doc["margins"] if m["band"] == band}
        rows += [m for m in doc["margins"] if m["scope"] == scope
                 and m["constant"] == constant and m["band"] == BANDS[0].name
                 and m["slack"] is not None and m["property_id"] not in searched]
    if not rows:
        return SummaryCell(None, False, "", None)
    worst = min(rows, key=lambda m: (m["slack"], m["at_limit"]))
    return SummaryCell(worst["slack"], all(m["at_limit"] for m in rows),
                       "" if worst["at_limit"] else worst["property_id"], worst["margin"])


def summary_markdown(doc: dict[str, Any]) -> str:
    """The README table: per constant and band, the thinnest slack (ms) in each scope."""
    bands = [b["name"] for b in doc["bands"]]
    head = "| constant (stated) | scope | " + " | ".join(bands) + " |"
    lines = [head, "|" + "---|" * (len(bands) + 2)]
    for c in doc["constants"]:
        for scope in doc["scopes"]:
            cells = []
            for b in bands:
                s = summary(doc, scope, c["field"], b)
                text = s.text() + (f" ({s.limiting})" if s.limiting and s.thin else "")
                cells.append(f"**{text}**" if s.thin else text)
            lines.append(f"| `{c['field']}` ({doc['stated_world'][c['field']]}) | {scope} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def heatmap_png(doc: dict[str, Any], path: Path) -> None:
    """The heat map: slack (ms) per constant and heart-rate band, one panel per scope;
    thin cells red, "at least" cells marked with >=, bands where nothing applies grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    bands = [b["name"] for b in doc["bands"]]
    consts = [c["field"] for c in doc["constants"]]
    cap = 40.0
    fig, axes = plt.subplots(1, len(doc["scopes"]), figsize=(7.5 * len(doc["scopes"]), 4.8),
                             squeeze=False)
    for ax, scope in zip(axes[0], doc["scopes"], strict=True):
        grid = np.full((len(consts), len(bands)), np.nan)
        for i, c in enumerate(consts):
            for j, b in enumerate(bands):
                s = summary(doc, scope, c, b)
                if s.slack is not None:
                    grid[i, j] = min(float(s.slack), cap)
                    ax.text(j, i, s.text(), ha="center", va="center", fontsize=8,
                            color="white" if s.slack <= THIN_SLACK_MS else "black")
        cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#cccccc")
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=cap, aspect="auto")
        ax.set_xticks(range(len(bands)), [b.replace(" (all)", "\n(all)") for b in bands],
                      fontsize=8)
        ax.set_yticks(range(len(consts)), consts, fontsize=8)
        ax.set_title(f"slack (ms) before a proof fails: {scope}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
