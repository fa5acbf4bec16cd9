"""``iabp margins``: worlds worse than stated, searched by proofs, and what the margins mean.

The margin of a constant must agree with the design it measures: the validator's shortest
ECG deflation lead is exactly what the gas, detector and rhythm bounds need (slack 0 over
every setting), and the default lead is 10 ms longer (slack 10 for the deflation time at
the default settings). Both end points of a margin are checked with the full prover.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iabp.__main__ import main as iabp_main
from iabp.proofs.engine import ProofContext, prove_property
from iabp.proofs.margins import (
    ALL_RATES,
    BAND_BY_NAME,
    CONSTANT_BY_FIELD,
    DEFAULT_SETTINGS,
    EVERY_SETTING,
    MarginSearch,
    margin_tasks,
    with_default_settings,
    world_for,
)
from iabp.proofs.margins_report import margins_document, summary, summary_markdown
from iabp.proofs.results import Status
from iabp.spec.assumptions import ECG_DEFLATION_LEAD_MIN_MS, STATED_WORLD, World
from iabp.spec.iabp import iabp_spec
from iabp.spec.settings import DEFAULT_SETTINGS as DEFAULTS
from iabp.spec.system import VarRole

GAS = CONSTANT_BY_FIELD["gas_deflate_max_ms"]
NOTCH = CONSTANT_BY_FIELD["notch_delay_max_ms"]
PROP = "P-NO-GAS-IN-EJECTION"


def test_the_stated_world_is_the_spec_every_proof_states() -> None:
    assert iabp_spec(STATED_WORLD).sha256() == iabp_spec().sha256()


@pytest.mark.parametrize("changes", [{"gas_deflate_max_ms": -1},
                                     {"rr_min_ms": 200},
                                     {"rr_min_ms": 1000, "rr_max_ms": 900},
                                     {"r_detect_delay_min_ms": 95}])
def test_an_impossible_world_is_refused(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        STATED_WORLD.with_(**changes)


def test_a_worse_world_changes_the_heart_not_the_controller() -> None:
    real = iabp_spec()
    worse = iabp_spec(STATED_WORLD.with_(r_detect_delay_max_ms=120, gas_deflate_max_ms=60))

    def controller(spec: object) -> list[str]:
        return [f"{a.target}={a.expr}" for a in spec.step  # type: ignore[attr-defined]
                if a.role is VarRole.CONTROLLER]

    assert controller(worse) == controller(real)
    assert [str(e) for e in worse.init] == [str(e) for e in real.init]
    assert {str(e.expr) for e in worse.env} != {str(e.expr) for e in real.env}
    assert worse.state_var("r_delay_ms").hi == 120
    assert {lem.id: str(lem.expr) for lem in worse.lemmas}["L-GAS"] \
        != {lem.id: str(lem.expr) for lem in real.lemmas}["L-GAS"]


def test_a_band_confines_the_heart() -> None:
    band = BAND_BY_NAME["60-80 bpm"]
    spec = iabp_spec(world_for(band))
    rr = spec.state_var("heart_rr_ms")
    assert (rr.lo, rr.hi) == (750, 1000)


def test_deflation_time_margin_is_the_validators_lead_and_the_default_leads_ten_ms() -> None:
    every = MarginSearch(EVERY_SETTING).margin(ALL_RATES, GAS, PROP)
    assert every.status_at_stated == "PROVED"
    assert (every.slack, every.failed_at) == (0, GAS.stated + 1)
    assert "step is sat" in every.failed_query
    # the end point's counterexample to induction: a state and its successor, as a table
    header, _, *rows = every.failed_cti.splitlines()[1:]
    assert header.split()[0] == "tick" and [r.split()[0] for r in rows] == ["0", "1"]
    default = MarginSearch(DEFAULT_SETTINGS).margin(ALL_RATES, GAS, PROP)
    lead_slack = DEFAULTS["ecg_deflation_lead_ms"] - ECG_DEFLATION_LEAD_MIN_MS
    assert default.slack == lead_slack == 10
    assert default.failed_at == GAS.stated + lead_slack + 1


def test_both_end_points_of_a_margin_are_what_the_prover_says() -> None:
    search = MarginSearch(DEFAULT_SETTINGS)
    m = search.margin(ALL_RATES, GAS, PROP)
    assert m.margin is not None and m.failed_at is not None
    for value, expected in ((m.margin, Status.PROVED), (m.failed_at, Status.UNKNOWN)):
        spec = with_default_settings(iabp_spec(world_for(ALL_RATES, {GAS.field: value})))
        r = prove_property(ProofContext(spec, timeout_s=60), spec.property(PROP))
        assert r.status is expected, (value, r.reason)


def test_a_constant_the_property_hardly_needs_is_reported_at_the_search_limit() -> None:
    m = MarginSearch(EVERY_SETTING).margin(ALL_RATES, NOTCH, PROP)
    assert m.at_limit and m.margin == NOTCH.limit and m.failed_at is None
    assert m.proofs == 2  # the stated value, then the limit


def test_a_band_searches_from_the_margin_all_rates_proved() -> None:
    search = MarginSearch(DEFAULT_SETTINGS)
    band = BAND_BY_NAME["80-100 bpm"]
    m = search.margin(band, GAS, PROP, proved_to=GAS.stated + 10)
    assert m.slack == 10 and m.proofs == 2  # the stated proof, then one probe that fails


def test_a_band_where_the_premise_never_holds_is_not_applicable() -> None:
    # ECG trigger does not inflate above about 130 bpm, so inflation timing has no premise
    m = MarginSearch(EVERY_SETTING).margin(BAND_BY_NAME["150-180 bpm"], GAS, "P-INFL-DIASTOLE")
    assert m.status_at_stated == "VACUOUS" and m.slack is None


def test_only_properties_whose_proof_reads_the_constant_are_searched() -> None:
    spec = iabp_spec()
    tasks = margin_tasks(spec, constants=[GAS], bands=[ALL_RATES])
    pids = {pid for _, _, pid in tasks}
    assert PROP in pids and "P-CONTRA-ABSOLUTE" not in pids
    assert all("ASM-GAS" in spec.assumptions_of(spec.property(p)) for p in pids)


def test_the_summary_takes_the_thinnest_property() -> None:
    search = MarginSearch(EVERY_SETTING)
    ms = [search.margin(ALL_RATES, GAS, PROP),
          search.margin(ALL_RATES, GAS, "P-EARLY-BEAT-BOUND")]
    doc = margins_document(ms, 1.0, 1, 20.0)
    cell = summary(doc, EVERY_SETTING, GAS.field, ALL_RATES.name)
    assert (cell.slack, cell.limiting, cell.thin) == (0, PROP, True)
    assert "| `gas_deflate_max_ms` (40) | every setting | **0 (P-NO-GAS-IN-EJECTION)**" \
        in summary_markdown(doc)


def test_cli_writes_json_plot_and_markdown(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.json"
    rc = iabp_main(["margins", "--constant", "gas_deflate_max_ms", "--property", PROP,
                    "--band", ALL_RATES.name, "--scope", "default", "--jobs", "1",
                    "--json", str(out), "--plot", str(tmp_path / "m.png"),
                    "--markdown", str(tmp_path / "m.md"), "-v"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert [(m["scope"], m["slack"]) for m in doc["margins"]] == [(DEFAULT_SETTINGS, 10)]
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert "gas_deflate_max_ms" in (tmp_path / "m.md").read_text()
    shown = capsys.readouterr().out
    assert "default settings" in shown
    assert f"{GAS.field} = {GAS.stated + 11}" in shown and "counterexample to induction" in shown
    every = shown.split("Every margin (ms)", 1)[1]  # -v: the table of every margin
    assert PROP in every and "gas_deflate_max_ms" in every


@pytest.mark.parametrize("argv", [["--property", "P-NOPE"], ["--jobs", "0"],
                                  ["--constant", "heart_size"],
                                  ["--property", "P-CONTRA-ABSOLUTE"]])
def test_cli_bad_usage_is_exit_2(argv: list[str]) -> None:
    assert iabp_main(["margins", *argv]) == 2


def test_world_is_hashable_for_the_spec_cache() -> None:
    assert hash(World()) == hash(STATED_WORLD)


def test_report_section_shows_the_run_or_how_to_make_one(tmp_path: Path) -> None:
    from iabp.proofs.report.cli import load_margins
    from iabp.proofs.report.margins_section import margins_section
    from iabp.proofs.report.model import Fold, Image, Table
    from iabp.spec.errors import UsageError

    assert "iabp margins --json" in str(margins_section(None).blocks)
    search = MarginSearch(EVERY_SETTING)
    doc = margins_document([search.margin(ALL_RATES, GAS, PROP)], 1.0, 1, 20.0)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    section = margins_section(load_margins(path))
    kinds = [type(b) for b in section.blocks]
    assert Table in kinds and Image in kinds and kinds[-1] is Fold
    (tmp_path / "bad.json").write_text('{"margins": []}')
    for bad in (tmp_path / "bad.json", tmp_path / "missing.json"):
        with pytest.raises(UsageError):
            load_margins(bad)
