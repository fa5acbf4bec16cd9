"""Rhythm benchmark: the closed loop on real recordings, judged by the REFERENCE annotations.

Run from the repository root::

    python -m benchmarks.bench_rhythms                 # whole records (30 min each), 2 processes
    python -m benchmarks.bench_rhythms --minutes 10    # the first 10 minutes of every record
    python -m benchmarks.bench_rhythms --write         # also write benchmarks/results/rhythms.{md,json}

Every development record is replayed through the project's own detectors and the verified
controller (:func:`iabp.sim.closed_loop.replay_record`): MIT-BIH records with the ECG trigger
at 1:1 and 1:2; the arterial-pressure records with the pressure trigger (and the ECG trigger)
at 1:1 and 1:2. The controller's inflate command is then judged beat by beat against the
**reference** beats, never against our own detections:

* helium is in the balloon from inflate command on + ``GAS_INFLATE_LAG_MIN_MS`` (20 ms) until
  deflate command + ``GAS_DEFLATE_MAX_MS`` (40 ms) (ASM-GAS, the worst case both ways);
* ejection of reference beat k spans ``[Q_k + PEP_k, Q_k + QS2_k)`` with ``Q_k`` the QRS
  onset = ``R_k`` - the Q-to-R time measured on THAT beat's waveform by
  :mod:`benchmarks.qrs_onset` (30 ms when it is unmeasurable), PEP = Weissler
  131 - 0.4 HR - ``PEP_TOL_MS`` (10 ms) and QS2 = 546 - 2.1 HR + ``QS2_TOL_MS`` (15 ms;
  Weissler measured both from Q onset), HR from the reference R-R
  that ENDED at beat k, that R-R clamped to the spec's supported range
  [``RR_MIN_MS``, ``RR_MAX_MS``] (334-1500 ms) so the regression is never extrapolated
  (the first beat of a run uses the R-R after it);
* the *previous strict* judge ends ejection at ``R_k + QS2_k`` (as before the spec moved to
  QRS onset); the *lenient* judge (the old one) also starts it at ``R_k + PEP_k``;
* beat k is *assisted* when helium lies in its diastole ``[end of its ejection, start of
  ejection of beat k+1)``; its augmentation time is the helium time inside that diastole.

MIT-BIH records are judged by the cardiologist annotations (``.atr``). The two
arterial-pressure records carry no reference beat annotations: their beats come from
``wfdb.processing.xqrs_detect`` run offline on the whole ECG (an independent, non-causal
detector, NOT a cardiologist reference); they are reported separately and never pooled.

The replays are slow (about 20-40x real time per core), so each is cached as a small
``.npz`` (inflation edges, detections) under ``--cache``; a re-run only judges.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from iabp.spec.assumptions import GAS_DEFLATE_MAX_MS, GAS_INFLATE_LAG_MIN_MS
from iabp.spec.timing import PEP_TOL_MS, QS2_TOL_MS, RR_MAX_MS, RR_MIN_MS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CACHE = Path("/tmp/iabp_bench_rhythms_cache")
DEFAULT_QR_MS = 30.0  #: Q-to-R time used when a beat's QRS onset is unmeasurable (ms)
WHOLE_RECORD_S = 1805.6  #: an MIT-BIH record: 650000 samples at 360 Hz

# -- rhythm classes of the development records (data README table + .atr rhythm labels) -------
AF_RECORDS = ("201", "202", "210", "219", "221", "222")
PACED_RECORDS = ("102", "104", "107")
PVC_RECORDS = ("106", "119", "200", "207", "208", "213", "214", "215", "223", "233")
BBB_RECORDS = ("109", "111", "124", "212", "231")  #: L or R bundle branch block majority beats
NOISY_RECORDS = ("105", "108", "203", "228")  #: heavy noise / artefact (README: 105; others held out)


def record_class(name: str) -> str:
    """Rhythm class of a development record, by the data README's table."""
    rec = Path(name).name
    if name.startswith("abp/"):
        return "pressure (xqrs-judged)"
    if rec in AF_RECORDS:
        return "AF/flutter"
    if rec in PACED_RECORDS:
        return "paced"
    if rec in PVC_RECORDS:
        return "PVC-heavy"
    if rec in BBB_RECORDS:
        return "BBB"
    if rec in NOISY_RECORDS:
        return "noisy"
    return "sinus"


# -- the judge (pure arithmetic on arrays; unit-tested in tests/sim/test_rhythm_judge.py) -----

#: The judges (name, start from R, end from R): "qrs" the strict one, Weissler's intervals
#: from the QRS onset with the spec's tolerances ([Q + PEP - 10, Q + QS2 + 15)); "qrs-end-r"
#: the strict judge as it was before the spec moved to QRS onset ([Q + PEP - 10, R + QS2),
#: stricter on inflation by the Q-to-R time minus 15 ms); "r" the lenient old one
#: ([R + PEP - 10, R + QS2)).
JUDGES: tuple[tuple[str, bool, bool], ...] = (
    ("qrs", False, False), ("qrs-end-r", False, True), ("r", True, True))


def helium_intervals(inflations: Sequence[tuple[int, int]], *,
                     lag_in_ms: int = GAS_INFLATE_LAG_MIN_MS,
                     lag_out_ms: int = GAS_DEFLATE_MAX_MS) -> IntArray:
    """Helium in the balloon for each (command on, command off) inflation: ``[on + 20, off + 40)``.

    Overlapping intervals (a re-inflation less than 20 ms after a deflation) are merged.
    """
    out: list[list[int]] = []
    for on, off in inflations:
        a, b = on + lag_in_ms, off + lag_out_ms
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def rr_before(r_ms: IntArray) -> FloatArray:
    """The R-R that ENDED at each beat (the first beat: the R-R after it)."""
    r = np.asarray(r_ms, dtype=np.float64)
    if r.size < 2:
        return np.full(r.size, 1000.0)
    d = np.diff(r)
    return np.concatenate(([d[0]], d))


