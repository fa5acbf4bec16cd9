"""Generate the README's spec-derived tables, so the README cannot drift from the spec.

    python -m iabp.proofs.readme          # rewrite the marked sections of README.md

Each section sits between ``<!-- BEGIN:name -->`` and ``<!-- END:name -->``; a test
fails when the README differs from what this module generates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from iabp.spec.assumptions import ASSUMPTIONS, R_DETECT_JITTER_MS
from iabp.spec.controller_step import ecg_deflate_at_ms, ecg_inflate_at_ms, ecg_inflate_until_ms
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import INT, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.observers import STEADY_CAP
from iabp.spec.properties import (
    ASSIST_RUN_MIN_BEATS,
    assist_floor_lo,
    assist_window_open,
    early_beat_helium_bound_ms,
)
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS, requested_settings, validator_clauses_for
from iabp.spec.timing import band_table, weissler_qs2_ms


def properties_table() -> str:
    spec = iabp_spec()
    rows = ["| property | requirement | hazard | what is proved | assumptions used |",
            "|---|---|---|---|---|"]
    for p in spec.properties:
        asm = ", ".join(a.replace("ASM-", "") for a in spec.assumptions_of(p)) or "none"
        rows.append(f"| `{p.id}` | {', '.join(p.requirements)} | {', '.join(p.hazards)} | "
                    f"{p.plain} | {asm} |")
    return "\n".join(rows)


def assumptions_table() -> str:
    rows = ["| assumption | what the proofs assume | source |", "|---|---|---|"]
    rows += [f"| `{a.id}` | {a.text} | {a.source} |" for a in ASSUMPTIONS]
    return "\n".join(rows)


def bands_table() -> str:
    rows = ["| R-R from (ms) | to (ms) | PEP low | PEP high | QS2 low | QS2 high |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {r['rr_from_ms']} | {r['rr_to_ms']} | {r['pep_lo_ms']} | {r['pep_hi_ms']} | "
             f"{r['qs2_lo_ms']} | {r['qs2_hi_ms']} |" for r in band_table()]
    return "\n".join(rows)


def settings_table() -> str:
    rows = ["| setting | unit | range | default | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.unit} | {s.lo} .. {s.hi} | {s.default} | {s.meaning} |"
             for s in SETTINGS]
    clauses = [f"- `{c.id}`: {c.reason}" for c in validator_clauses_for(requested_settings())
               if not c.id.startswith("RANGE")]
    return "\n".join([*rows, "", "Safety clauses of the validator, beyond the ranges (each "
                      "rejection names its reason):", "", *clauses])


def envelope_table() -> str:
    rr, off, lead = Var("rr", INT), Var("off", INT), Var("lead", INT)
    start = compile_expr(ecg_inflate_at_ms(rr, off))
    until = compile_expr(ecg_inflate_until_ms(rr))
    defl = compile_expr(ecg_deflate_at_ms(rr, lead))
    rows = ["| HR (bpm) | R-R (ms) | inflation may start from | must start before | "
            "deflation at | Weissler QS2 after QRS onset | inflation possible |",
            "|---|---|---|---|---|---|---|"]
    for hr in (40, 60, 80, 90, 100, 110, 115, 120, 130, 150, 180):
        r = round(60000 / hr)
        v = {"rr": r, "off": DEFAULT_SETTINGS["inflation_offset_ms"],
             "lead": DEFAULT_SETTINGS["ecg_deflation_lead_ms"]}
        a, u, d = start(v), until(v), defl(v)
        end = min(u, d)
        rows.append(f"| {hr} | {r} | {a} | {end} | {d} | {weissler_qs2_ms(r):.0f} | "
                    f"{'yes' if a < end else 'no'} |")
    return "\n".join(rows)


def early_beat_table() -> str:
    rows = ["| R-R ending at the beat (ms) | HR (bpm) | helium in ejection at most (ms) |",
            "|---|---|---|"]
    rows += [f"| {lo}-{hi} | {round(60000 / hi)}-{round(60000 / lo)} | {ms} |"
             for lo, hi, ms in early_beat_helium_bound_ms()]
    return "\n".join(rows)


def _assist_after_beats(window: Callable[[dict[str, int]], bool], rr_lo: int, rr_hi: int
                        ) -> int | None:
    """The steady beats P-ASSIST-EVERY-BEAT needs at these rates (None: never)."""
    values = {f"set_{k}": v for k, v in DEFAULT_SETTINGS.items()}
    for n in range(ASSIST_RUN_MIN_BEATS, STEADY_CAP + 1):
        if window({**values, "lo": rr_lo, "hi": rr_hi, "u": n - 2}):
            return n
    return None


def least_inflation_ms(lo: int, hi: int) -> int:
    """Inflation time every assisted beat gets in a long steady run with R-R in
    [lo, hi] ms: from the latest start the inflation rule allows (the end of ejection
    predicted for the longest interval the detector can measure) to the earlier of the
    deflation point P-INFLATION-HELD proves and the earliest next R report."""
    values = {f"set_{k}": v for k, v in DEFAULT_SETTINGS.items()}
    lo_v, hi_v, u = Var("lo", INT), Var("hi", INT), Var("u", INT)
    start = compile_expr(ecg_inflate_at_ms(hi_v + R_DETECT_JITTER_MS,
                                           Var("set_inflation_offset_ms", INT)))
    deflate = compile_expr(ecg_deflate_at_ms(assist_floor_lo(lo_v, u),
                                             Var("set_ecg_deflation_lead_ms", INT)))
    env = {**values, "lo": lo, "hi": hi, "u": STEADY_CAP}
    end = min(int(deflate(env)), lo - R_DETECT_JITTER_MS)
    return end - int(start(env))


def efficacy_table() -> str:
    window = compile_expr(assist_window_open(Var("lo", INT), Var("hi", INT), Var("u", INT)))
    rows = ["| HR (bpm) | R-R (ms) | every beat assisted after (steady R-R) | "
            "(R-R varying by 40 ms) | each inflation lasts at least (steady R-R) |",
            "|---|---|---|---|---|"]
    for hr in (40, 50, 60, 70, 80, 90, 100, 105, 110, 115):
        r = round(60000 / hr)
        cells = []
        for lo, hi in ((r, r), (r - 20, r + 20)):
            k = _assist_after_beats(window, lo, hi)
            cells.append("not proved" if k is None else f"{k} beats")
        held = (f"{least_inflation_ms(r, r)} ms" if cells[0] != "not proved" else "-")
        rows.append(f"| {hr} | {r} | {cells[0]} | {cells[1]} | {held} |")
    return "\n".join(rows)


SECTIONS: dict[str, Callable[[], str]] = {
    "properties": properties_table,
    "assumptions": assumptions_table,
    "bands": bands_table,
    "settings": settings_table,
    "envelope": envelope_table,
    "early_beat": early_beat_table,
    "efficacy": efficacy_table,
}


def render(text: str) -> str:
    """``text`` with every marked section replaced by its generated content."""
    for name, fn in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN:{name} -->\n).*?(\n<!-- END:{name} -->)", re.S)
        match = pattern.search(text)
        if match is None:
            raise ValueError(f"README has no section {name}")
        text = text[:match.start()] + match.group(1) + fn() + match.group(2) + text[match.end():]
    return text


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("README.md")
    path.write_text(render(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
