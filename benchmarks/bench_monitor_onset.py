"""Benchmark the monitor's own QRS-onset estimate against the reference onsets of MIT-BIH.

The runtime monitor times ejection from the QRS onset (Weissler's pre-ejection period
starts there). Its onset estimate (:class:`iabp.monitor.detect.onset.QrsOnsetEstimator`,
length-transform onset) is run exactly as the monitor runs it: every record of the
MIT-BIH development set (``benchmarks.qrs_onset.mitdb_records()``, 41 records, whole
length) is replayed at 1 kHz (``iabp.sim.records.read_record``: the preferred ECG lead,
360 Hz resampled to 1 kHz), sample by sample into the monitor's R-wave detector
(:class:`~iabp.monitor.detect.r_wave.MonitorRWaveDetector`) and the estimator; at each
decision the estimator is asked for ``onset_before(det.last_peak_index)``.

Decided peaks are matched one-to-one to the reference beats within 150 ms (closest
first). The reference onset of a beat is ``R - QR`` with ``QR`` from
``benchmarks.qrs_onset.measure_record`` (a different method: a slope threshold walked back
from the annotated R on a 1-40 Hz zero-phase band-pass, on the original 360 Hz samples,
the earlier onset of both leads). Reported per beat class: the distribution of the error
``estimated onset - reference onset`` (ms; negative = estimate early) and the shares of
beats the detector missed, the estimator could not measure and the reference could not
measure. Two diagnostic tables: the error against the reference measured on the replayed
lead only, and the error a perfect single-lead measurement would have (the replayed lead's
reference onset minus the two-lead one): the part no single-lead method can remove.

Run::

    python -m benchmarks.bench_monitor_onset                   # all 41 records, print
    python -m benchmarks.bench_monitor_onset --records 100 119 # a few records
    python -m benchmarks.bench_monitor_onset --write           # also write the results file

``--write`` writes ``benchmarks/results/monitor_onset.md``. Uses 2 worker processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.matching import match_to_reference
from benchmarks.qrs_onset import CLASS_ORDER, beat_class, measure_record, mitdb_records
from iabp.monitor.detect.onset import QrsOnsetEstimator
from iabp.monitor.detect.r_wave import MonitorRWaveDetector
from iabp.sim.records import read_record
from iabp.spec.monitor_rules import MON_ONSET_ERROR_MAX_MS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "monitor_onset.md"
FS_HZ = 1000.0
MATCH_MS = 150.0
PROCESSES = 2
#: Beat classes the estimate is validated on (the bound covers these).
COVERED = ("N", "L (LBBB)", "R (RBBB)", "paced /")
COVERED_ROW = "covered (N, L, R, paced)"
PERCENTILES = (0.1, 1.0, 5.0, 50.0, 95.0, 99.0, 99.9)
#: Targets of the brief, for the covered classes.
TARGET_ABS_P99_MS = 15.0
TARGET_MEDIAN_MS = 2.0


def match(ref: IntArray, det: IntArray, tol: float) -> IntArray:
    """One-to-one matching: for each reference beat the index of its detection, or -1."""
    return match_to_reference(ref, det, tol)


def run_record(name: str) -> dict[str, Any]:
    """Replay one record through the detector and the estimator; per-beat errors."""
    rec = read_record(name)
    ecg = rec.ecg_mv
    if rec.r_peaks is None or rec.r_symbols is None:
        raise RuntimeError(f"{name}: no reference beats")
    ro = measure_record(name)
    r_ms = ro.r_ms()
    keep = r_ms < ecg.size
    if not np.array_equal(r_ms[keep], rec.r_peaks):
        raise RuntimeError(f"{name}: reference beats of read_record and measure_record differ")
    qr = ro.qr[keep]
    qr_lead = ro.qr_lead[keep, ro.replay_lead]

    det = MonitorRWaveDetector(FS_HZ)
    est = QrsOnsetEstimator(FS_HZ)
    peaks: list[int] = []
    onsets: list[float] = []
    call_s: list[float] = []
    d_push, e_push, onset_before = det.push, est.push, est.onset_before
    clock = time.perf_counter
    t_run = clock()
    for x in ecg.tolist():
        e_push(x)
        if d_push(x):
            peak = det.last_peak_index
            t0 = clock()
            o = onset_before(peak)
            call_s.append(clock() - t0)
            peaks.append(peak)
            onsets.append(math.nan if o is None else float(o))
    t_run = clock() - t_run
    # cost of push alone, on a fresh estimator
    est2 = QrsOnsetEstimator(FS_HZ)
    push2 = est2.push
    t0 = clock()
    for x in ecg.tolist():
        push2(x)
    push_s = clock() - t0

    ref = np.asarray(rec.r_peaks, dtype=np.int64)
    m = match(ref, np.asarray(peaks, dtype=np.int64), MATCH_MS * FS_HZ / 1000.0)
    on = np.asarray(onsets, dtype=np.float64)
    matched = m >= 0
    est_on = np.where(matched, on[np.maximum(m, 0)] if on.size else np.nan, np.nan)
    ref_on = ref - qr  # ms == samples at 1 kHz
    ref_lead_on = ref - qr_lead
    return {
        "name": name,
        "classes": np.array([beat_class(s) for s in rec.r_symbols]),
        "matched": matched,
        "est_nan": matched & ~np.isfinite(est_on),
        "ref_nan": matched & ~np.isfinite(ref_on),
        "err": est_on - ref_on,
        "err_lead": est_on - ref_lead_on,
        "lead_floor": ref_lead_on - ref_on,
        "qr_est": ref - est_on,
        "n_samples": int(ecg.size),
        "n_decisions": len(peaks),
        "call_s": np.asarray(call_s, dtype=np.float64),
        "push_s": push_s,
        "run_s": t_run,
        "lead": rec.ecg_lead,
    }


def pct(v: FloatArray, p: float) -> float:
    return float(np.percentile(v, p)) if v.size else math.nan


def class_rows(results: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Per class (and pooled): counts and the percentiles of ``key`` (ms)."""
    classes = np.concatenate([r["classes"] for r in results])
    matched = np.concatenate([r["matched"] for r in results])
    est_nan = np.concatenate([r["est_nan"] for r in results])
    ref_nan = np.concatenate([r["ref_nan"] for r in results])
    val = np.concatenate([r[key] for r in results])
    groups: list[tuple[str, npt.NDArray[np.bool_]]] = [("all", np.ones(classes.size, bool))]
    groups.append((COVERED_ROW, np.isin(classes, COVERED)))
    groups += [(c, classes == c) for c in CLASS_ORDER]
    rows = []
    for label, sel in groups:
        n = int(sel.sum())
        if n == 0:
            continue
        det = sel & matched
        v = val[det]
        v = v[np.isfinite(v)]
        nd = int(det.sum())
        rows.append({
            "class": label, "beats": n, "detected": nd,
            "est_nan": int((sel & est_nan).sum()), "ref_nan": int((sel & ref_nan).sum()),
            "n": int(v.size), "p": [pct(v, p) for p in PERCENTILES],
            "abs99": pct(np.abs(v), 99.0), "abs999": pct(np.abs(v), 99.9),
        })
    return rows