def ejection_windows(r_ms: IntArray, qr_ms: FloatArray, *, from_r: bool = False,
                     end_from_r: bool | None = None, pep_tol_ms: float = PEP_TOL_MS,
                     qs2_tol_ms: float = QS2_TOL_MS) -> tuple[FloatArray, FloatArray]:
    """(start, end) of each reference beat's ejection (ms, float).

    start = Q + PEP - ``pep_tol_ms`` with Q = R - Q-to-R, the QRS onset (``from_r``: R + PEP -
    tolerance, the lenient judge); end = Q + QS2 + ``qs2_tol_ms`` (``end_from_r``, the
    default when ``from_r``: R + QS2, as the judge placed it before the spec moved to QRS
    onset). PEP and QS2 are Weissler's, measured by him from Q onset, at the rate of the R-R
    that ended at the beat, clamped to the spec's supported R-R range; the tolerances are the
    spec's (earliest start, latest end: the strict judge).
    """
    r = np.asarray(r_ms, dtype=np.float64)
    rr = np.clip(rr_before(r_ms), RR_MIN_MS, RR_MAX_MS)
    hr = 60000.0 / rr
    pep = 131.0 - 0.4 * hr - pep_tol_ms
    qs2 = 546.0 - 2.1 * hr
    onset = r if from_r else r - np.asarray(qr_ms, dtype=np.float64)
    if end_from_r is None:
        end_from_r = from_r
    end = r + qs2 if end_from_r else onset + qs2 + qs2_tol_ms
    return onset + pep, end


def overlap_ms(helium: IntArray, a: FloatArray, b: FloatArray) -> FloatArray:
    """Per window ``[a_k, b_k)``: total ms of helium inside it."""
    out = np.zeros(len(a))
    if helium.size == 0 or len(a) == 0:
        return out
    hs, he = helium[:, 0].astype(np.float64), helium[:, 1].astype(np.float64)
    for k, (lo, hi) in enumerate(zip(a, b, strict=True)):
        if hi <= lo:
            continue
        i0 = int(np.searchsorted(he, lo, side="right"))
        i1 = int(np.searchsorted(hs, hi, side="left"))
        if i1 > i0:
            s = np.minimum(he[i0:i1], hi) - np.maximum(hs[i0:i1], lo)
            out[k] = float(np.clip(s, 0.0, None).sum())
    return out


@dataclass
class BeatJudgement:
    """The judge's verdict, per reference beat."""

    r_ms: IntArray
    eject_start: FloatArray
    eject_end: FloatArray
    overlap: FloatArray  #: helium in this beat's ejection (ms)
    diastole_helium: FloatArray  #: helium in this beat's diastole (ms)

    @property
    def assisted(self) -> npt.NDArray[np.bool_]:
        return self.diastole_helium > 0


def judge_beats(r_ms: IntArray, qr_ms: FloatArray, inflations: Sequence[tuple[int, int]], *,
                from_r: bool = False, end_from_r: bool | None = None,
                end_ms: int | None = None) -> BeatJudgement:
    """Judge every reference beat against the inflate command's (on, off) intervals.

    ``end_ms``: the run's length; the last beat's diastole ends there (no next beat known).
    """
    r = np.asarray(r_ms, dtype=np.int64)
    he = helium_intervals(inflations)
    a, b = ejection_windows(r, qr_ms, from_r=from_r, end_from_r=end_from_r)
    ov = overlap_ms(he, a, b)
    last = float(end_ms) if end_ms is not None else (float(r[-1]) + 1000.0 if r.size else 0.0)
    d_end = np.concatenate((a[1:], [last])) if r.size else a
    dia = overlap_ms(he, b, d_end)
    return BeatJudgement(r, a, b, ov, dia)


def summarize(j: BeatJudgement, *, skip_before_ms: int = 0) -> dict[str, Any]:
    """Counts and percentiles of one judgement (beats with R before ``skip_before_ms`` left out)."""
    keep = j.r_ms >= skip_before_ms
    ov, dia = j.overlap[keep], j.diastole_helium[keep]
    n = int(keep.sum())
    hit = ov > 0
    assisted = dia > 0
    return {
        "beats": n,
        "beats_helium_in_ejection": int(hit.sum()),
        "pct_overlap": 100.0 * hit.sum() / n if n else 0.0,
        "worst_overlap_ms": float(ov.max()) if n else 0.0,
        "p99_overlap_ms": float(np.percentile(ov, 99)) if n else 0.0,
        "pct_assisted": 100.0 * assisted.sum() / n if n else 0.0,
        "mean_augmentation_ms": float(dia[assisted].mean()) if assisted.any() else 0.0,
        "overlap_sum_ms": float(ov.sum()),
    }


def pool_summaries(parts: Sequence[dict[str, Any]], overlaps: Sequence[FloatArray],
                   dias: Sequence[FloatArray]) -> dict[str, Any]:
    """One summary over several judged runs (percentiles over the pooled beats)."""
    ov = np.concatenate(overlaps) if overlaps else np.zeros(0)
    dia = np.concatenate(dias) if dias else np.zeros(0)
    n = ov.size
    assisted = dia > 0
    return {
        "runs": len(parts),
        "beats": int(n),
        "beats_helium_in_ejection": int((ov > 0).sum()),
        "pct_overlap": 100.0 * (ov > 0).sum() / n if n else 0.0,
        "worst_overlap_ms": float(ov.max()) if n else 0.0,
        "p99_overlap_ms": float(np.percentile(ov, 99)) if n else 0.0,
        "pct_assisted": 100.0 * assisted.sum() / n if n else 0.0,
        "mean_augmentation_ms": float(dia[assisted].mean()) if assisted.any() else 0.0,
    }


