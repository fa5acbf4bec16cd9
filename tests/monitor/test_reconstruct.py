"""Independent reconstruction (REQ-MON-INDEPENDENT): own beats, balloon state, spec step.

Also the shared stream helpers of the monitor tests: telemetry of the simulated console
(closed loop: patient, detectors, verified controller) taken off a ``loop://`` port.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor.parser import IntegrityEvent, StreamParser
from iabp.monitor.protocol import (
    NOT_AVAILABLE,
    ConsolePhase,
    Frame,
    SettingsFrame,
    TelemetryFrame,
    encode_frame,
    settings_digest,
)
from iabp.monitor.reconstruct.reconstruction import (
    STEP_LINES,
    BalloonState,
    PatientProfile,
    ProfileError,
    Reconstruction,
    Severity,
    compile_step_in_place,
)
from iabp.monitor.rules.ruleset import RULES
from iabp.sim.closed_loop import LoopConfig, LoopHooks
from iabp.sim.console import SimulatedConsole
from iabp.spec.engines.to_python import compile_step
from iabp.spec.modes import Alarm, Mode
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS

# -- shared stream helpers ------------------------------------------------------------------


@cache
def console_bytes(seconds: float, fault: str | None = None, fault_at_ms: int = 3000,
                  ratio: int = 1, hr: float = 80.0, mode: str = "ecg",
                  hooks: LoopHooks | None = None) -> bytes:
    """Protocol-v1 bytes of ``seconds`` of the simulated console (fault from ``fault_at_ms``;
    ``hooks``: a console of the test's own making instead, e.g. one with other timing)."""
    cfg = LoopConfig(hr_bpm=hr, ratio=ratio, mode=mode, duration_ms=int(seconds * 1000) + 100)
    console = SimulatedConsole("loop://", cfg, fault=fault, fault_at_ms=fault_at_ms)
    if hooks is not None:
        console.loop.hooks = hooks
    out = bytearray()
    try:
        for _ in range(int(seconds * 100)):
            console.run_ticks(10)
            out += console.port.read(console.port.in_waiting)
    finally:
        console.close()
    return bytes(out)


@cache
def console_frames(seconds: float, fault: str | None = None, fault_at_ms: int = 3000,
                   ratio: int = 1, hr: float = 80.0) -> tuple[Frame, ...]:
    """The same stream decoded (every record delivered; none is corrupt)."""
    events = parse_all(console_bytes(seconds, fault, fault_at_ms, ratio, hr))
    assert not [e for e in events if isinstance(e, IntegrityEvent)]
    return tuple(e for e in events if not isinstance(e, IntegrityEvent))


def pressure_frames_without_ecg(ecg_from_ms: int | None = None) -> list[Frame]:
    """8 s of the simulated console pumping 1:1 in PRESSURE_TRIGGER from 1 s (the verified
    controller on its own upstroke detector), the ECG `NA` before console time
    ``ecg_from_ms`` (None: all along): a console with no ECG lead attached."""
    frames = [e for e in parse_all(console_bytes(8.0, mode="pressure"))
              if not isinstance(e, IntegrityEvent)]
    stop = 1 << 32 if ecg_from_ms is None else ecg_from_ms
    return reframe(frames, lambda f, i: dataclasses.replace(f, ecg_uv=NOT_AVAILABLE)
                   if f.time_ms < stop else f)


def chunks(data: bytes, size: int = 4096) -> Iterable[bytes]:
    """``data`` in reads of ``size`` bytes, as a port delivers it."""
    return (data[i:i + size] for i in range(0, len(data), size))


def parse_all(data: bytes) -> list[Any]:
    parser = StreamParser()
    return [e for c in chunks(data) for e in parser.feed(c)]


def telemetry(frames: Iterable[Frame]) -> list[TelemetryFrame]:
    return [f for f in frames if isinstance(f, TelemetryFrame)]


def settings_frame(seq: int = 0, t: int = 0, **changes: int) -> SettingsFrame:
    values = {**DEFAULT_SETTINGS, **changes}
    return SettingsFrame(seq, t, *(values[s.name] for s in SETTINGS))


def tick(seq: int, t: int, mode: Mode = Mode.STANDBY, *, inflate: bool = False,
         ecg_uv: int = 0, gas_x10: int = 120, mask: int = 0, sframe: SettingsFrame | None = None,
         ratio: int | None = None) -> TelemetryFrame:
    """One hand-made TELEMETRY tick consistent with the SETTINGS record ``sframe``."""
    s = sframe or settings_frame()
    lead = (s.ecg_deflation_lead_ms if mode is Mode.ECG_TRIGGER else
            s.pressure_deflation_lead_ms if mode is Mode.PRESSURE_TRIGGER else 0)
    return TelemetryFrame(seq, t, mode, ratio or s.assist_ratio, ecg_uv, 900, gas_x10, inflate,
                          False, False, ConsolePhase.UNKNOWN, mask, s.inflation_offset_ms, lead,
                          settings_digest(s))


def standby_frames(n: int, *, sframe: SettingsFrame | None = None, t0: int = 0,
                   **kw: Any) -> list[Frame]:
    """A SETTINGS record, then ``n`` STANDBY ticks (flat ECG, balloon at rest)."""
    s = sframe or settings_frame(0, t0)
    return [s, *(tick(i + 1, t0 + i, sframe=s, **kw) for i in range(n))]


def run_reconstruction(frames: Sequence[Frame], profile: PatientProfile | None = None
                       ) -> tuple[Reconstruction, list[dict[str, Any]]]:
    rec = Reconstruction(profile)
    rows = []
    for f in frames:
        if isinstance(f, SettingsFrame):
            rec.on_settings(f)
        elif isinstance(f, TelemetryFrame):
            rows.append(dict(rec.on_telemetry(f)))
    return rec, rows


def reframe(frames: Sequence[Frame], fn: Any) -> list[Frame]:
    """``frames`` with ``fn(frame, index)`` applied to each TELEMETRY record."""
    out: list[Frame] = []
    for i, f in enumerate(frames):
        out.append(fn(f, i) if isinstance(f, TelemetryFrame) else f)
    return out


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.property("REQ-MON-INDEPENDENT")
def test_own_beats_follow_the_console_heart_not_its_flags() -> None:
    frames = console_frames(8.0)
    rec, rows = run_reconstruction(frames)
    assert rec.rate_bpm is not None and 70 < rec.rate_bpm < 90
    own = sum(r["r_wave"] for r in rows)
    console = sum(f.r_detected for f in telemetry(frames))
    assert abs(own - console) <= 1
    # the console's own flags are never read: blanking them changes nothing
    blind = reframe(frames, lambda f, i: dataclasses.replace(
        f, r_detected=False, notch_detected=False, console_phase=ConsolePhase.UNKNOWN))
    _, rows2 = run_reconstruction(blind)
    assert [r["heart_t_ms'"] for r in rows2] == [r["heart_t_ms'"] for r in rows]


def test_heart_time_counts_from_the_estimated_qrs_onset_not_the_decision() -> None:
    from iabp.spec.assumptions import Q_TO_R_MAX_MS, Q_TO_R_MIN_MS

    rec, rows = run_reconstruction(console_frames(8.0))
    at_beat = [r["heart_t_ms'"] for r in rows if r["mon_beat"]]
    # at the own decision, heart time = decision delay after the peak (5-40 ms) plus the
    # beat's measured Q-to-R time (within the spec's range): the onset, not the decision
    assert at_beat and all(5 + Q_TO_R_MIN_MS <= t <= 40 + Q_TO_R_MAX_MS for t in at_beat)
    # the synthetic sinus beats all have the same QRS: one onset estimate, within a few ms
    assert max(at_beat[1:]) - min(at_beat[1:]) <= 10


@pytest.mark.property("REQ-MON-INDEPENDENT")
def test_own_upstrokes_keep_the_pressure_trigger_fresh_without_an_ecg() -> None:
    """Pressure trigger with the ECG lead off: the monitor's own upstrokes alone show each
    beat is fresh, however long after the monitor's start the console entered the mode
    (here at 1 s; the upstroke detector restarts at the entry, its indices must be moved
    onto the monitor's)."""
    from iabp.monitor.reconstruct.layout import UP_SEEN_KEY

    _, rows = run_reconstruction(pressure_frames_without_ecg())
    pumping = [r for r in rows if r["mode'"] is Mode.PRESSURE_TRIGGER]
    assert len(pumping) > 6000 and rows[0]["mode'"] is Mode.STANDBY
    assert all(r["mode'"] is Mode.PRESSURE_TRIGGER for r in rows[-len(pumping):])
    ups = [i for i, r in enumerate(rows) if r["upstroke"]]
    # one upstroke per beat (80 bpm) once the detector has learned: the augmentation of
    # each 1:1 inflation looks like an upstroke too, and is blanked while the monitor's
    # own measured balloon holds gas
    assert len(ups) >= 5 and all(650 <= b - a <= 850 for a, b in zip(ups, ups[1:], strict=False))
    assert not any(r["r_wave"] for r in rows)  # no ECG: only the upstrokes count
    late = rows[ups[1]:]  # from the second upstroke: one R-R measured
    assert all(r[UP_SEEN_KEY] for r in late), sum(not r[UP_SEEN_KEY] for r in late)


def test_ejection_window_is_the_judged_band_for_the_measured_rr() -> None:
    """The window the monitor theorem is proved for (OBS-BAND): the longest PEP and the
    latest valve closure of the rate bands for the measured R-R."""
    from iabp.spec.engines.to_python import compile_expr
    from iabp.spec.expr import INT, Var
    from iabp.spec.timing import pep_hi_ms, qs2_hi_ms

    _, rows = run_reconstruction(console_frames(8.0))
    last = rows[-1]
    rr = last["heart_rr_ms'"]
    assert 650 < rr < 850
    assert last["heart_pep_ms'"] == compile_expr(pep_hi_ms(Var("x", INT)))({"x": rr})
    assert last["heart_qs2_ms'"] == compile_expr(qs2_hi_ms(Var("x", INT)))({"x": rr})


def test_measured_balloon_state_follows_the_gas_line() -> None:
    rec = Reconstruction()
    frames = standby_frames(200)
    seen = []
    for f in frames:
        if isinstance(f, SettingsFrame):
            rec.on_settings(f)
            continue
        assert isinstance(f, TelemetryFrame)
        i = f.seq
        gas = 1000 if 50 <= i < 120 else (-300 if 120 <= i < 140 else 120)
        rec.on_telemetry(dataclasses.replace(f, balloon_pressure_mmhg_x10=gas))
        seen.append(rec.balloon_state)
    assert seen[10] is BalloonState.EMPTY
    assert seen[60] is BalloonState.INFLATED
    assert seen[130] is BalloonState.DEFLATING  # undershoot: the gas rushes back
    assert seen[150] is BalloonState.DEFLATING  # within the spec's deflation bound
    assert seen[199] is BalloonState.EMPTY
    rec.on_telemetry(tick(999, 999, gas_x10=NOT_AVAILABLE))
    assert rec.balloon_state is BalloonState.UNKNOWN
    assert rec.valuation["mon_gas_inflated'"]  # blind: counted as holding gas


def test_gas_baseline_is_learned_at_rest() -> None:
    rec, _ = run_reconstruction(standby_frames(300, gas_x10=150))
    assert abs(rec.gas_baseline_mmhg - 15.0) < 0.5
    assert rec.balloon_state is BalloonState.EMPTY


def test_settings_in_force_are_confirmed_by_the_telemetry_crc() -> None:
    s = settings_frame(0, 0, trigger_loss_timeout_ms=3000)
    rec, rows = run_reconstruction(standby_frames(20, sframe=s))
    assert rec.settings_known and rows[-1]["set_trigger_loss_timeout_ms'"] == 3000
    other = settings_frame(0, 0, trigger_loss_timeout_ms=4000)
    stale: list[Frame] = [s, *(tick(i + 1, i, sframe=other) for i in range(30))]
    rec2, rows2 = run_reconstruction(stale)
    assert not rec2.settings_known and rows2[-1]["mon_settings_unknown_ms'"] == 30


def test_alarm_mask_and_profile_inputs() -> None:
    profile = PatientProfile(contraindications=(), relative_override=True)
    frames = standby_frames(3, mask=1 << Alarm.GAS_LOSS | 1 << Alarm.IDLE_TOO_LONG)
    _, rows = run_reconstruction(frames, profile)
    assert rows[-1]["alm_gas_loss'"] and rows[-1]["alm_idle'"]
    assert not rows[-1]["alm_trigger_loss'"]
    assert rows[-1]["contra_override"] and not rows[-1]["contra_absolute"]


def test_previous_frame_is_kept_for_transitions() -> None:
    frames = standby_frames(5)
    frames.append(tick(6, 5, Mode.ECG_TRIGGER, sframe=frames[0]))  # type: ignore[arg-type]
    _, rows = run_reconstruction(frames)
    assert rows[-1]["mode"] is Mode.STANDBY and rows[-1]["mode'"] is Mode.ECG_TRIGGER
    assert rows[-1]["mon_changed"] and not rows[-2]["mon_changed"]


def test_lost_ticks_are_bridged_so_the_beat_clock_keeps_console_time() -> None:
    frames = standby_frames(10)
    gap = [*frames[:5], *frames[8:]]
    rec, rows = run_reconstruction(gap)
    assert rec.now_ms == 9 and rows[-1]["mon_t_ms"] == 9


def test_valuation_has_every_key_the_rules_read() -> None:
    rec = Reconstruction()
    keys = set(rec.valuation)
    for cls in RULES:
        missing = cls().reads - keys
        assert not missing, f"{cls.rule_id} reads {missing}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Mode)), st.booleans(), st.booleans(),
                          st.booleans(), st.booleans()), min_size=1, max_size=80),
       st.integers(0, 61), st.integers(0, 5001), st.integers(0, 3))