def share(a: int, b: int) -> str:
    return f"{100.0 * a / b:.2f} %" if b else "n/a"


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("| beat class | beats | detected | est. unmeasurable | ref. unmeasurable | compared | "
            + " | ".join(f"p{p:g}" for p in PERCENTILES) + " | abs p99 | abs p99.9 |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        ps = " | ".join(f"{x:+.1f}" if math.isfinite(x) else "n/a" for x in r["p"])
        out.append(
            f"| {r['class']} | {r['beats']} | {share(r['detected'], r['beats'])} | "
            f"{share(r['est_nan'], r['detected'])} | {share(r['ref_nan'], r['detected'])} | "
            f"{r['n']} | {ps} | {r['abs99']:.1f} | {r['abs999']:.1f} |")
    return "\n".join(out)


def per_record(results: Sequence[dict[str, Any]], worst: int = 10) -> str:
    """Covered classes per record: median error and |error| p99, worst first."""
    rows = []
    for r in results:
        sel = np.isin(r["classes"], COVERED) & np.isfinite(r["err"])
        if sel.sum() < 10:
            continue
        e, el = r["err"][sel], r["err_lead"][sel]
        el = el[np.isfinite(el)]
        rows.append((r["name"], r["lead"], int(sel.sum()), float(np.median(e)),
                     pct(np.abs(e), 99.0), float(np.median(el)) if el.size else math.nan,
                     pct(np.abs(el), 99.0)))
    rows.sort(key=lambda t: -t[4])
    out = ["| record | lead | beats | median | abs p99 | median (lead ref.) | abs p99 (lead ref.) |",
           "|---|---|---|---|---|---|---|"]
    for name, lead, n, med, a99, medl, a99l in rows[:worst]:
        out.append(f"| {name} | {lead} | {n} | {med:+.1f} | {a99:.1f} | {medl:+.1f} | {a99l:.1f} |")
    return "\n".join(out)


def machine() -> str:
    try:
        up = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        up = "uptime unavailable"
    return (f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}): "
            f"{up.strip()}")