# -- replay (slow; cached) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    record: str  #: e.g. "mitdb/100"
    mode: str  #: "ecg" or "pressure"
    ratio: int
    seconds: float | None

    @property
    def key(self) -> str:
        return self.key_for(self.seconds)

    def key_for(self, seconds: float | None) -> str:
        s = "whole" if seconds is None else f"{int(seconds)}s"
        return f"{self.record.replace('/', '_')}_{self.mode}_1-{self.ratio}_{s}"

    def cached(self, cache: Path) -> Path | None:
        """A cached replay that covers this job: the same, or a LONGER one (the loop is
        causal, so the first minutes of a longer replay are exactly a shorter replay)."""
        own = cache / f"{self.key}.npz"
        if own.is_file():
            return own
        if self.seconds is None:
            return None
        longer = [cache / f"{self.key_for(None)}.npz"] + sorted(
            cache.glob(f"{self.record.replace('/', '_')}_{self.mode}_1-{self.ratio}_*s.npz"),
            key=lambda p: -int(p.stem.rsplit("_", 1)[1][:-1]))
        for p in longer:
            if p.is_file() and (p.stem.endswith("whole")
                                or int(p.stem.rsplit("_", 1)[1][:-1]) >= self.seconds):
                return p
        return None


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty_files() -> list[str]:
    try:
        out = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [ln[3:] for ln in out.splitlines() if ln.strip()]


def edges(x: npt.NDArray[np.bool_]) -> IntArray:
    """(start, end) of every run of True."""
    d = np.diff(np.concatenate(([0], x.astype(np.int8), [0])))
    return np.stack((np.flatnonzero(d == 1), np.flatnonzero(d == -1)), axis=1).astype(np.int64)


def run_job(job: Job, cache: Path) -> tuple[str, float, str]:
    """Replay one job into ``cache`` (skipped if cached). Returns (key, wall s, status)."""
    from iabp.sim.closed_loop import replay_record

    out = cache / f"{job.key}.npz"
    if job.cached(cache) is not None:
        return job.key, 0.0, "cached"
    t0, c0 = time.perf_counter(), time.process_time()
    tr = replay_record(job.record, mode=job.mode, ratio=job.ratio, seconds=job.seconds)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = tr.mode.astype(np.int64)
    mchg = np.flatnonzero(np.diff(np.concatenate(([-1], m))) != 0)
    achg = np.flatnonzero(np.diff(np.concatenate(([-1], tr.alarm_mask.astype(np.int64)))) != 0)
    tmp = cache / f"{job.key}.tmp.npz"
    np.savez_compressed(
        tmp, inflations=edges(tr.inflate_cmd), r_true=np.flatnonzero(tr.r_true),
        r_detected=np.flatnonzero(tr.r_detected), upstroke=np.flatnonzero(tr.upstroke),
        notch=np.flatnonzero(tr.notch), mode_idx=mchg, mode_val=m[mchg], alarm_idx=achg,
        alarm_val=tr.alarm_mask.astype(np.int64)[achg], duration_ms=tr.duration_ms,
        wall_s=wall, cpu_s=cpu, git_head=git_head(), when=_dt.datetime.now().isoformat())
    os.replace(tmp, out)
    return job.key, wall, f"ran {tr.duration_ms / 1000:.0f} s in {wall:.0f} s wall / {cpu:.0f} s CPU"


def _run_job_star(args: tuple[Job, Path]) -> tuple[str, float, str]:
    return run_job(*args)


def all_jobs(seconds: float | None, ratios: Sequence[int] = (1, 2)) -> list[Job]:
    from iabp.sim.records import available_records

    jobs: list[Job] = []
    for rec in available_records():
        modes = ("ecg",) if rec.startswith("mitdb/") else ("pressure", "ecg")
        for mode in modes:
            for ratio in ratios:
                jobs.append(Job(rec, mode, ratio, seconds))
    return jobs


def replay_all(jobs: Sequence[Job], cache: Path, procs: int) -> float:
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    todo = [(j, cache) for j in jobs if j.cached(cache) is None]
    print(f"{len(jobs)} runs, {len(jobs) - len(todo)} cached, {len(todo)} to replay on "
          f"{procs} processes", flush=True)
    if todo:
        with mp.get_context("fork").Pool(procs) as pool:
            for i, (key, _, status) in enumerate(pool.imap_unordered(_run_job_star, todo), 1):
                print(f"[{i}/{len(todo)} {time.perf_counter() - t0:6.0f} s] {key}: {status}",
                      flush=True)
    return time.perf_counter() - t0


# -- reference beats of a record ------------------------------------------------------------

START_MS = 1000  #: the operator presses START at 1 s (replay default); earlier beats are not judged
DETECT_WINDOW_MS = (-150, 250)  #: a detection this close to a reference R is that beat's decision
AF_LABELS = ("(AFIB", "(AFL")


@dataclass
class RefBeats:
    """A record's reference beats at 1 kHz with Q-to-R, class and rhythm label."""

    record: str
    r_ms: IntArray
    symbols: tuple[str, ...]
    qr_measured: FloatArray  #: NaN: unmeasurable
    rhythm: tuple[str, ...]  #: the .atr rhythm label in force at each beat ('' if none)
    reference: str  #: "atr" (cardiologist) or "xqrs" (offline detector, not a reference)

    @property
    def qr_used(self) -> FloatArray:
        return np.where(np.isfinite(self.qr_measured), self.qr_measured, DEFAULT_QR_MS)