def test_in_place_step_is_the_compiled_spec_step(
        ticks: list[tuple[Mode, bool, bool, bool, bool]], gt: int, nt: int, beats: int) -> None:
    """The in-place rewrite computes exactly what controller.compile's step computes."""
    plain, in_place = compile_step(STEP_LINES), compile_step_in_place(STEP_LINES)
    v: dict[str, Any] = {k: 0 for k in plain.reads}
    v.update({"mode": Mode.STANDBY, "mode'": Mode.STANDBY, "inflate_cmd": False,
              "gas_filled": False, "mon_gas_filled": False, "mon_gas_inflated": False,
              "gas_timer_ms": gt, "obs_no_trigger_ms": nt, "obs_beats_since_inflation": beats})
    for k in plain.targets:
        v[k + "'"] = v[k]
    for mode, inflate, gas, r, up in ticks:
        v.update({"mode": v["mode'"], "mode'": mode,
                  "inflate_cmd": v.get("inflate_cmd'", False), "inflate_cmd'": inflate,
                  "mon_gas_inflated": v.get("mon_gas_inflated'", False),
                  "mon_gas_inflated'": gas, "r_wave": r, "upstroke": up, "activity": r or up})
        expected_in = {k: v[k + "'"] for k in plain.targets}
        expected, _ = plain({**v, **expected_in})
        in_place(v)
        assert {k: v[k] for k in plain.targets} == expected_in
        assert {k: v[k + "'"] for k in plain.targets} == expected


