"""When does the R-wave trigger decide, measured from the QRS ONSET of the reference beat?

The balloon must be empty before ejection starts, and ejection starts a pre-ejection
period after the ONSET of the QRS complex (Weissler measured PEP from Q onset). So the
number the deflation proofs need is not "decision minus R peak" but "decision minus
QRS onset". This benchmark measures it on every development record, whole length, for
the controller's R-wave trigger, per beat class, with:

* reference beats: the cardiologist ``.atr`` annotations (never our own detections);
* QRS onset: ``R - QR`` with the Q-to-R time measured on that beat's waveform by
  :mod:`benchmarks.qrs_onset` (beats where it is unmeasurable are counted apart);
* matching: one-to-one within 150 ms of the annotated R, as in ``bench_detectors``;
* the QRS suspicion the controller deflates on (``FastRWaveDetector.qrs_suspected``): when
  the run of suspicion that led to each decision began, against the onset and against
  the decision (ASM-R-DETECT assumes it at least ``R_SUSPECT_LEAD_MS`` ahead);
* the share of beats decided inside the spec's assumed bounds (ASM-R-DETECT:
  ``R_DETECT_DELAY_MIN_MS`` .. ``R_DETECT_DELAY_MAX_MS`` after the onset), per class;
* how often the suspicion rises OUTSIDE every reference QRS (ASM-QRS-SUSPECT assumes
  never; the efficacy proofs need it, the safety proofs do not): a run of suspicion that
  starts neither within ``SUSPECT_QRS_BEFORE_MS`` before a beat's QRS onset nor up to
  ``MATCH_MS`` after its R, per 1000 reference beats, and how many of those fall in a
  diastole (from 350 ms after an R to the next QRS onset), where the pump deflates on
  them early or holds the inflation back: what the suspicion costs in augmentation;
* also when the trigger's QRS feature crossed its threshold (``last_crossing_index``)
  against the measured onset, and the beat-to-beat change of the onset-to-decision
  delay (what an R-R measured between decisions is off by).

Run from the repository root::

    python -m benchmarks.bench_trigger_timing            # all 41 MIT-BIH records, whole length
    python -m benchmarks.bench_trigger_timing --write    # also results/trigger_timing.{md,json}
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import multiprocessing as mp
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.bench_rhythms import DEFAULT_QR_MS
from benchmarks.matching import matched_pairs
from benchmarks.qrs_onset import beat_class, measure_record, mitdb_records
from iabp.spec.assumptions import R_DETECT_DELAY_MAX_MS, R_DETECT_DELAY_MIN_MS

FloatArray = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MATCH_MS = 150
QUANTILES = (0.0, 1.0, 5.0, 50.0, 95.0, 99.0, 99.9, 100.0)
#: A suspicion that rises this little before a beat's measured QRS onset still belongs to
#: that QRS (the onset estimate's own error, ms).
SUSPECT_QRS_BEFORE_MS = 20
#: From this long after an R the next suspicion is in the diastole (the earliest the pump
#: inflates, at 150 bpm, ms).
DIASTOLE_FROM_MS = 350


def _match(ref: npt.NDArray[np.int64], det: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """One-to-one matching of detections to reference beats, within 150 ms (1 kHz)."""
    ri, di = matched_pairs(ref, det, MATCH_MS)
    return list(zip(ri.tolist(), di.tolist(), strict=True))


def measure(record: str) -> dict[str, Any]:
    """Per matched reference beat: class, decision - R, decision - onset, onset estimate error."""
    from iabp.controller.triggers.upslope import FastRWaveDetector
    from iabp.sim.records import read_record

    rec = read_record(record)
    onsets = measure_record(record)
    assert rec.r_peaks is not None and rec.r_symbols is not None
    qr_by_r = dict(zip(onsets.r_ms().tolist(), onsets.qr.tolist(), strict=True))
    ref = np.asarray(rec.r_peaks, dtype=np.int64)
    det = FastRWaveDetector(1000.0)
    dec: list[int] = []
    onset_est: list[int] = []
    suspect_from: list[int] = []
    rises: list[int] = []
    rising, was = -1, False
    for i, v in enumerate(rec.ecg_mv.tolist()):
        decided = det.push(v)
        now = det.qrs_suspected
        if now and not was:
            rising = i
            rises.append(i)
        if decided:
            dec.append(i)
            onset_est.append(det.last_crossing_index)
            # the QRS suspicion the pump deflated on: the run of suspicion under way (or
            # just ended) at the decision
            suspect_from.append(rising if rising >= 0 and (was or now) else i)
        was = now
    d = np.asarray(dec, dtype=np.int64)
    oe = np.asarray(onset_est, dtype=np.int64)
    sf = np.asarray(suspect_from, dtype=np.int64)
    pairs = _match(ref, d)
    rows: list[tuple[str, float, float, float, float, float]] = []
    prev_i, prev_d = -2, float("nan")
    for i, k in pairs:
        r = int(ref[i])
        qr = float(qr_by_r.get(r, float("nan")))
        onset = r - qr
        d_onset = float(d[k] - onset)
        # change of the onset-to-decision delay from the previous reference beat (both
        # detected); NaN when that beat was missed or is the first
        step = d_onset - prev_d if prev_i == i - 1 else float("nan")
        prev_i, prev_d = i, d_onset
        rows.append((beat_class(rec.r_symbols[i]), float(d[k] - r), d_onset,
                     float(oe[k] - onset), step, float(sf[k] - onset)))
    outside, in_diastole = _suspicions_outside_qrs(
        np.asarray(rises, dtype=np.int64), ref,
        np.array([qr_by_r.get(int(r), float("nan")) for r in ref], dtype=np.float64))
    return {"record": record, "beats": int(ref.size), "detections": int(d.size),
            "matched": len(pairs), "rows": rows, "suspicions": len(rises),
            "suspicions_outside_qrs": outside, "suspicions_in_diastole": in_diastole}


def _suspicions_outside_qrs(rises: npt.NDArray[np.int64], ref: npt.NDArray[np.int64],
                            qr_ms: FloatArray) -> tuple[int, int]:
    """(suspicion rises outside every reference QRS, those of them in a diastole).

    A rise belongs to a beat's QRS from ``SUSPECT_QRS_BEFORE_MS`` before its QRS onset
    (R - QR; ``DEFAULT_QR_MS`` when unmeasurable, as the rhythm benchmark's judge) to ``MATCH_MS`` after its R. It is in a diastole
    from ``DIASTOLE_FROM_MS`` after an R to the next beat's QRS window."""
    if rises.size == 0 or ref.size == 0:
        return 0, 0
    onset = ref - np.where(np.isfinite(qr_ms), qr_ms, DEFAULT_QR_MS)
    lo, hi = onset - SUSPECT_QRS_BEFORE_MS, ref + MATCH_MS
    k = np.searchsorted(ref, rises)  # the next beat at or after the rise
    nxt = np.minimum(k, ref.size - 1)
    prv = np.maximum(k - 1, 0)
    in_next = (k < ref.size) & (rises >= lo[nxt]) & (rises <= hi[nxt])
    in_prev = (k > 0) & (rises >= lo[prv]) & (rises <= hi[prv])
    outside = ~(in_next | in_prev)
    diastole = outside & (k > 0) & (k < ref.size) & (rises >= ref[prv] + DIASTOLE_FROM_MS)
    return int(outside.sum()), int(diastole.sum())


def _dist(v: FloatArray) -> dict[str, float]:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    return {f"p{q:g}": round(float(np.percentile(v, q)), 1) for q in QUANTILES}


def aggregate(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled and per-class distributions."""
    rows = [r for res in results for r in res["rows"]]
    cls = np.array([r[0] for r in rows])
    arr = np.array([[r[1], r[2], r[3], r[4], r[5]] for r in rows], dtype=float)
    out: dict[str, Any] = {"classes": {}}
    for c in ["all", *sorted(set(cls.tolist()))]:
        m = np.ones(cls.size, dtype=bool) if c == "all" else cls == c
        a = arr[m]
        measured = a[np.isfinite(a[:, 1]), 1]
        inside = (measured >= R_DETECT_DELAY_MIN_MS) & (measured <= R_DETECT_DELAY_MAX_MS)
        out["classes"][c] = {
            "inside_spec_bounds_pct": round(100.0 * float(inside.mean()), 3)
            if measured.size else float("nan"),
            "beats": int(m.sum()),
            "onset_measured": int(np.isfinite(a[:, 1]).sum()),
            "decision_minus_r_ms": _dist(a[:, 0]),
            "decision_minus_onset_ms": _dist(a[:, 1]),
            "onset_estimate_error_ms": _dist(a[:, 2]),
            "delay_change_from_previous_beat_ms": _dist(a[:, 3]),
            "suspicion_minus_onset_ms": _dist(a[:, 4]),
            "suspicion_lead_ms": _dist(a[:, 1] - a[:, 4]),
        }
    out["records"] = [{k: res[k] for k in ("record", "beats", "detections", "matched",
                                          "suspicions", "suspicions_outside_qrs",
                                          "suspicions_in_diastole")}
                      for res in results]
    beats = sum(res["beats"] for res in results)
    out["suspicions_outside_qrs"] = {
        "reference_beats": beats,
        "outside": sum(res["suspicions_outside_qrs"] for res in results),
        "in_diastole": sum(res["suspicions_in_diastole"] for res in results)}
    return out


def to_markdown(agg: dict[str, Any], meta: dict[str, str]) -> str:
    qs = [f"p{q:g}" for q in QUANTILES]
    lines = ["# R-wave trigger timing from the QRS onset", "",
             f"Generated by `python -m benchmarks.bench_trigger_timing --write` on {meta['when']}, "
             f"git `{meta['git']}`. All {meta['records']} MIT-BIH development records, whole "
             "length, replayed at 1 kHz through the pump's trigger `FastRWaveDetector`; matched "
             f"one-to-one to the `.atr` beats within {MATCH_MS} ms. QRS onset = annotated R minus "
             "the Q-to-R time measured on that beat (`benchmarks/qrs_onset.py`); beats whose onset "
             "is unmeasurable count in `beats` but not in the onset rows.", ""]
    for key, title in (("decision_minus_onset_ms", "Decision minus QRS onset (ms)"),
                       ("suspicion_minus_onset_ms",
                        "QRS suspicion (the controller deflates on it) minus QRS onset (ms)"),
                       ("suspicion_lead_ms",
                        "QRS suspicion ahead of the decision (ms; ASM-R-DETECT assumes at "
                        "least 8)"),
                       ("decision_minus_r_ms", "Decision minus annotated R peak (ms)"),
                       ("onset_estimate_error_ms",
                        "Threshold crossing of the trigger's QRS feature minus measured QRS "
                        "onset (ms)"),
                       ("delay_change_from_previous_beat_ms",
                        "Change of (decision minus QRS onset) from the previous beat, "
                        "both detected (ms); class of the later beat")):
        lines += [f"## {title}", "", "| class | beats | " + " | ".join(qs) + " |",
                  "|---|---|" + "---|" * len(qs)]
        for c, v in agg["classes"].items():
            d = v[key]
            n = v["onset_measured"] if key != "decision_minus_r_ms" else v["beats"]
            lines.append(f"| {c} | {n} | " + " | ".join(f"{d.get(q, float('nan')):g}"
                                                         for q in qs) + " |")
        lines.append("")
    lines += [f"## Inside the spec's bound (ASM-R-DETECT: {R_DETECT_DELAY_MIN_MS}-"
              f"{R_DETECT_DELAY_MAX_MS} ms after the QRS onset)", "",
              "| class | beats with a measured onset | % decided inside the bound |", "|---|---|---|"]
    lines += [f"| {c} | {v['onset_measured']} | {v['inside_spec_bounds_pct']:.2f} |"
              for c, v in agg["classes"].items()]
    so = agg["suspicions_outside_qrs"]
    per_k = 1000.0 / max(1, so["reference_beats"])
    lines += ["", "## QRS suspicion outside every reference QRS (ASM-QRS-SUSPECT assumes never)",
              "",
              f"A rise of the suspicion from {SUSPECT_QRS_BEFORE_MS} ms before a beat's QRS onset "
              f"to {MATCH_MS} ms after its R belongs to that beat; any other is outside "
              f"(a P wave, a T wave, noise). In a diastole ({DIASTOLE_FROM_MS} ms after an R to "
              "the next QRS) the pump deflates on it early or holds its inflation back.", "",
              "| reference beats | outside any QRS | per 1000 beats | of them in a diastole "
              "| per 1000 beats |", "|---|---|---|---|---|",
              f"| {so['reference_beats']} | {so['outside']} | {so['outside'] * per_k:.1f} "
              f"| {so['in_diastole']} | {so['in_diastole'] * per_k:.1f} |"]
    lines += ["", "## Records", "",
              "| record | reference beats | detections | matched | suspicions outside any QRS "
              "| in a diastole |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['record']} | {r['beats']} | {r['detections']} | {r['matched']} "
              f"| {r['suspicions_outside_qrs']} | {r['suspicions_in_diastole']} |"
              for r in agg["records"]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", nargs="*", help="e.g. 100 119 (default: all development records)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args(argv)
    names = [f"mitdb/{r}" for r in a.records] if a.records else mitdb_records()
    with mp.Pool(a.jobs) as pool:
        results = pool.map(measure, names)
    agg = aggregate(results)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=ROOT, check=False).stdout.strip()
    meta = {"when": _dt.datetime.now().isoformat(timespec="seconds"), "git": git,
            "records": str(len(names))}
    md = to_markdown(agg, meta)
    print(md)
    if a.write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "trigger_timing.md").write_text(md)
        (RESULTS / "trigger_timing.json").write_text(json.dumps({"meta": meta, **agg}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