def rhythm_labels(ann: Any, samples: IntArray) -> tuple[str, ...]:
    """The rhythm label (``aux_note`` of the last ``+`` annotation) in force at each sample."""
    idx = [i for i, s in enumerate(ann.symbol) if s == "+" and ann.aux_note[i]]
    at = np.asarray([ann.sample[i] for i in idx], dtype=np.int64)
    lab = [ann.aux_note[i].rstrip("\x00").strip() for i in idx]
    k = np.searchsorted(at, samples, side="right") - 1
    return tuple(lab[j] if j >= 0 else "" for j in k.tolist())


def ref_beats(record: str) -> RefBeats:
    """Reference beats: the ``.atr`` for MIT-BIH; ``xqrs`` on the ECG for the pressure records."""
    import wfdb

    from benchmarks.qrs_onset import data_dir, measure_record, qrs_onsets

    if record.startswith("mitdb/"):
        ro = measure_record(record)
        ann = wfdb.rdann(str(data_dir() / record), "atr")
        return RefBeats(record, ro.r_ms(), ro.symbols, ro.qr,
                        rhythm_labels(ann, ro.samples), "atr")
    from scipy.signal import resample_poly
    from wfdb import processing

    from iabp.sim.records import read_record

    rec = read_record(record)
    ecg = rec.ecg_mv
    xq = processing.XQRS(sig=resample_poly(ecg, 1, 4), fs=250)  # XQRS finds nothing at 1 kHz
    xq.detect(verbose=False)
    found = np.asarray(xq.qrs_inds, dtype=np.int64) * 4
    peaks = processing.correct_peaks(ecg, found, search_radius=60, smooth_window_size=20,
                                     peak_dir="compare")
    r = np.unique(np.asarray(peaks, dtype=np.int64))
    return RefBeats(record, r, tuple("N" for _ in r), qrs_onsets(ecg, 1000.0, r),
                    tuple("" for _ in r), "xqrs")


# -- judging cached runs -----------------------------------------------------------------------


def _cls_of_beat(rb: RefBeats, rec_cls: str) -> tuple[str, ...]:
    return tuple("AF/flutter segment" if lab in AF_LABELS else rec_cls for lab in rb.rhythm)


def judge_run(job: Job, rb: RefBeats, cache: Path) -> dict[str, Any]:
    """Judge one cached replay against the reference beats; per-beat arrays + summaries."""
    path = job.cached(cache)
    assert path is not None, job.key
    d = np.load(path)
    dur = int(d["duration_ms"]) if job.seconds is None else min(int(d["duration_ms"]),
                                                                 int(job.seconds * 1000))
    inf = [(int(a), min(int(b), dur)) for a, b in d["inflations"].tolist() if a < dur]
    if rb.reference == "atr":  # the replay's own reference R must be the annotation we judge by
        rt = d["r_true"]
        rt = rt[rt < dur]
        mine = rb.r_ms[rb.r_ms < dur]
        if not np.array_equal(rt, mine):
            raise RuntimeError(f"{job.key}: replay r_true differs from the .atr beats")
    keep = (rb.r_ms >= START_MS) & (rb.r_ms < dur)
    out: dict[str, Any] = {"job": asdict(job), "duration_ms": dur, "git_head": str(d["git_head"]),
                           "wall_s": float(d["wall_s"]), "cpu_s": float(d["cpu_s"]),
                           "replayed_ms": int(d["duration_ms"])}
    for judge, from_r, end_from_r in JUDGES:
        j = judge_beats(rb.r_ms, rb.qr_used, inf, from_r=from_r, end_from_r=end_from_r,
                        end_ms=dur)
        out[judge] = {"summary": summarize(_sub(j, keep)), "overlap": j.overlap[keep],
                      "dia": j.diastole_helium[keep], "start": j.eject_start[keep],
                      "end": j.eject_end[keep]}
    out["keep"] = keep
    det = d["r_detected"]
    r = rb.r_ms[keep]
    lo = np.searchsorted(det, r + DETECT_WINDOW_MS[0])
    hi = np.searchsorted(det, r + DETECT_WINDOW_MS[1])
    out["missed"] = int((hi == lo).sum())
    out["detections"] = int(((det >= START_MS) & (det < dur)).sum())
    out["mode_idx"], out["mode_val"] = d["mode_idx"], d["mode_val"]
    out["alarm_idx"], out["alarm_val"] = d["alarm_idx"], d["alarm_val"]
    out["inflations"], out["det"] = inf, det
    return out


def _sub(j: BeatJudgement, keep: npt.NDArray[np.bool_]) -> BeatJudgement:
    return BeatJudgement(j.r_ms[keep], j.eject_start[keep], j.eject_end[keep], j.overlap[keep],
                         j.diastole_helium[keep])


def _mode_time(run: dict[str, Any], dur: int) -> dict[str, float]:
    from iabp.spec.modes import Mode

    idx = [*run["mode_idx"].tolist(), dur]
    t: dict[str, float] = {}
    for a, b, m in zip(idx[:-1], idx[1:], run["mode_val"].tolist(), strict=False):
        a, b = max(a, START_MS), min(b, dur)
        if b > a:
            t[Mode(int(m)).name] = t.get(Mode(int(m)).name, 0) + (b - a)
    tot = max(1, dur - START_MS)
    return {k: round(100.0 * v / tot, 2) for k, v in t.items()}


def _alarm_onsets(run: dict[str, Any]) -> dict[str, int]:
    from iabp.spec.modes import Alarm

    prev = 0
    cnt: dict[str, int] = {}
    for v in run["alarm_val"].tolist():
        new = v & ~prev
        for a in Alarm:
            if new >> int(a) & 1:
                cnt[a.name] = cnt.get(a.name, 0) + 1
        prev = v
    return cnt