# -- patient profile ------------------------------------------------------------------------


def test_profile_round_trip_and_severities(tmp_path: Path) -> None:
    data = {"patient_id": "bed 4", "trigger_source": "ecg", "relative_override": False,
            "contraindications": ["sepsis", {"name": "Aortic Dissection"},
                                  {"name": "porcelain aorta", "severity": "absolute"}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    p = PatientProfile.load(path)
    assert p.absolute and p.relative
    assert [c.severity for c in p.contraindications] == [
        Severity.RELATIVE, Severity.ABSOLUTE, Severity.ABSOLUTE]
    assert PatientProfile.from_mapping(p.to_json()) == p


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not valid JSON"),
    ('{"contraindications": ["mystery"]}', "unknown contraindication"),
    ('{"contraindications": [{"name": "x", "severity": "maybe"}]}', "severity"),
    ('{"trigger_source": "telepathy"}', "trigger_source"),
    ('{"balloon_volume_ml": 45}', "balloon_volume_ml"),
    ('{"surprise": 1}', "unknown profile field"),
    ("[]", "JSON object"),
])
def test_bad_profiles_are_refused_with_a_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(ProfileError, match=reason):
        PatientProfile.load(path)
    with pytest.raises(ProfileError, match="cannot read"):
        PatientProfile.load(tmp_path / "absent.json")


def test_encoded_helpers_round_trip() -> None:
    f = tick(7, 7, Mode.ECG_TRIGGER, inflate=True)
    assert StreamParser().feed(encode_frame(f)) == [f]
