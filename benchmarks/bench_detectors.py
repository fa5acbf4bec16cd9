"""Benchmark the pump's trigger detectors against published peers on PhysioNet data.

Run from the repository root::

    python benchmarks/bench_detectors.py [--quick] [--out benchmarks/results/detectors.md]

R-wave detection: every annotated MIT-BIH Arrhythmia record in ``<data>/mitdb``, whole
records, resampled to the controller's 1 kHz exactly as ``iabp.sim.records.read_record``
does (``resample_poly``, ``padtype="line"``), reference beats = the ``.atr`` beat
annotations (``BEAT_SYMBOLS``) moved to 1 kHz, one-to-one matching within 150 ms of the
detector's R-peak estimate. Detectors, side by side:

* ``fast 1-lead`` - :class:`FastRWaveDetector` on channel 0 (causal, up-slope decision);
* ``fast 2-lead`` - :class:`TwoLeadRWaveDetector` on both channels (causal);
* ``RWaveDetector`` - the existing causal detector on channel 0;
* peers on channel 0 at 1 kHz, offline on the whole record: py-ecg-detectors
  (Pan-Tompkins, Hamilton, two-average, Engzee), neurokit2 ``ecg_peaks``, wfdb XQRS.

Reported: pooled, per record, per beat class, per AF/AFL segment (rhythm annotations
``(AFIB`` / ``(AFL``), the tuning (odd-numbered records) vs held-out (even) split, and
for the causal detectors the decision delay (decision sample minus annotated R peak;
negative = decided on the up-slope, before the annotated peak) and the peak
localisation error (estimated peak minus annotated peak) per class.

Noise stress (causal detectors and neurokit2): synthetic noise added to the first
``NOISE_SECONDS`` of every record at 12 dB and 6 dB SNR, see :func:`synth_noise`.
Records are processed by ``--workers`` (2) processes. ``--quick``: four records, first
five minutes. Dicrotic notch: ``<data>/abp`` as before (see :func:`bench_notches`).

Writes Markdown to ``--out`` and the same numbers as JSON next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from iabp.controller.triggers import (  # noqa: E402
    RWaveDetector,
    detect_pressure_events,
    detect_r_waves_with_peaks,
)
from iabp.controller.triggers.upslope import (  # noqa: E402
    FastRWaveDetector,
    TwoLeadRWaveDetector,
    detect_fast_r_waves,
    detect_two_lead_r_waves,
)
from iabp.spec.errors import RecordError  # noqa: E402

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
MATCH_WINDOW_MS = 150.0
FS_HZ = 1000.0
NOISE_SECONDS = 300.0
NOISE_SNRS_DB = (12.0, 6.0)
QUICK_RECORDS = ("100", "107", "119", "207")
QUICK_SECONDS = 300.0
CAUSAL = ("fast 1-lead", "fast 2-lead", "RWaveDetector")
CLASSES = {"N": "N", "V": "V", "/": "paced /", "F": "fusion F", "L": "LBBB L", "R": "RBBB R",
           "A": "A", "f": "f", "E": "E", "j": "j", "J": "J", "a": "a", "e": "e", "Q": "Q",
           "S": "S", "!": "!"}
Detector = Callable[[np.ndarray, float], np.ndarray]


def tuning_split(record: str) -> str:
    """Odd-numbered records were used to tune the fast detectors; even ones were held out."""
    return "tuning (odd)" if int(record) % 2 else "held-out (even)"


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


def load_mitdb(data_dir: Path, record: str, seconds: float | None = None) -> dict[str, Any]:
    """Both channels at 1 kHz (mV), reference beats (1 kHz samples), symbols, AF segments."""
    import wfdb
    from scipy.signal import resample_poly

    path = data_dir / "mitdb" / record
    try:
        rec = wfdb.rdrecord(str(path))
        ann = wfdb.rdann(str(path), "atr")
    except (OSError, ValueError) as exc:
        raise RecordError(f"cannot read MIT-BIH record {path}: {exc}") from exc
    fs = float(rec.fs)
    up, down = 25, 9  # 1000 / 360
    if abs(fs - 360.0) > 1e-9:
        from fractions import Fraction
        fr = Fraction(FS_HZ / fs).limit_denominator(1000)
        up, down = fr.numerator, fr.denominator
    x = np.stack([resample_poly(np.asarray(rec.p_signal[:, c], dtype=float), up, down,
                                padtype="line") for c in range(rec.p_signal.shape[1])], axis=1)
    n = x.shape[0] if seconds is None else min(x.shape[0], int(seconds * FS_HZ))
    x = x[:n]
    samp = np.round(np.asarray(ann.sample, dtype=float) * FS_HZ / fs).astype(np.int64)
    sym = [str(v) for v in ann.symbol]
    keep = [i for i, v in enumerate(sym) if v in BEAT_SYMBOLS and samp[i] < n]
    af: list[tuple[int, int]] = []
    start = None
    for i, v in enumerate(sym):
        if v != "+":
            continue
        rhythm = str(ann.aux_note[i]).strip("\x00 ")
        if start is not None:
            af.append((start, int(samp[i])))
            start = None
        if rhythm in ("(AFIB", "(AFL"):
            start = int(samp[i])
    if start is not None:
        af.append((start, n))
    af = [(a, min(b, n)) for a, b in af if a < n]
    return {"x": x, "ref": samp[keep], "sym": np.asarray([sym[i] for i in keep]),
            "af": af, "leads": [str(v) for v in rec.sig_name], "seconds": n / FS_HZ}


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


def _match_arrays(ref: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each reference beat the matched detection index (-1: missed); matched flags of dets."""
    pairs = match_beats(ref, peaks, FS_HZ)
    ref_to_det = np.full(len(ref), -1, dtype=np.int64)
    det_used = np.zeros(len(peaks), dtype=bool)
    for i, j in pairs:
        ref_to_det[i] = j
        det_used[j] = True
    return ref_to_det, det_used


