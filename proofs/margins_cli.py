"""``iabp margins``: how much worse may each hardware or heart constant be before a proof fails?

For every property and heart-rate band, the worst value of each constant the property's
proof reads (R-wave decision delay latest and earliest, helium arrival lag, deflation
time, R-R step, PEP step, PEP and QS2 tolerance, notch and upstroke delay, activity delay)
for which the property still PROVES, all other constants at
their stated values and the controller unchanged; in two scopes: every setting the
validator accepts (the proofs' own scope) and the default settings. Slack = margin minus
the stated value, in ms, in the direction that is worse.

Exit status: 0 when every property proved at the stated values (the margins are then
meaningful), 1 when one did not, 2 on bad usage, 130 when interrupted.

Output: the summary tables on stdout, then the closing line (``N margins in T s``). While
the margins are searched, a progress bar on stderr when it is a terminal, else a line on
stderr every 50 margins. ``-q`` prints only the closing line (and, on stderr, the
properties not proved at the stated values); ``-v`` adds a table of every margin.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from iabp.proofs.ci_formats import check_output_file
from iabp.proofs.cli import OneLineParser, jobs_arg, timeout_arg
from iabp.proofs.margins import (
    BAND_BY_NAME,
    BANDS,
    CONSTANT_BY_FIELD,
    CONSTANTS,
    SCOPES,
    Margin,
    MarginConstant,
    RateBand,
    margin_tasks,
    run_margins,
)
from iabp.proofs.margins_report import (
    THIN_SLACK_MS,
    heatmap_png,
    margins_document,
    summary,
    summary_markdown,
)
from iabp.spec.errors import IabpError, UsageError
from iabp.spec.iabp import iabp_spec
from iabp.terminal import ProgressBar, Verbosity, add_verbosity_arguments, rich_console

EXIT_INTERRUPTED = 130
SCOPE_FLAGS = {"every": SCOPES[0], "default": SCOPES[1]}


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="iabp margins", description=__doc__.splitlines()[0])
    p.add_argument("--property", action="append", default=[], metavar="ID",
                   help="only this property (repeatable)")
    p.add_argument("--constant", action="append", default=[], metavar="NAME",
                   choices=[c.field for c in CONSTANTS],
                   help="only this constant (repeatable): " + ", ".join(c.field
                                                                         for c in CONSTANTS))
    p.add_argument("--band", action="append", default=[], metavar="NAME",
                   choices=[b.name for b in BANDS],
                   help="only this heart-rate band (repeatable), e.g. '60-80 bpm'")
    p.add_argument("--scope", choices=sorted(SCOPE_FLAGS), action="append", default=[],
                   help="every (every setting the validator accepts) or default (the "
                        "default settings); both unless given")
    p.add_argument("--jobs", type=jobs_arg, default=os.cpu_count() or 1, metavar="N",
                   help="prover processes (default: one per CPU)")
    p.add_argument("--timeout-s", "--timeout", dest="timeout", type=timeout_arg, default=20.0,
                   metavar="S",
                   help="solver time limit per query, seconds (default 20; a query that "
                        "runs out counts as not proved)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every margin as JSON "
                   "(what 'iabp report --margins FILE' shows)")
    p.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="write the heat map (constant x heart-rate band) as PNG")
    p.add_argument("--markdown", type=Path, metavar="FILE",
                   help="write the summary table as Markdown (the README's)")
    add_verbosity_arguments(p, quiet="only the closing line (and what is not proved)",
                            verbose="also a table of every margin (property, constant, band, "
                                    "scope, margin, slack)")
    parser: argparse.ArgumentParser = p
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    out, err = rich_console(), rich_console(stderr=True)
    try:
        spec = iabp_spec()
        known = {p.id for p in spec.properties}
        bad = [i for i in args.property if i not in known]
        if bad:
            raise UsageError(f"unknown property {', '.join(bad)}")
        for option, path in (("--json", args.json), ("--plot", args.plot),
                             ("--markdown", args.markdown)):
            if path is not None:
                check_output_file(path, option)
        props = [spec.property(i) for i in args.property] if args.property else None
        constants = [CONSTANT_BY_FIELD[c] for c in args.constant] or list(CONSTANTS)
        bands = [BAND_BY_NAME[b] for b in args.band] or list(BANDS)
        scopes = [SCOPE_FLAGS[s] for s in args.scope] or list(SCOPES)
        tasks = margin_tasks(spec, props, constants, bands)
        if not tasks:
            raise UsageError("no selected property's proof reads any selected constant")
    except IabpError as exc:
        err.print(f"iabp margins: error: {exc}", markup=False)
        return 2
    try:
        return _run(out, err, tasks, scopes, args)
    except KeyboardInterrupt:
        err.print("iabp margins: interrupted", markup=False)
        return EXIT_INTERRUPTED


def _run(out: Console, err: Console, tasks: list[tuple[RateBand, MarginConstant, str]],
         scopes: list[str],
         args: argparse.Namespace) -> int:
    total = len(tasks) * len(scopes)
    talk = args.verbosity
    said = talk >= Verbosity.NORMAL
    if said:
        err.print(f"iabp margins: {total} margins ({len(tasks)} per scope), {args.jobs} "
                  "process(es) ...", markup=False)
    t0 = time.perf_counter()
    count = [0]
    bar = ProgressBar("iabp margins", total, shown=said)

    def done(m: Margin) -> None:
        count[0] += 1
        bar.advance()
        if said and not bar.enabled and (count[0] % 50 == 0 or count[0] == total):
            err.print(f"  {count[0]}/{total} margins, {time.perf_counter() - t0:.0f} s",
                      markup=False)

    with bar:
        bar.update(0)  # on the screen from the start, not at the first margin found
        margins = run_margins(tasks, scopes, jobs=args.jobs, timeout_s=args.timeout,
                              on_done=done)
    seconds = time.perf_counter() - t0
    doc = margins_document(margins, seconds, args.jobs, args.timeout)
    if said:
        for scope in scopes:
            out.print(_summary_table(doc, scope))
    if talk >= Verbosity.VERBOSE:
        out.print(_every_margin_table(margins))
    not_proved = [m for m in margins if m.status_at_stated not in ("PROVED", "VACUOUS")]
    if said:
        out.print(f"Slack = how much worse than stated (ms) the constant may be before the "
                  f"proof fails; n/a: the property's premise never holds in that band; bold "
                  f"red: {THIN_SLACK_MS} ms or less. Each margin is PROVED; the next value is "
                  "NOT PROVED (the failing obligation is in the JSON: an induction step the "
                  "solver breaks, so the true margin may be larger, never smaller).",
                  markup=False)
    def wrote(path: Path) -> None:
        if said:
            out.print(f"wrote {path}", markup=False)

    try:
        if args.json is not None:
            args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            wrote(args.json)
        if args.markdown is not None:
            args.markdown.write_text(summary_markdown(doc) + "\n", encoding="utf-8")
            wrote(args.markdown)
        if args.plot is not None:
            heatmap_png(doc, args.plot)
            wrote(args.plot)
    except OSError as exc:
        err.print(f"iabp margins: error: {exc}", markup=False)
        return 2
    if said and len(margins) <= 4:  # a narrow question: show each end point's counterexample
        for m in margins:
            if m.failed_cti:
                out.print(f"\n{m.property_id}, {m.constant} = {m.failed_at} ({m.band}, "
                          f"{m.scope}) is NOT PROVED: {m.failed_query}; its counterexample "
                          "to induction (not shown reachable from power-on):", markup=False)
                out.print(m.failed_cti, markup=False)
    for m in not_proved:
        err.print(f"iabp margins: {m.property_id} is {m.status_at_stated} at the stated values "
                  f"({m.band}, {m.scope}): {m.failed_query}", markup=False)
    out.print(f"{len(margins)} margins in {seconds:.0f} s", markup=False)
    return 1 if not_proved else 0


def _every_margin_table(margins: list[Margin]) -> Table:
    """``-v``: every margin found, one row each."""
    t = Table(title="Every margin (ms); slack: how much worse than stated")
    for col in ("property", "constant", "band", "scope", "stated", "margin", "slack",
                "status at stated", "proofs", "seconds"):
        t.add_column(col, justify="right" if col in ("stated", "margin", "slack", "proofs",
                                                      "seconds") else "left")
    for m in margins:
        margin = "-" if m.margin is None else f"{'>=' if m.at_limit else ''}{m.margin}"
        t.add_row(m.property_id, m.constant, m.band, m.scope, str(m.stated), margin,
                  "-" if m.slack is None else str(m.slack), m.status_at_stated,
                  str(m.proofs), f"{m.seconds:.1f}")
    return t


def _short(band: str) -> str:
    """A band's column title: '60-80' for '60-80 bpm', 'all' for the whole range."""
    return "all" if band == BANDS[0].name else band.removesuffix(" bpm")


def _summary_table(doc: dict[str, Any], scope: str) -> Table:
    bands = [b["name"] for b in doc["bands"] if any(m["band"] == b["name"]
                                                    for m in doc["margins"])]
    t = Table(title=f"Slack (ms) of the thinnest property, {scope}; columns: heart rate (bpm)")
    t.add_column("constant")
    t.add_column("stated", justify="right")
    for b in bands:
        t.add_column(_short(b), justify="right")
    t.add_column("thinnest at all rates")
    for c in doc["constants"]:
        if not any(m["constant"] == c["field"] for m in doc["margins"]):
            continue
        row = [c["field"], str(doc["stated_world"][c["field"]])]
        for b in bands:
            s = summary(doc, scope, c["field"], b)
            row.append(f"[bold red]{s.text()}[/]" if s.thin else s.text())
        row.append(summary(doc, scope, c["field"], bands[0]).limiting or "-")
        t.add_row(*row)
    return t


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