def beat_story(run: dict[str, Any], rb: RefBeats, k_kept: int, judge: str = "qrs") -> dict[str, Any]:
    """Everything about one judged beat an engineer needs to see why it overlapped."""
    idx = np.flatnonzero(run["keep"])[k_kept]
    r = int(rb.r_ms[idx])
    rr_b = int(r - rb.r_ms[idx - 1]) if idx > 0 else None
    rr_a = int(rb.r_ms[idx + 1] - r) if idx + 1 < rb.r_ms.size else None
    det = run["det"]
    lo, hi = np.searchsorted(det, [r + DETECT_WINDOW_MS[0], r + DETECT_WINDOW_MS[1]])
    dets = [int(x - r) for x in det[lo:hi]]
    prev_det = det[det < r + DETECT_WINDOW_MS[0]]
    a, b = float(run[judge]["start"][k_kept]), float(run[judge]["end"][k_kept])
    infl = [(on, off) for on, off in run["inflations"]
            if on + GAS_INFLATE_LAG_MIN_MS < b and off + GAS_DEFLATE_MAX_MS > a]
    from iabp.spec.modes import Mode

    mi = int(np.searchsorted(run["mode_idx"], r, side="right")) - 1
    why = []
    for on, _off in infl:
        why.append("late deflation (balloon already full at ejection start)"
                   if on + GAS_INFLATE_LAG_MIN_MS <= a else "early inflation (inflated during ejection)")
    return {
        "t_s": round(r / 1000.0, 3), "beat": rb.symbols[idx], "rhythm": rb.rhythm[idx],
        "rr_before_ms": rr_b, "rr_after_ms": rr_a,
        "qr_ms": None if not np.isfinite(rb.qr_measured[idx]) else round(float(rb.qr_measured[idx]), 1),
        "eject_ms_from_r": [round(a - r, 1), round(b - r, 1)],
        "detector_decided_ms_from_r": dets,
        "last_detection_before_ms_from_r": int(prev_det[-1] - r) if prev_det.size else None,
        "inflate_cmd_ms_from_r": [[on - r, off - r] for on, off in infl],
        "helium_ms_from_r": [[on + GAS_INFLATE_LAG_MIN_MS - r, off + GAS_DEFLATE_MAX_MS - r]
                             for on, off in infl],
        "overlap_ms": round(float(run[judge]["overlap"][k_kept]), 1),
        "mode": Mode(int(run["mode_val"][mi])).name if mi >= 0 else "?",
        "why": "; ".join(why),
    }


def _fmt(x: float, nd: int = 1) -> str:
    return f"{x:.{nd}f}"


def _row(name: str, s: dict[str, Any], extra: str = "") -> str:
    return (f"| {name} | {s['beats']} | {s['beats_helium_in_ejection']} | "
            f"{_fmt(s['pct_overlap'], 2)} | {_fmt(s['worst_overlap_ms'], 0)} | "
            f"{_fmt(s['p99_overlap_ms'], 0)} | {_fmt(s['pct_assisted'])} | "
            f"{_fmt(s['mean_augmentation_ms'], 0)} |{extra}")


HDR = ("| {what} | beats | beats with helium in ejection | % beats | worst overlap (ms) | "
       "p99 overlap (ms) | % assisted | mean augmentation (ms) |{extra}\n"
       "|---|---|---|---|---|---|---|---|{extra2}")