def evaluate(ref: np.ndarray, sym: np.ndarray, af: list[tuple[int, int]], peaks: np.ndarray,
             decisions: np.ndarray | None) -> dict[str, Any]:
    """Raw per-record outcome: per-beat match, delays, peak errors, FPs (also inside AF)."""
    ref_to_det, det_used = _match_arrays(ref, peaks)
    hit = ref_to_det >= 0
    out: dict[str, Any] = {"tp": int(hit.sum()), "fn": int((~hit).sum()),
                           "fp": int((~det_used).sum())}
    by_class: dict[str, list[int]] = {}
    for s_, h in zip(sym.tolist(), hit.tolist(), strict=True):
        c = by_class.setdefault(s_, [0, 0])
        c[0 if h else 1] += 1
    out["by_class"] = by_class
    in_af_ref = np.zeros(len(ref), dtype=bool)
    in_af_det = np.zeros(len(peaks), dtype=bool)
    for a, b in af:
        in_af_ref |= (ref >= a) & (ref < b)
        in_af_det |= (peaks >= a) & (peaks < b)
    out["af"] = {"tp": int((hit & in_af_ref).sum()), "fn": int((~hit & in_af_ref).sum()),
                 "fp": int((~det_used & in_af_det).sum()),
                 "seconds": round(sum(b - a for a, b in af) / FS_HZ, 1)}
    if decisions is not None:
        j = ref_to_det[hit]
        out["delay_ms"] = ((decisions[j] - ref[hit]) * 1000.0 / FS_HZ).round(1).tolist()
        out["peak_err_ms"] = ((peaks[j] - ref[hit]) * 1000.0 / FS_HZ).round(1).tolist()
        out["delay_sym"] = sym[hit].tolist()
    return out


