"""Benchmark the pump's trigger detectors against published peers on PhysioNet data.

Run from the repository root::

    python benchmarks/bench_detectors.py [--out benchmarks/results/detectors.md]

R-wave detection: every annotated MIT-BIH record in ``<data>/mitdb`` (channel 0, the
reference beat annotations of the ``.atr`` files), the standard 150 ms matching window
between a detected R-peak location and a reference beat. For ours the decision delay
(reference R peak -> the sample on which the pump would trigger) is reported too.
Peers (py-ecg-detectors, neurokit2, wfdb XQRS) are benchmark-only: a missing one is
skipped with a note. Peers run offline on the whole record; ours runs causally.

Dicrotic notch: ``<data>/abp/mixedsignals`` (and 03700181 when present) have no notch
annotations, so the report gives detections per beat, plausibility (the notch lies
after the systolic peak and before the next upstroke) and timing from the upstroke.

Writes a Markdown table to ``--out`` and the same numbers as JSON next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from controller.triggers import (  # noqa: E402
    RWaveDetector,
    detect_pressure_events,
    detect_r_waves_with_peaks,
)
from spec.errors import RecordError  # noqa: E402

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
MATCH_WINDOW_MS = 150.0
DEFAULT_RECORDS = ("100", "101", "105", "107", "119", "208")
Detector = Callable[[np.ndarray, float], np.ndarray]


@dataclass
class Score:
    """Beat-by-beat agreement of one detector with the reference on one or more records."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    seconds: float = 0.0
    delays_ms: list[float] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.seconds += other.seconds
        self.delays_ms.extend(other.delays_ms)

    @property
    def se(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def ppv(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def f1(self) -> float:
        return 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tp": self.tp, "fn": self.fn, "fp": self.fp,
            "se_pct": round(100 * self.se, 3), "ppv_pct": round(100 * self.ppv, 3),
            "f1_pct": round(100 * self.f1, 3), "seconds": round(self.seconds, 2),
        }
        if self.delays_ms:
            d = np.asarray(self.delays_ms)
            pct = {f"p{q}": round(float(np.percentile(d, q)), 1) for q in (1, 5, 95, 99)}
            out["delay_ms"] = {
                "median": round(float(np.median(d)), 1), **pct,
                "min": round(float(d.min()), 1), "max": round(float(d.max()), 1),
                "frac_under_0ms": round(float(np.mean(d < 0.0)), 4),
                "frac_under_20ms": round(float(np.mean(d < 20.0)), 4),
                "frac_over_50ms": round(float(np.mean(d > 50.0)), 4),
                "frac_over_60ms": round(float(np.mean(d > 60.0)), 4),
            }
        return out


def match_beats(ref: np.ndarray, det: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """One-to-one pairs (ref index, det index) within the matching window, nearest first."""
    tol = MATCH_WINDOW_MS * fs / 1000.0
    order = np.argsort(det, kind="stable")
    det_sorted = det[order]
    used = np.zeros(len(det), dtype=bool)
    candidates: list[tuple[float, int, int]] = []
    for k, r in enumerate(ref):
        lo = int(np.searchsorted(det_sorted, r - tol, side="left"))
        hi = int(np.searchsorted(det_sorted, r + tol, side="right"))
        candidates.extend((abs(float(det_sorted[m]) - float(r)), k, m) for m in range(lo, hi))
    candidates.sort()
    ref_used = np.zeros(len(ref), dtype=bool)
    pairs: list[tuple[int, int]] = []
    for _, k, m in candidates:
        if not ref_used[k] and not used[m]:
            ref_used[k] = used[m] = True
            pairs.append((k, int(order[m])))
    return pairs


def score(ref: np.ndarray, peaks: np.ndarray, fs: float, decisions: np.ndarray | None) -> Score:
    """Score detected peak locations against reference beats; delays from ``decisions``."""
    pairs = match_beats(ref, peaks, fs)
    s = Score(tp=len(pairs), fn=len(ref) - len(pairs), fp=len(peaks) - len(pairs))
    if decisions is not None:
        s.delays_ms = [float(decisions[j] - ref[i]) * 1000.0 / fs for i, j in pairs]
    return s


def load_mitdb(data_dir: Path, record: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Channel-0 ECG (mV), reference beat samples and symbols, sampling rate (Hz)."""
    import wfdb

    path = data_dir / "mitdb" / record
    try:
        rec = wfdb.rdrecord(str(path), channels=[0])
        ann = wfdb.rdann(str(path), "atr")
    except (OSError, ValueError) as exc:
        raise RecordError(f"cannot read MIT-BIH record {path}: {exc}") from exc
    keep = [i for i, s in enumerate(ann.symbol) if s in BEAT_SYMBOLS]
    ref = np.asarray(ann.sample, dtype=np.int64)[keep]
    symbols = np.asarray(ann.symbol)[keep]
    return np.asarray(rec.p_signal[:, 0], dtype=float), ref, symbols, float(rec.fs)


def peer_detectors(notes: list[str]) -> dict[str, Detector]:
    """The peers that import on this machine; the others are named in ``notes``."""
    peers: dict[str, Detector] = {}
    try:
        from ecgdetectors import Detectors

        def make(name: str) -> Detector:
            def run(x: np.ndarray, fs: float) -> np.ndarray:
                return np.asarray(getattr(Detectors(fs), name)(x), dtype=np.int64)
            return run

        peers["py-ecg-detectors Pan-Tompkins"] = make("pan_tompkins_detector")
        peers["py-ecg-detectors Hamilton"] = make("hamilton_detector")
        peers["py-ecg-detectors Engzee"] = make("engzee_detector")
        peers["py-ecg-detectors two-average"] = make("two_average_detector")
    except ImportError:
        notes.append("py-ecg-detectors not installed: its four detectors were skipped.")
    try:
        import neurokit2 as nk

        def run_nk(x: np.ndarray, fs: float) -> np.ndarray:
            _, info = nk.ecg_peaks(x, sampling_rate=int(round(fs)))
            return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

        peers["neurokit2 ecg_peaks"] = run_nk
    except ImportError:
        notes.append("neurokit2 not installed: nk.ecg_peaks was skipped.")
    try:
        from wfdb import processing

        def run_xqrs(x: np.ndarray, fs: float) -> np.ndarray:
            return np.asarray(processing.xqrs_detect(x, fs=fs, verbose=False), dtype=np.int64)

        peers["wfdb XQRS"] = run_xqrs
    except ImportError:
        notes.append("wfdb.processing not available: XQRS was skipped.")
    return peers


def run_peer(name: str, fn: Detector, x: np.ndarray, fs: float, notes: list[str]) -> np.ndarray | None:
    """Run one peer quietly; a crash becomes a note, never a failed benchmark."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return np.sort(fn(x, fs))
    except Exception as exc:  # noqa: BLE001 - a peer's failure must not stop the run
        notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
        return None


def bench_r_waves(data_dir: Path, records: list[str], with_peers: bool) -> dict[str, Any]:
    notes: list[str] = []
    peers = peer_detectors(notes) if with_peers else {}
    names = ["ours (causal)", *peers]
    per_record: dict[str, dict[str, Any]] = {}
    totals = {name: Score() for name in names}
    delay_by_type: dict[str, list[float]] = {}
    bound_ms = 0.0
    for rec in records:
        x, ref, symbols, fs = load_mitdb(data_dir, rec)
        bound_ms = RWaveDetector(fs).decision_delay_bound_ms
        t0 = time.perf_counter()
        decisions, peaks = detect_r_waves_with_peaks(x, fs)
        s = score(ref, peaks, fs, decisions)
        s.seconds = time.perf_counter() - t0
        for i, j in match_beats(ref, peaks, fs):
            delay_by_type.setdefault(str(symbols[i]), []).append(float(decisions[j] - ref[i]) * 1000.0 / fs)
        per_record[rec] = {"beats": int(len(ref)), "ours (causal)": s.summary()}
        totals["ours (causal)"].add(s)
        for name, fn in peers.items():
            t0 = time.perf_counter()
            det = run_peer(name, fn, x, fs, notes)
            if det is None:
                continue
            ps = score(ref, det, fs, None)
            ps.seconds = time.perf_counter() - t0
            per_record[rec][name] = ps.summary()
            totals[name].add(ps)
        print(f"record {rec}: ours F1 {100 * s.f1:.2f} %", file=sys.stderr, flush=True)
    by_type = {
        k: {"n": len(v), "median": round(float(np.median(v)), 1),
            "p95": round(float(np.percentile(v, 95)), 1), "max": round(float(np.max(v)), 1)}
        for k, v in sorted(delay_by_type.items())
    }
    return {
        "records": records, "match_window_ms": MATCH_WINDOW_MS,
        "decision_delay_bound_ms_at_360Hz": round(bound_ms, 1),
        "overall": {k: v.summary() for k, v in totals.items() if v.tp + v.fn > 0},
        "per_record": per_record, "ours_delay_by_beat_type": by_type, "notes": notes,
    }


def load_abp(data_dir: Path, record: str) -> tuple[np.ndarray, float, np.ndarray | None, float]:
    """ABP (mmHg) and its rate; the first ECG lead and its rate when present."""
    import wfdb

    path = data_dir / "abp" / record
    try:
        rec = wfdb.rdrecord(str(path), smooth_frames=False)
    except (OSError, ValueError) as exc:
        raise RecordError(f"cannot read ABP record {path}: {exc}") from exc
    names = list(rec.sig_name)
    if "ABP" not in names:
        raise RecordError(f"record {path} has no ABP signal")
    ia = names.index("ABP")
    fs_abp = float(rec.fs) * rec.samps_per_frame[ia]
    ecg = None
    fs_ecg = 0.0
    for i, unit in enumerate(rec.units):
        if unit == "mV":
            ecg = np.asarray(rec.e_p_signal[i], dtype=float)
            fs_ecg = float(rec.fs) * rec.samps_per_frame[i]
            break
    return np.asarray(rec.e_p_signal[ia], dtype=float), fs_abp, ecg, fs_ecg


def notch_plausibility(abp: np.ndarray, fs: float, ups: np.ndarray, notches: np.ndarray) -> dict[str, Any]:
    """Per beat (upstroke to next upstroke): notches found, and whether they are plausible."""
    one = zero = many = plausible = 0
    after_up_ms: list[float] = []
    depth_mmhg: list[float] = []
    for a, b in zip(ups[:-1], ups[1:], strict=True):
        inside = notches[(notches > a) & (notches < b)]
        if len(inside) == 0:
            zero += 1
            continue
        if len(inside) > 1:
            many += 1
            continue
        one += 1
        k = int(inside[0])
        seg = abp[a:b]
        if not np.all(np.isfinite(seg)):
            continue
        peak = a + int(np.argmax(seg))
        if peak < k < b:
            plausible += 1
        after_up_ms.append((k - a) * 1000.0 / fs)
        rebound = abp[k: min(b, k + int(0.25 * fs))]
        depth_mmhg.append(float(np.max(rebound) - abp[k]))
    beats = max(1, len(ups) - 1)
    out: dict[str, Any] = {
        "beats": len(ups) - 1, "one_notch": one, "no_notch": zero, "several": many,
        "one_notch_pct": round(100 * one / beats, 2),
        "plausible_pct": round(100 * plausible / beats, 2),
    }
    if after_up_ms:
        t = np.asarray(after_up_ms)
        out["upstroke_to_notch_ms"] = {q: round(float(np.percentile(t, p)), 1)
                                       for q, p in (("p5", 5), ("median", 50), ("p95", 95))}
        out["rebound_after_notch_mmhg_median"] = round(float(np.median(depth_mmhg)), 1)
    return out


def bench_notches(data_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for record in ("mixedsignals", "03700181"):
        if not (data_dir / "abp" / f"{record}.hea").exists():
            continue
        abp, fs, ecg, fs_ecg = load_abp(data_dir, record)
        t0 = time.perf_counter()
        ups, notches = detect_pressure_events(abp, fs)
        res = notch_plausibility(abp, fs, ups, notches)
        res["fs_hz"] = round(fs, 3)
        res["seconds"] = round(time.perf_counter() - t0, 2)
        res["upstrokes"] = len(ups)
        res["notches"] = len(notches)
        if ecg is not None:
            dec, peaks = detect_r_waves_with_peaks(ecg, fs_ecg)
            r_s = peaks / fs_ecg
            lags = [n / fs - r_s[r_s < n / fs][-1] for n in notches if np.any(r_s < n / fs)]
            if lags:
                res["r_peak_to_notch_ms_median"] = round(1000 * float(np.median(lags)), 1)
            res["r_waves_on_ecg"] = len(dec)
        results[record] = res
    return results


def fmt_row(name: str, s: dict[str, Any], ours: bool) -> str:
    d = s.get("delay_ms", {})
    delay = f"{d['median']} / {d['p95']} / {d['max']}" if ours and d else "-"
    return (f"| {name} | {s['se_pct']:.2f} | {s['ppv_pct']:.2f} | {s['f1_pct']:.2f} | "
            f"{s['fn']} | {s['fp']} | {delay} |")


def to_markdown(r: dict[str, Any], n: dict[str, Any]) -> str:
    head = ("| detector | Se % | +P % | F1 % | FN | FP | decision delay med / p95 / max (ms) |\n"
            "|---|---|---|---|---|---|---|")
    lines = ["# Trigger detector benchmark", "",
             "Generated by `python benchmarks/bench_detectors.py`. MIT-BIH Arrhythmia records "
             f"{', '.join(r['records'])}, channel 0, whole records, all beat annotations "
             f"(`{''.join(sorted(BEAT_SYMBOLS))}`), {r['match_window_ms']:.0f} ms matching window "
             "on the R-peak location. Decision delay = decision sample minus annotated R peak "
             "(negative: decided before the annotated peak). Ours is causal, sample by sample; "
             "the peers run offline on the whole record.", "",
             f"Ours: `decision_delay_bound_ms` = {r['decision_delay_bound_ms_at_360Hz']} ms at "
             "360 Hz (largest time from the estimated R peak to the decision, by construction).",
             "", "## Overall", "", head]
    overall = r["overall"]
    lines += [fmt_row(k, v, k.startswith("ours")) for k, v in overall.items()]
    ours = overall.get("ours (causal)", {})
    if "delay_ms" in ours:
        d = ours["delay_ms"]
        lines += ["", f"Ours, decision delay over all {ours['tp']} matched beats: median "
                  f"{d['median']} ms, p1 {d['p1']}, p5 {d['p5']}, p95 {d['p95']}, p99 {d['p99']} ms, "
                  f"min {d['min']} ms, max {d['max']} ms. Decided before the annotated peak: "
                  f"{100 * d['frac_under_0ms']:.1f} %; under 20 ms: {100 * d['frac_under_20ms']:.1f} %; "
                  f"over 50 ms: {100 * d['frac_over_50ms']:.2f} %; over 60 ms: "
                  f"{100 * d['frac_over_60ms']:.2f} %."]
    lines += ["", "## Targets", ""] + target_lines(overall)
    lines += ["", "## Per record", ""]
    for rec, res in r["per_record"].items():
        lines += [f"### {rec} ({res['beats']} beats)", "", head]
        lines += [fmt_row(k, v, k.startswith("ours")) for k, v in res.items() if k != "beats"]
        lines.append("")
    lines += ["## Ours: decision delay by beat type (ms)", "", "| type | n | median | p95 | max |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['median']} | {v['p95']} | {v['max']} |"
              for k, v in r["ours_delay_by_beat_type"].items()]
    lines += ["", "## Dicrotic notch (pressure trigger)", "",
              "No reference notch annotations exist for these records. A beat runs from one "
              "detected upstroke to the next; *plausible* = exactly one notch, after the "
              "systolic peak and before the next upstroke.", "",
              "| record | fs (Hz) | beats | one notch % | plausible % | none | several | "
              "upstroke->notch p5 / median / p95 (ms) | R peak->notch median (ms) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rec, v in n.items():
        t = v.get("upstroke_to_notch_ms", {})
        tt = f"{t['p5']} / {t['median']} / {t['p95']}" if t else "-"
        lines.append(f"| {rec} | {v['fs_hz']} | {v['beats']} | {v['one_notch_pct']} | "
                     f"{v['plausible_pct']} | {v['no_notch']} | {v['several']} | {tt} | "
                     f"{v.get('r_peak_to_notch_ms_median', '-')} |")
    if r["notes"]:
        lines += ["", "## Notes", ""] + [f"- {s}" for s in r["notes"]]
    return "\n".join(lines) + "\n"


def target_lines(overall: dict[str, Any]) -> list[str]:
    """Pass/fail of the project's targets for ours: Se, +P >= 99.5 %, F1 >= peers, p95 <= 50 ms."""
    ours = overall.get("ours (causal)")
    if not ours:
        return ["- ours was not run"]
    best_peer = max(((v["f1_pct"], k) for k, v in overall.items() if k != "ours (causal)"),
                    default=None)
    p95 = ours.get("delay_ms", {}).get("p95", float("inf"))
    checks = [
        (f"Se >= 99.5 %: {ours['se_pct']:.2f} %", ours["se_pct"] >= 99.5),
        (f"+P >= 99.5 %: {ours['ppv_pct']:.2f} %", ours["ppv_pct"] >= 99.5),
        (f"p95 decision delay <= 50 ms: {p95} ms", p95 <= 50.0),
    ]
    if best_peer is not None:
        checks.append((f"F1 >= every peer: ours {ours['f1_pct']:.2f} %, best peer {best_peer[1]} "
                       f"{best_peer[0]:.2f} %", ours["f1_pct"] >= best_peer[0]))
    return [f"- {'met' if ok else 'NOT met'}: {text}" for text, ok in checks]


def default_data_dir() -> Path:
    env = os.environ.get("IABP_PHYSIONET_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "physionet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results/detectors.md")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--records", nargs="*", default=None,
                        help="MIT-BIH record names (default: every annotated record found)")
    parser.add_argument("--no-peers", action="store_true", help="benchmark ours only")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the Markdown from the JSON next to --out, without running")
    args = parser.parse_args(argv)
    if args.render_only:
        saved = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
        args.out.write_text(to_markdown(saved["r_wave"], saved["dicrotic_notch"]), encoding="utf-8")
        return 0
    logging.disable(logging.WARNING)
    mitdb = args.data_dir / "mitdb"
    records = args.records or sorted(p.stem for p in mitdb.glob("*.atr")) or list(DEFAULT_RECORDS)
    if not mitdb.is_dir():
        print(f"no MIT-BIH data under {mitdb}", file=sys.stderr)
        return 2
    r = bench_r_waves(args.data_dir, records, with_peers=not args.no_peers)
    n = bench_notches(args.data_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_markdown(r, n), encoding="utf-8")
    args.out.with_suffix(".json").write_text(
        json.dumps({"r_wave": r, "dicrotic_notch": n}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