def report(results: Sequence[dict[str, Any]], wall_s: float, before: str, after: str) -> str:
    rows = class_rows(results, "err")
    covered = next(r for r in rows if r["class"] == COVERED_ROW)
    bound = math.ceil(covered["abs999"])
    calls = np.concatenate([r["call_s"] for r in results])
    n_samples = sum(r["n_samples"] for r in results)
    push_us = 1e6 * sum(r["push_s"] for r in results) / n_samples
    run_us = 1e6 * sum(r["run_s"] for r in results) / n_samples
    qr = np.concatenate([r["qr_est"][np.isin(r["classes"], COVERED)] for r in results])
    qr = qr[np.isfinite(qr)]
    med = covered["p"][PERCENTILES.index(50.0)]
    names = [r["name"] for r in results]
    lines = [
        "# Monitor QRS-onset estimate vs the reference onsets (MIT-BIH)",
        "",
        f"Generated by `python -m benchmarks.bench_monitor_onset` on "
        f"{dt.datetime.now(dt.timezone.utc).isoformat(timespec='minutes')}.",
        "",
        f"Machine before the run: `{before}`  ",
        f"Machine after the run: `{after}`  ",
        f"Wall time {wall_s:.0f} s with {PROCESSES} worker processes.",
        "",
        f"Records: {len(names)} MIT-BIH Arrhythmia development records "
        f"({names[0]} .. {names[-1]}), whole length, replayed at 1 kHz "
        "(`iabp.sim.records.read_record`, preferred ECG lead, 360 Hz resampled). "
        "The monitor's R-wave detector (`MonitorRWaveDetector`) and the onset estimator "
        "(`QrsOnsetEstimator`) get the same samples one by one; at each decision the "
        "estimator is asked for `onset_before(last_peak_index)`. Decided peaks are matched "
        f"one-to-one to the reference beats within {MATCH_MS:.0f} ms.",
        "",
        "Reference onset: annotated beat minus the Q-to-R time of `benchmarks/qrs_onset.py` "
        "(1-40 Hz zero-phase band-passed slope against 8 % of its maximum, walked back from "
        "the annotation to a 10 ms quiet stretch; 360 Hz; the earlier onset of both leads). "
        "Error = estimated onset - reference onset in ms (negative: the estimate is early). "
        "Percentages: detected = matched to a decision; unmeasurable = share of the detected "
        "beats for which the estimator (None) or the reference (NaN) gave no onset.",
        "",
        "## Error against the reference (both leads)",
        "",
        table(rows),
        "",
        "## Result",
        "",
        f"- Covered classes (N, L, R, paced): median error {med:+.1f} ms, "
        f"|error| p99 {covered['abs99']:.1f} ms, p99.9 {covered['abs999']:.1f} ms.",
        f"- Bound: `MON_ONSET_ERROR_MAX_MS` = ceil(|error| p99.9 of the covered classes) = "
        f"**{bound} ms** (declared in `spec/monitor_rules.py`: {MON_ONSET_ERROR_MAX_MS} ms"
        f"{'' if bound == MON_ONSET_ERROR_MAX_MS else ' -- OUT OF DATE'}).",
        f"- Target |error| p99 <= {TARGET_ABS_P99_MS:.0f} ms: "
        f"{'met' if covered['abs99'] <= TARGET_ABS_P99_MS else 'NOT met'} "
        f"({covered['abs99']:.1f} ms); median within +-{TARGET_MEDIAN_MS:.0f} ms: "
        f"{'met' if abs(med) <= TARGET_MEDIAN_MS else 'NOT met'} ({med:+.1f} ms). "
        "See the single-lead floor below: most of the p99 is the other lead's earlier onset, "
        "which a one-lead monitor cannot see.",
        f"- Estimated Q-to-peak time (detector peak minus estimated onset), covered classes: "
        f"median {pct(qr, 50):.0f} ms, p1 {pct(qr, 1):.0f} ms, p99 {pct(qr, 99):.0f} ms.",
        f"- Cost (CPython, one core, other jobs running): `push` {push_us:.2f} µs/sample; "
        f"`onset_before` median {1e6 * pct(calls, 50):.0f} µs, p99 {1e6 * pct(calls, 99):.0f} µs, "
        f"max {1e6 * float(calls.max()) if calls.size else math.nan:.0f} µs per beat "
        f"({calls.size} calls); detector + estimator loop {run_us:.2f} µs/sample.",
        "",
        "## Notes",
        "",
        "- The upper tail (estimate late) is mostly the single-lead floor: the other lead's "
        "QRS starts earlier (e.g. record 222: median +22 ms against both leads, 0 against the "
        "replayed lead; see the last table).",
        "- The far lower tail (estimate early by 35-75 ms, under 0.1 % of the covered beats) "
        "was inspected on plots during development: pacing spikes in 102 and 107 (the "
        "estimate starts at the spike, the reference after it), LBBB beats annotated on the S "
        "wave in 109 whose reference onset stopped on the flat top of the R (the estimate "
        "sits where the complex leaves the baseline), the delta wave of pre-excited beats in "
        "230, and noise (105, 200, 222). Several of these are reference errors, but they "
        "count against the bound all the same.",
        "- Ventricular beats are not covered: wide slow complexes with another wide complex in "
        "the buffer often fail the slope signal-to-noise test (unmeasurable), and the "
        "reference's two leads disagree most there.",
        "",
        "## Diagnostic: against the reference measured on the replayed lead only",
        "",
        "The estimator sees one lead; the reference takes the earlier onset of two. Against "
        "the replayed lead's own reference onset the method's error is:",
        "",
        table(class_rows(results, "err_lead")),
        "",
        "## Diagnostic: the single-lead floor",
        "",
        "Error a perfect measurement on the replayed lead would have against the two-lead "
        "reference (replayed lead's reference onset - two-lead reference onset), on the same "
        "beats. The reference takes the earlier of the two leads' onsets, so this is zero or "
        "positive (where the leads disagree by more than 40 ms the reference takes the one "
        "nearer the class median, which may be the later: the negative tails of V and f). No "
        "one-lead estimator can remove it; a constant shift only trades the upper tail for "
        "the lower:",
        "",
        table(class_rows(results, "lead_floor")),
        "",
        "## Worst 10 records (covered classes, by |error| p99)",
        "",
        per_record(results),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--records", nargs="*", default=None,
                    help="record numbers (e.g. 100 119); default: all development records")
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(HERE.parent)}")
    a = ap.parse_args(argv)
    names = [f"mitdb/{r}" if "/" not in r else r for r in a.records] if a.records \
        else mitdb_records()
    before = machine()
    t0 = time.perf_counter()
    with Pool(PROCESSES) as pool:
        results = pool.map(run_record, names, chunksize=1)
    wall = time.perf_counter() - t0
    text = report(results, wall, before, machine())
    print(text)
    if a.write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