def run_existing(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, p = detect_r_waves_with_peaks(x, FS_HZ)
    return np.asarray(d, dtype=np.int64), np.asarray(p, dtype=np.int64)


def run_fast(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, p = detect_fast_r_waves(x, FS_HZ)
    return np.asarray(d, dtype=np.int64), np.asarray(p, dtype=np.int64)


def run_two(x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, p = detect_two_lead_r_waves(x0, x1, FS_HZ)
    return np.asarray(d, dtype=np.int64), np.asarray(p, dtype=np.int64)


def synth_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS synthetic noise at 1 kHz.

    ``em`` (electrode-motion-like): a leaky random walk (white noise integrated with a
    0.05 Hz leak, i.e. 1/f^2 baseline wander) plus bursts of 0.5-3 Hz band-limited
    noise, each burst 0.5-4 s long with a Hann envelope and a burst starting on average
    every 4 s; walk and bursts are each scaled to unit RMS and the bursts weighted 2:1.
    ``ma`` (muscle-like): white noise through a 4th-order Butterworth band-pass 20-150 Hz.
    """
    from scipy import signal

    if kind == "ma":
        sos = signal.butter(4, [20.0, 150.0], btype="bandpass", fs=FS_HZ, output="sos")
        v = signal.sosfilt(sos, rng.standard_normal(n))
    else:
        leak = np.exp(-2 * np.pi * 0.05 / FS_HZ)
        walk = signal.lfilter([1.0], [1.0, -leak], rng.standard_normal(n))
        walk -= walk.mean()
        walk /= max(float(np.std(walk)), 1e-12)
        sos = signal.butter(2, [0.5, 3.0], btype="bandpass", fs=FS_HZ, output="sos")
        band = signal.sosfilt(sos, rng.standard_normal(n))
        env = np.zeros(n)
        t = int(rng.uniform(0, 4 * FS_HZ))
        while t < n:
            length = int(rng.uniform(0.5, 4.0) * FS_HZ)
            seg = np.hanning(length)[: max(0, min(length, n - t))]
            env[t:t + seg.size] = np.maximum(env[t:t + seg.size], seg)
            t += length + int(rng.exponential(4.0) * FS_HZ)
        bursts = band * env
        bursts /= max(float(np.std(bursts)), 1e-12)
        v = walk + 2.0 * bursts
    return v / max(float(np.std(v)), 1e-12)


def add_noise(x: np.ndarray, ref: np.ndarray, kind: str, snr_db: float, seed: int) -> np.ndarray:
    """Add ``kind`` noise at ``snr_db``: signal power = (median QRS peak-to-peak)^2 / 8 per lead
    (as in the MIT-BIH Noise Stress Test), noise RMS scaled to match; independent per lead."""
    rng = np.random.default_rng(seed)
    y = x.copy()
    for c in range(x.shape[1]):
        pp = [np.ptp(x[max(0, r - 50): r + 50, c]) for r in ref.tolist()]
        s_pow = (float(np.median(pp)) if pp else 1.0) ** 2 / 8.0
        rms = np.sqrt(s_pow / 10 ** (snr_db / 10.0))
        y[:, c] = x[:, c] + rms * synth_noise(kind, x.shape[0], rng)
    return y


def bench_one_record(args: tuple[str, str, float | None, bool]) -> dict[str, Any]:
    """Every detector on one record (run in a worker process)."""
    data_dir, record, seconds, with_peers = args
    logging.disable(logging.WARNING)
    rec = load_mitdb(Path(data_dir), record, seconds)
    x, ref, sym, af = rec["x"], rec["ref"], rec["sym"], rec["af"]
    res: dict[str, Any] = {"record": record, "beats": int(len(ref)), "leads": rec["leads"],
                           "seconds": rec["seconds"], "detectors": {}, "noise": {},
                           "notes": []}
    runs: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
        "fast 1-lead": lambda v: run_fast(v[:, 0]),
        "fast 2-lead": lambda v: run_two(v[:, 0], v[:, 1]),
        "RWaveDetector": lambda v: run_existing(v[:, 0]),
    }
    for name, fn in runs.items():
        t0 = time.perf_counter()
        dec, peaks = fn(x)
        out = evaluate(ref, sym, af, peaks, dec)
        out["cpu_s"] = round(time.perf_counter() - t0, 1)
        res["detectors"][name] = out
    peers = peer_detectors(res["notes"]) if with_peers else {}
    for name, pfn in peers.items():
        t0 = time.perf_counter()
        det = run_peer(name, pfn, x[:, 0], FS_HZ, res["notes"])
        if det is None:
            continue
        out = evaluate(ref, sym, af, det, None)
        out["cpu_s"] = round(time.perf_counter() - t0, 1)
        res["detectors"][name] = out
    # Noise stress on the first NOISE_SECONDS.
    n = min(x.shape[0], int(NOISE_SECONDS * FS_HZ))
    xs, keep = x[:n], ref < n
    rs, ss = ref[keep], sym[keep]
    nk = peers.get("neurokit2 ecg_peaks")
    for kind in ("em", "ma"):
        for snr in NOISE_SNRS_DB:
            key = f"{kind} {snr:.0f} dB"
            y = add_noise(xs, rs, kind, snr, seed=int(record) * 10 + (kind == "ma"))
            row: dict[str, Any] = {}
            for name, fn in runs.items():
                dec, peaks = fn(y)
                o = evaluate(rs, ss, [], peaks, None)
                row[name] = {k: o[k] for k in ("tp", "fn", "fp")}
            if nk is not None:
                det = run_peer("neurokit2 ecg_peaks", nk, y[:, 0], FS_HZ, res["notes"])
                if det is not None:
                    o = evaluate(rs, ss, [], det, None)
                    row["neurokit2 ecg_peaks"] = {k: o[k] for k in ("tp", "fn", "fp")}
            res["noise"][key] = row
    print(f"record {record}: " + ", ".join(
        f"{k} F1 {200 * v['tp'] / max(1, 2 * v['tp'] + v['fn'] + v['fp']):.2f}"
        for k, v in res["detectors"].items() if k in CAUSAL), file=sys.stderr, flush=True)
    return res


def _prf(tp: int, fn: int, fp: int) -> dict[str, Any]:
    return {"tp": tp, "fn": fn, "fp": fp, "se_pct": round(100 * tp / max(1, tp + fn), 3),
            "ppv_pct": round(100 * tp / max(1, tp + fp), 3),
            "f1_pct": round(200 * tp / max(1, 2 * tp + fn + fp), 3)}


def _dist(v: list[float]) -> dict[str, Any]:
    if not v:
        return {}
    d = np.asarray(v, dtype=float)
    return {"n": int(d.size), "median": round(float(np.median(d)), 1),
            **{f"p{q}": round(float(np.percentile(d, q)), 1) for q in (1, 5, 95, 99)},
            "min": round(float(d.min()), 1), "max": round(float(d.max()), 1),
            "frac_under_0ms": round(float(np.mean(d < 0)), 4)}


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the per-record outcomes: overall, split, per class, AF, delays, noise."""
    names: list[str] = []
    for r in results:
        names += [k for k in r["detectors"] if k not in names]
    pooled: dict[str, Any] = {}
    split: dict[str, dict[str, Any]] = {}
    per_class: dict[str, dict[str, Any]] = {}
    af: dict[str, Any] = {}
    delays: dict[str, Any] = {}
    per_record: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = [r for r in results if name in r["detectors"]]
        tot = [sum(r["detectors"][name][k] for r in rows) for k in ("tp", "fn", "fp")]
        pooled[name] = _prf(*tot)
        for part in ("tuning (odd)", "held-out (even)"):
            pr = [r for r in rows if tuning_split(r["record"]) == part]
            split.setdefault(part, {})[name] = _prf(
                *[sum(r["detectors"][name][k] for r in pr) for k in ("tp", "fn", "fp")])
        cls: dict[str, list[int]] = {}
        for r in rows:
            for s_, (h, m) in r["detectors"][name]["by_class"].items():
                c = cls.setdefault(s_, [0, 0])
                c[0] += h
                c[1] += m
        per_class[name] = {s_: {"n": h + m, "se_pct": round(100 * h / max(1, h + m), 2)}
                           for s_, (h, m) in sorted(cls.items(), key=lambda kv: -sum(kv[1]))}
        a = [sum(r["detectors"][name]["af"][k] for r in rows) for k in ("tp", "fn", "fp")]
        af[name] = {**_prf(*a), "records": [r["record"] for r in rows
                                            if r["detectors"][name]["af"]["seconds"] > 0],
                    "seconds": round(sum(r["detectors"][name]["af"]["seconds"] for r in rows), 1)}
        for r in rows:
            per_record.setdefault(r["record"], {"beats": r["beats"]})[name] = _prf(
                *[r["detectors"][name][k] for k in ("tp", "fn", "fp")])
        if "delay_ms" in rows[0]["detectors"][name]:
            dl: list[float] = []
            pe: list[float] = []
            sy: list[str] = []
            for r in rows:
                o = r["detectors"][name]
                dl += o["delay_ms"]
                pe += o["peak_err_ms"]
                sy += o["delay_sym"]
            dla, pea, sya = np.asarray(dl), np.asarray(pe), np.asarray(sy)
            by = {"all": {"delay": _dist(dl), "peak_err": _dist(pe)}}
            for s_ in ("N", "V", "/", "F", "L", "R", "A", "f", "j", "a", "E", "e", "J", "Q", "S"):
                m = sya == s_
                if m.any():
                    by[s_] = {"delay": _dist(dla[m].tolist()), "peak_err": _dist(pea[m].tolist())}
            delays[name] = by
    noise: dict[str, dict[str, Any]] = {}
    for r in results:
        for key, row in r["noise"].items():
            for name, v in row.items():
                acc = noise.setdefault(key, {}).setdefault(name, [0, 0, 0])
                acc[0] += v["tp"]
                acc[1] += v["fn"]
                acc[2] += v["fp"]
    noise_out = {k: {n: _prf(*v) for n, v in row.items()} for k, row in noise.items()}
    notes = sorted({s_ for r in results for s_ in r["notes"]})
    return {"pooled": pooled, "split": split, "per_class": per_class, "af": af,
            "delays": delays, "per_record": per_record, "noise": noise_out, "notes": notes,
            "records": [r["record"] for r in results],
            "seconds": round(sum(r["seconds"] for r in results), 1)}


def bench_r_waves(data_dir: Path, records: list[str], with_peers: bool,
                  seconds: float | None, workers: int) -> dict[str, Any]:
    jobs = [(str(data_dir), rec, seconds, with_peers) for rec in records]
    if workers > 1:
        with Pool(workers) as pool:
            results = pool.map(bench_one_record, jobs, chunksize=1)
    else:
        results = [bench_one_record(j) for j in jobs]
    out = aggregate(results)
    out["match_window_ms"] = MATCH_WINDOW_MS
    out["whole_records"] = seconds is None
    out["decision_delay_bound_ms"] = {
        "fast 1-lead": round(FastRWaveDetector(FS_HZ).decision_delay_bound_ms, 1),
        "fast 2-lead": round(TwoLeadRWaveDetector(FS_HZ).decision_delay_bound_ms, 1),
        "RWaveDetector": round(RWaveDetector(FS_HZ).decision_delay_bound_ms, 1)}
    return out


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


def _row(name: str, v: dict[str, Any]) -> str:
    return (f"| {name} | {v['se_pct']:.2f} | {v['ppv_pct']:.2f} | {v['f1_pct']:.2f} | "
            f"{v['tp']} | {v['fn']} | {v['fp']} |")


_HEAD = "| detector | Se % | +P % | F1 % | TP | FN | FP |\n|---|---|---|---|---|---|---|"


def _d(v: dict[str, Any]) -> str:
    return (f"{v['median']} | {v['p5']} | {v['p95']} | {v['p99']} | {v['max']}" if v
            else "- | - | - | - | -")


def to_markdown(r: dict[str, Any], n: dict[str, Any], meta: dict[str, str]) -> str:
    names = list(r["pooled"])
    lines = ["# Trigger detector benchmark", "",
             f"Generated by `python benchmarks/bench_detectors.py{meta.get('args', '')}` on "
             f"{meta['date']}; load before the run: `{meta['uptime_before']}`; after: "
             f"`{meta['uptime_after']}`; wall time {meta['wall_s']} s with {meta['workers']} "
             "worker processes.", "",
             f"MIT-BIH Arrhythmia, {len(r['records'])} records ({', '.join(r['records'])}), "
             f"{'whole records' if r['whole_records'] else 'first ' + str(QUICK_SECONDS) + ' s'}"
             f" ({r['seconds'] / 3600:.1f} h), both channels resampled to 1 kHz as "
             "`iabp.sim.records.read_record` does; reference = beat annotations "
             f"(`{''.join(sorted(BEAT_SYMBOLS))}`); one-to-one matching within "
             f"{r['match_window_ms']:.0f} ms of each detector's R-peak estimate. Causal: "
             "`fast 1-lead` (`FastRWaveDetector`, channel 0), `fast 2-lead` "
             "(`TwoLeadRWaveDetector`, both channels), `RWaveDetector` (existing, channel 0). "
             "Peers run offline on channel 0 of the whole 1 kHz record (no delay: `-`).", "",
             "Decision delay = decision sample minus annotated R peak (negative: decided on the "
             "up-slope, before the annotated peak). Peak error = estimated R peak minus annotated "
             "R peak. `decision_delay_bound_ms` (estimated peak -> decision, by construction): "
             + ", ".join(f"{k} {v} ms" for k, v in r["decision_delay_bound_ms"].items()) + ".",
             "", "## Pooled", "", _HEAD]
    lines += [_row(k, v) for k, v in r["pooled"].items()]
    lines += ["", "## Tuning split", "",
              "The fast detectors' constants were chosen on the odd-numbered records only; the "
              "even-numbered records were not looked at while tuning.", ""]
    for part, rows in r["split"].items():
        lines += [f"### {part}", "", _HEAD] + [_row(k, v) for k, v in rows.items()] + [""]
    lines += ["## Decision delay and peak error per beat class (causal detectors, ms)", "",
              "| detector | class | n | delay median | p5 | p95 | p99 | max | "
              "before peak % | peak err median | p5 | p95 | p99 | max |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, by in r["delays"].items():
        for c, v in by.items():
            dd = v["delay"]
            lines.append(f"| {name} | {c} | {dd['n']} | {_d(dd)} | "
                         f"{100 * dd['frac_under_0ms']:.1f} | {_d(v['peak_err'])} |")
    lines += ["", "## Sensitivity per beat class (%)", "",
              "| class | n | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    classes = list(r["per_class"][names[0]])
    for c in classes:
        cells = [str(r["per_class"][k].get(c, {}).get("se_pct", "-")) for k in names]
        lines.append(f"| {c} | {r['per_class'][names[0]][c]['n']} | " + " | ".join(cells) + " |")
    a0 = r["af"][names[0]]
    lines += ["", f"## Atrial fibrillation / flutter segments ({a0['seconds']} s in records "
              f"{', '.join(a0['records'])}; beats and detections inside `(AFIB`/`(AFL` episodes)",
              "", _HEAD] + [_row(k, v) for k, v in r["af"].items()]
    lines += ["", "## Noise stress (F1 %, first "
              f"{NOISE_SECONDS:.0f} s of every record)", "",
              "Synthetic noise added to both leads (independent realisations), SNR = QRS power "
              "((median peak-to-peak)^2 / 8, as in the MIT-BIH NST) over noise power. `em`: "
              "electrode-motion-like, a leaky random walk (0.05 Hz leak) plus 0.5-3 Hz band-limited "
              "bursts of 0.5-4 s under Hann envelopes (one every ~4 s), bursts weighted 2:1; `ma`: "
              "muscle-like, white noise band-passed 20-150 Hz (4th-order Butterworth). Seeded "
              "by record number.", "",
              "| noise | " + " | ".join(r["noise"][next(iter(r["noise"]))].keys()) + " |",
              "|---|" + "---|" * len(r["noise"][next(iter(r["noise"]))])] if r["noise"] else []
    for key, row in r["noise"].items():
        lines.append(f"| {key} | " + " | ".join(
            f"{v['f1_pct']:.2f} (FN {v['fn']}, FP {v['fp']})" for v in row.values()) + " |")
    lines += ["", "## Worst records (fast 2-lead, fast 1-lead, by F1)", ""]
    for name in ("fast 2-lead", "fast 1-lead"):
        worst = sorted(r["per_record"].items(), key=lambda kv: kv[1].get(name, {}).get("f1_pct", 0))
        lines += [f"{name}: " + ", ".join(f"{k} {v[name]['f1_pct']:.2f} (FN {v[name]['fn']}, "
                                          f"FP {v[name]['fp']})" for k, v in worst[:8]), ""]
    lines += ["## Per record (F1 %, FN/FP)", "",
              "| record | beats | split | " + " | ".join(names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for rec, v in r["per_record"].items():
        cells = [f"{v[k]['f1_pct']:.2f} ({v[k]['fn']}/{v[k]['fp']})" if k in v else "-"
                 for k in names]
        lines.append(f"| {rec} | {v['beats']} | {tuning_split(rec).split()[0]} | "
                     + " | ".join(cells) + " |")
    if n:
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
        lines += ["", "## Notes", ""] + [f"- {s_}" for s_ in r["notes"]]
    return "\n".join(lines) + "\n"


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "n/a"


def default_data_dir() -> Path:
    env = os.environ.get("IABP_PHYSIONET_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "physionet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--records", nargs="*", default=None,
                        help="MIT-BIH record names (default: every annotated record found)")
    parser.add_argument("--quick", action="store_true",
                        help=f"records {', '.join(QUICK_RECORDS)}, first {QUICK_SECONDS:.0f} s "
                        "(written to the temp dir unless --out is given)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-peers", action="store_true", help="benchmark ours only")
    parser.add_argument("--no-notch", action="store_true", help="skip the dicrotic-notch part")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the Markdown from the JSON next to --out, without running")
    args = parser.parse_args(argv)
    out = args.out or (Path(tempfile.gettempdir()) / "detectors_quick.md" if args.quick
                       else REPO_ROOT / "benchmarks/results" / "detectors.md")
    if args.render_only:
        saved = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        out.write_text(to_markdown(saved["r_wave"], saved["dicrotic_notch"], saved["meta"]),
                       encoding="utf-8")
        return 0
    logging.disable(logging.WARNING)
    mitdb = args.data_dir / "mitdb"
    if not mitdb.is_dir():
        print(f"no MIT-BIH data under {mitdb}", file=sys.stderr)
        return 2
    records = args.records or (list(QUICK_RECORDS) if args.quick
                               else sorted(p.stem for p in mitdb.glob("*.atr")))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "uptime_before": _uptime(),
            "workers": str(args.workers), "args": " " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:])}
    t0 = time.perf_counter()
    r = bench_r_waves(args.data_dir, records, with_peers=not args.no_peers,
                      seconds=QUICK_SECONDS if args.quick else None, workers=args.workers)
    n = {} if args.no_notch else bench_notches(args.data_dir)
    meta["wall_s"] = str(round(time.perf_counter() - t0))
    meta["uptime_after"] = _uptime()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_markdown(r, n, meta), encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps({"r_wave": r, "dicrotic_notch": n, "meta": meta}, indent=1) + "\n",
        encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