def uptime_load() -> str:
    try:
        return subprocess.run(["uptime"], text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(jobs: Sequence[Job], a: argparse.Namespace, replay_wall_s: float) -> int:
    from benchmarks.qrs_onset import class_table, measure_record, mitdb_records, table_md

    t0 = time.perf_counter()
    records = sorted({j.record for j in jobs})
    refs = {r: ref_beats(r) for r in records}
    runs: dict[str, dict[str, Any]] = {}
    for j in jobs:
        runs[j.key] = judge_run(j, refs[j.record], a.cache)
    judge_s = time.perf_counter() - t0
    minutes = "whole records" if a.minutes is None else f"the FIRST {a.minutes:g} MINUTES of every record"
    combos = sorted({(j.mode, j.ratio) for j in jobs})
    res: dict[str, Any] = {
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "git_head": git_head(), "uncommitted_files_at_report": len(git_dirty_files()),
        "uptime": uptime_load(), "window": minutes,
        "replay_heads": sorted({r["git_head"] for r in runs.values()}),
        "replay_wall_s_this_invocation": round(replay_wall_s, 1), "judge_wall_s": round(judge_s, 1),
        "replay_cpu_s_total": round(sum(r["cpu_s"] for r in runs.values()), 1),
        "replay_wall_s_total": round(sum(r["wall_s"] for r in runs.values()), 1),
        "replayed_s_total": round(sum(r["replayed_ms"] for r in runs.values()) / 1000, 1),
        "gas_model": {"helium_on_after_inflate_ms": GAS_INFLATE_LAG_MIN_MS,
                      "helium_off_after_deflate_ms": GAS_DEFLATE_MAX_MS},
        "ejection_model": ("[R - QR + PEP, R - QR + QS2 + 15); PEP = 131 - 0.4 HR - 10; "
                           "QS2 = 546 - 2.1 HR; "
                           f"HR from the R-R ending at the beat, clamped to [{RR_MIN_MS}, {RR_MAX_MS}] ms; "
                           f"QR per beat, {DEFAULT_QR_MS:g} ms when unmeasurable"),
        "pooled": {}, "per_class": {}, "per_rhythm_label": {}, "per_record": {}, "worst": [],
    }
    # per record
    for key, run in runs.items():
        j = Job(**run["job"])
        rb = refs[j.record]
        res["per_record"][key] = {
            "record": j.record, "mode": j.mode, "ratio": j.ratio, "class": record_class(j.record),
            "reference": rb.reference, "judged_ms": run["duration_ms"],
            "qrs": run["qrs"]["summary"], "qrs-end-r": run["qrs-end-r"]["summary"],
            "r": run["r"]["summary"],
            "missed_reference_beats": run["missed"], "detections": run["detections"],
            "qr_unmeasurable": int((~np.isfinite(rb.qr_measured[run["keep"]])).sum()),
            "mode_time_pct": _mode_time(run, run["duration_ms"]), "alarm_onsets": _alarm_onsets(run),
            "replay_wall_s": round(run["wall_s"], 1), "replay_cpu_s": round(run["cpu_s"], 1)}
    # pooled / per class / per rhythm label (reference-annotated records only)
    for mode, ratio in combos:
        sel = [(k, r) for k, r in runs.items()
               if r["job"]["mode"] == mode and r["job"]["ratio"] == ratio]
        for judge, _, _ in JUDGES:
            ref = [(k, r) for k, r in sel if refs[r["job"]["record"]].reference == "atr"]
            tag = f"{mode} 1:{ratio} {judge}"
            if ref:
                res["pooled"][tag] = pool_summaries([r[judge]["summary"] for _, r in ref],
                                                    [r[judge]["overlap"] for _, r in ref],
                                                    [r[judge]["dia"] for _, r in ref])
            classes: dict[str, tuple[list[Any], list[FloatArray], list[FloatArray]]] = {}
            labels: dict[str, tuple[list[Any], list[FloatArray], list[FloatArray]]] = {}
            for _, r in sel:
                rec = r["job"]["record"]
                c = record_class(rec)
                e = classes.setdefault(c, ([], [], []))
                e[0].append(1)
                e[1].append(r[judge]["overlap"])
                e[2].append(r[judge]["dia"])
                rb = refs[rec]
                kept = np.flatnonzero(r["keep"])
                beat_cls = np.array(_cls_of_beat(rb, c))[kept] if kept.size else np.zeros(0, str)
                if rb.reference == "atr":
                    af = beat_cls == "AF/flutter segment"
                    if af.any():
                        e = classes.setdefault("AF/flutter segments (any record, by .atr label)",
                                               ([], [], []))
                        e[0].append(1)
                        e[1].append(r[judge]["overlap"][af])
                        e[2].append(r[judge]["dia"][af])
                    lab = np.array(rb.rhythm)[kept]
                    for lb in sorted(set(lab.tolist())):
                        m = lab == lb
                        e = labels.setdefault(lb or "(none)", ([], [], []))
                        e[0].append(1)
                        e[1].append(r[judge]["overlap"][m])
                        e[2].append(r[judge]["dia"][m])
            res["per_class"][tag] = {c: pool_summaries(*v) for c, v in sorted(classes.items())}
            res["per_rhythm_label"][tag] = {c: pool_summaries(*v) for c, v in sorted(labels.items())}
    # worst runs: total helium-in-ejection time, strict judge, reference-annotated records
    ranked = sorted((k for k in runs if refs[runs[k]["job"]["record"]].reference == "atr"),
                    key=lambda k: (-runs[k]["qrs"]["summary"]["overlap_sum_ms"],
                                   -runs[k]["qrs"]["summary"]["beats_helium_in_ejection"]))
    worst_records: list[str] = []
    for k in ranked:
        rec = runs[k]["job"]["record"]
        if rec in worst_records or runs[k]["qrs"]["summary"]["overlap_sum_ms"] <= 0:
            continue
        worst_records.append(rec)
        if len(worst_records) == 5:
            break
    for rec in worst_records:
        for k in ranked:
            run = runs[k]
            if run["job"]["record"] != rec:
                continue
            ov = run["qrs"]["overlap"]
            top = [int(i) for i in np.argsort(-ov, kind="stable")[:3] if ov[i] > 0]
            res["worst"].append({"run": k, "record": rec, "ratio": run["job"]["ratio"],
                                 "mode": run["job"]["mode"],
                                 "summary": run["qrs"]["summary"],
                                 "beats": [beat_story(run, refs[rec], i) for i in top]})
    # the single worst beats of the whole benchmark (1:1 runs; a 1:2 run repeats most of them)
    allb = [(float(r["qrs"]["overlap"][i]), k, int(i)) for k, r in runs.items()
            if refs[r["job"]["record"]].reference == "atr" and r["job"]["ratio"] == 1
            for i in np.flatnonzero(r["qrs"]["overlap"] > 0).tolist()]
    allb.sort(key=lambda x: -x[0])
    res["worst_beats"] = [{"run": k, **beat_story(runs[k], refs[runs[k]["job"]["record"]], i)}
                          for _, k, i in allb[:12]]
    # our detector's decision time per beat class (ECG 1:1 runs, reference-annotated records)
    from benchmarks.qrs_onset import CLASS_ORDER, beat_class

    delays: dict[str, list[float]] = {}
    misses: dict[str, int] = {}
    for run in runs.values():
        rb = refs[run["job"]["record"]]
        if run["job"]["mode"] != "ecg" or run["job"]["ratio"] != 1 or rb.reference != "atr":
            continue
        det = run["det"]
        for i in np.flatnonzero(run["keep"]).tolist():
            r = int(rb.r_ms[i])
            c = beat_class(rb.symbols[i])
            lo, hi = np.searchsorted(det, [r + DETECT_WINDOW_MS[0], r + DETECT_WINDOW_MS[1]])
            if hi > lo:
                delays.setdefault(c, []).append(float(det[lo] - r))
            else:
                misses[c] = misses.get(c, 0) + 1
    res["detector_delay"] = [
        {"class": c, "detected": len(delays.get(c, [])), "missed": misses.get(c, 0),
         "median_ms": float(np.median(delays[c])), "p5_ms": float(np.percentile(delays[c], 5)),
         "p95_ms": float(np.percentile(delays[c], 95)), "p99_ms": float(np.percentile(delays[c], 99)),
         "max_ms": float(np.max(delays[c]))}
        for c in CLASS_ORDER if delays.get(c)]
    # Q-to-R table (every development record, whole length)
    t1 = time.perf_counter()
    onsets = [measure_record(r) for r in mitdb_records()]
    res["qr_table"] = {w: class_table(onsets, w) for w in ("combined", "replay lead", "other lead")}
    res["qr_wall_s"] = round(time.perf_counter() - t1, 1)
    text = render_md(res, minutes, table_md)
    print(text)
    if a.write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "rhythms.md").write_text(text)
        (RESULTS / "rhythms.json").write_text(json.dumps(res, indent=1, default=_json_default) + "\n")
    return 0


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def render_md(res: dict[str, Any], minutes: str, table_md: Any) -> str:
    lines: list[str] = []
    lines.append("# Rhythm benchmark: the closed loop on real recordings, judged by the reference beats\n")
    lines.append(f"Generated by `python -m benchmarks.bench_rhythms` on {res['generated']}, git HEAD "
             f"`{res['git_head']}` (working tree had {res['uncommitted_files_at_report']} uncommitted "
             f"files), replays run at HEAD {', '.join(res['replay_heads'])}. "
             f"Load: `{res['uptime']}`.\n")
    lines.append(f"**Window: {minutes}** (from t = 0; beats from the START key at {START_MS} ms on). "
             f"Replays: {res['replayed_s_total']:.0f} s of recording, {res['replay_cpu_s_total']:.0f} s "
             f"CPU, {res['replay_wall_s_total']:.0f} s wall summed over runs (shared machine).\n")
    lines.append("Judge: helium from inflate command + 20 ms to deflate command + 40 ms (ASM-GAS); "
             f"ejection {res['ejection_model']}. **Strict** = Weissler's intervals from the QRS "
             "onset Q (R - measured Q-to-R of that beat), where he measured them, with the spec's "
             "tolerances: [Q + PEP - 10, Q + QS2 + 15); **previous strict** = [Q + PEP - 10, R + "
             "QS2) (the judge before the spec moved to QRS onset: stricter on inflation by Q-to-R "
             "- 15 ms); **lenient (old)** = [R + PEP - 10, R + QS2). Assisted beat: helium "
             "in its diastole [end of ejection, next beat's ejection start); augmentation = helium ms in "
             "that diastole. MIT-BIH beats: cardiologist `.atr` annotations. The `abp/` records "
             "have no reference annotations: judged by `wfdb` XQRS offline beats (NOT a reference), "
             "listed apart and never pooled.\n")
    lines.append("Record classes (data README table; first match wins): AF/flutter "
                 f"{', '.join(AF_RECORDS)}; paced {', '.join(PACED_RECORDS)}; PVC-heavy "
                 f"{', '.join(PVC_RECORDS)}; BBB (L/R majority) {', '.join(BBB_RECORDS)}; noisy 105 "
                 "(the only noisy development record); sinus: the rest. The row `AF/flutter "
                 "segments` pools the beats under an `(AFIB`/`(AFL` rhythm label in any record.\n")
    for judge, jname in (("qrs", "strict: ejection [Q + PEP - 10, Q + QS2 + 15)"),
                         ("qrs-end-r", "previous strict: ejection [Q + PEP - 10, R + QS2)"),
                         ("r", "lenient (old): ejection [R + PEP - 10, R + QS2)")):
        lines.append(f"## Pooled, MIT-BIH ({jname})\n")
        lines.append(HDR.format(what="run", extra="", extra2=""))
        for tag, s in res["pooled"].items():
            if tag.endswith(" " + judge):
                lines.append(_row(tag[: -len(judge) - 1], s))
        lines.append("")
    for tag in res["per_class"]:
        if not tag.endswith(" qrs"):
            continue
        base = tag[:-4]
        lines.append(f"## Per rhythm class, {base} (strict; lenient in the last column)\n")
        lines.append(HDR.format(what="class", extra=" lenient: beats with helium in ejection / worst |",
                            extra2="---|"))
        for c, s in res["per_class"][tag].items():
            s2 = res["per_class"].get(base + " r", {}).get(c)
            extra = f" {s2['beats_helium_in_ejection']} / {s2['worst_overlap_ms']:.0f} |" if s2 else " |"
            lines.append(_row(c, s, extra))
        lines.append("")
    for tag in res["per_rhythm_label"]:
        if not tag.endswith(" qrs"):
            continue
        lines.append(f"### By .atr rhythm label, {tag[:-4]} (strict)\n")
        lines.append(HDR.format(what="label", extra="", extra2=""))
        for c, s in res["per_rhythm_label"][tag].items():
            lines.append(_row(c, s))
        lines.append("")
    lines.append("## Per record (strict judge; lenient: beats with helium in ejection / worst ms)\n")
    lines.append("| record | class | run | beats | helium in ejection | % | worst | p99 | % assisted | "
             "mean aug (ms) | lenient | missed ref beats | % time pumping | alarm onsets |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for _, p in sorted(res["per_record"].items(), key=lambda kv: (kv[1]["record"], kv[1]["mode"],
                                                                   kv[1]["ratio"])):
        s, s2 = p["qrs"], p["r"]
        pump = sum(v for m, v in p["mode_time_pct"].items() if m in ("ECG_TRIGGER", "PRESSURE_TRIGGER"))
        al = ", ".join(f"{k} {v}" for k, v in sorted(p["alarm_onsets"].items())) or "-"
        ref = "" if p["reference"] == "atr" else " (xqrs)"
        lines.append(f"| {p['record']}{ref} | {p['class']} | {p['mode']} 1:{p['ratio']} | {s['beats']} | "
                 f"{s['beats_helium_in_ejection']} | {s['pct_overlap']:.2f} | {s['worst_overlap_ms']:.0f} | "
                 f"{s['p99_overlap_ms']:.0f} | {s['pct_assisted']:.1f} | {s['mean_augmentation_ms']:.0f} | "
                 f"{s2['beats_helium_in_ejection']} / {s2['worst_overlap_ms']:.0f} | "
                 f"{p['missed_reference_beats']} | {pump:.1f} | {al} |")
    lines.append("")
    lines.append("## The 5 worst records (most helium-ms in ejection, strict), their 3 worst beats\n")
    lines.append("Times in ms relative to the beat's reference R. `detector` = our R-wave detector's "
             "decisions within -150..+250 ms of R (none: missed); `prev det` = its last decision "
             "before that; `inflate cmd` = [on, off] of the command; helium = [on+20, off+40].\n")
    lines.append("| run | t (s) | beat / rhythm | R-R before / after | Q-to-R | ejection | detector | prev det | "
             "inflate cmd | overlap | mode | why |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w in res["worst"]:
        for b in w["beats"]:
            lines.append(f"| {w['run']} | {b['t_s']:.3f} | {b['beat']} {b['rhythm']} | {b['rr_before_ms']} / "
                     f"{b['rr_after_ms']} | {b['qr_ms']} | {b['eject_ms_from_r']} | "
                     f"{b['detector_decided_ms_from_r'] or 'none'} | {b['last_detection_before_ms_from_r']} | "
                     f"{b['inflate_cmd_ms_from_r']} | {b['overlap_ms']:.0f} | {b['mode']} | {b['why']} |")
    lines.append("")
    lines.append("## The 12 worst single beats of the benchmark (1:1 runs, strict judge)\n")
    lines.append("| run | t (s) | beat / rhythm | R-R before / after | Q-to-R | ejection | detector | prev det | "
                 "inflate cmd | overlap | mode | why |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in res.get("worst_beats", []):
        lines.append(f"| {b['run']} | {b['t_s']:.3f} | {b['beat']} {b['rhythm']} | {b['rr_before_ms']} / "
                     f"{b['rr_after_ms']} | {b['qr_ms']} | {b['eject_ms_from_r']} | "
                     f"{b['detector_decided_ms_from_r'] or 'none'} | {b['last_detection_before_ms_from_r']} | "
                     f"{b['inflate_cmd_ms_from_r']} | {b['overlap_ms']:.0f} | {b['mode']} | {b['why']} |")
    lines.append("")
    lines.append("## Our R-wave detector's decision time by beat class (ECG 1:1 runs, judged window)\n")
    lines.append("First decision within -150..+250 ms of the reference R, minus R (ms); negative = "
                 "before the annotated R (often a false report on noise).\n")
    lines.append("| beat class | detected | missed | p5 | median | p95 | p99 | max |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for d in res.get("detector_delay", []):
        lines.append(f"| {d['class']} | {d['detected']} | {d['missed']} | {d['p5_ms']:.0f} | "
                     f"{d['median_ms']:.0f} | {d['p95_ms']:.0f} | {d['p99_ms']:.0f} | {d['max_ms']:.0f} |")
    lines.append("")
    lines.append("## Q-to-R time (reference R minus QRS onset), every development MIT-BIH record, whole length\n")
    lines.append("Method: `benchmarks/qrs_onset.py` (docstring). `combined` (used by the strict judge, "
             "per beat) = the longer of the two leads' values over usable leads; also each lead alone. "
             "Times in ms; 360 Hz samples (2.8 ms steps). Sensitivity of the combined p99 "
             "(N / V / paced / L / R / F) to the method's two knobs: threshold 8 % (used) "
             "61 / 106 / 50 / 83 / 92 / 100; 5 %: 64 / 108 / 56 / 83 / 94 / 106; 15 %: "
             "53 / 88 / 56 / 78 / 78 / 83; quiet stretch 16 ms instead of 10: "
             "61 / 111 / 61 / 83 / 92 / 106 (`python -m benchmarks.qrs_onset --frac F --dwell D`).\n")
    for w, rows in res["qr_table"].items():
        lines.append(f"### {w}\n")
        lines.append(table_md(rows))
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=None,
                    help="replay only the first MINUTES of every record (default: whole records)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--replay-only", action="store_true")
    ap.add_argument("--ratios", type=int, nargs="+", default=[1, 2],
                    help="assist ratios to replay (default: 1 2; the done-when is judged at 1:1)")
    ap.add_argument("--records", nargs="*", default=None, help="only these records (e.g. mitdb/100)")
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/rhythms.{md,json}")
    a = ap.parse_args(argv)
    seconds = None if a.minutes is None else 60.0 * a.minutes
    jobs = all_jobs(seconds, a.ratios)
    if a.records:
        jobs = [j for j in jobs if j.record in a.records]
    # longest first, so the two processes finish together
    jobs.sort(key=lambda j: (j.record.startswith("abp/"), j.record))
    wall = replay_all(jobs, a.cache, a.procs)
    print(f"replay wall time {wall:.0f} s", flush=True)
    if a.replay_only:
        return 0
    return report(jobs, a, wall)


if __name__ == "__main__":
    sys.exit(main())
