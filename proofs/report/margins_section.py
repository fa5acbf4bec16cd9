"""The report's "Safety margins" section, from the JSON document of ``iabp margins --json``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from iabp.proofs.margins_report import THIN_SLACK_MS, heatmap_png, summary
from iabp.proofs.report.model import Fold, Image, Para, Section, Table, cell, t


def margins_section(doc: dict[str, Any] | None) -> Section:
    """Slack per constant and heart-rate band (both scopes), the heat map, every margin."""
    s = Section("margins", "Safety margins")
    if doc is None:
        s.blocks.append(Para([t("Not run for this report: "), t("iabp margins --json "
                               "margins.json", code=True), t(" then "), t("iabp report "
                               "--margins margins.json ...", code=True), t(".")]))
        return s
    s.blocks.append(Para([t(
        "For each environment or hardware constant and each property whose proof reads it, "
        "the worst value for which the property still PROVES (all other constants as "
        "stated, the controller unchanged), found by the prover: worse by 1, 2, 4 ... ms "
        "until a proof fails, then bisected. Slack is that value minus the stated one (ms, "
        "in the direction that is worse). The next value is NOT PROVED: an induction step "
        "the solver breaks (reachability from power-on not shown), so the true margin may "
        "be larger, never smaller. 'every setting' is the proofs' own scope (the design's "
        f"worst setting); 'default settings' is the console as shipped. Slack of "
        f"{THIN_SLACK_MS} ms or less is thin. Run: {doc['generated']}, {doc['solver']}, "
        f"{doc['seconds']} s on {doc['jobs']} process(es).")]))
    bands = [b["name"] for b in doc["bands"]]
    for scope in doc["scopes"]:
        rows = []
        for c in doc["constants"]:
            row = [cell(t(c["field"], code=True)), cell(str(doc["stated_world"][c["field"]]))]
            for b in bands:
                x = summary(doc, scope, c["field"], b)
                row.append([t(x.text(), cls="bad" if x.thin else "")])
            row.append(cell(summary(doc, scope, c["field"], bands[0]).limiting or "-"))
            rows.append(row)
        s.blocks.append(Para([t(f"Slack (ms) of the thinnest property, {scope}:")]))
        s.blocks.append(Table(["constant", "stated", *bands, "thinnest at all rates"], rows))
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "margins.png"
        heatmap_png(doc, png)
        s.blocks.append(Image("margins", "slack per constant and heart-rate band",
                              png=png.read_bytes()))
    detail = [[cell(m["scope"]), cell(m["band"]), cell(t(m["constant"], code=True)),
               cell(m["property_id"]), cell(str(m["stated"])),
               cell("-" if m["margin"] is None else ("≥ " if m["at_limit"] else "")
                    + str(m["margin"])),
               cell("-" if m["slack"] is None else str(m["slack"])),
               cell(m["status_at_stated"] if m["slack"] is None
                    else (m["failed_query"] or "-"))]
              for m in doc["margins"]]
    s.blocks.append(Fold(f"Every margin ({len(detail)})", [Table(
        ["scope", "band", "constant", "property", "stated", "margin", "slack",
         "next value: why not proved"], detail)]))
    return s
