"""QRS onset on the MIT-BIH reference beats: how long before the annotated R does the QRS start?

The spec models ejection from the R peak, but Weissler's pre-ejection period (PEP) is
measured from the ONSET of the QRS complex (Q onset). This module measures the
Q-to-R time (annotated reference beat minus QRS onset) on the recorded waveforms,
so the benchmark can place ejection at ``R - QR + PEP`` and the spec can state the
Q-to-R time as an assumption.

Method (per lead, on the original 360 Hz samples, no resampling):

1. band-pass 1-40 Hz (2nd-order Butterworth, zero-phase ``filtfilt``: no group delay, so the
   onset is not shifted; the zero-phase filter's pre-ringing spreads a QRS by only a
   few ms at the 8 % level used below);
2. slope magnitude ``s = |dx/dt|`` (central difference, mV/s);
3. the QRS maximum slope ``s_max`` = max of ``s`` within +-80 ms of the annotated beat
   (if it is under SNR_MIN = 8 x ``noise`` the lead is too noisy: unmeasurable);
   the threshold is ``max(FRAC x s_max, NOISE_K x noise)`` with FRAC = 0.08 and ``noise``
   the median slope over +-1 s around the beat (mostly baseline);
4. walking BACK from the annotated beat sample, the onset is the earliest sample at or
   above the threshold that is followed (going back) by at least DWELL_MS = 10 ms below it
   -- i.e. the start of the contiguous steep part that ends at the annotation; short dips
   under the threshold (a Q nadir, a notch in a bundle branch block complex) do not stop
   the walk;
5. **unmeasurable** (NaN) when: the beat is within 1 s of the record's ends; no such
   quiet stretch is found within BACK_MS = 200 ms before the beat; or the lead is too
   noisy (step 3).

The beat's Q-to-R time is the LONGEST of the two leads' measurable values (the global QRS
onset is the earliest onset in any lead), which is the conservative choice for the
ejection judge (ejection starts earlier) -- but only over leads whose QRS max slope is at
least REL_MIN = 0.3 of the better lead's: in a nearly isoelectric lead (V1 with a 0.1 mV
QRS) the "onset" found was noise 100-170 ms before the beat (seen on plots of 101, 106,
200, 209), so such a lead is not used for that beat. When both leads are usable but
disagree by more than LEAD_DISAGREE_MS = 40 ms (0-14 % of a record's beats; 112's V1 put
N beats' onsets at 180 ms, 208's MLII put a notched V beat's at 6 ms), the value closer to
the median of that beat class in that record is taken. Both leads alone are reported too.

FRAC = 0.08 was chosen by looking at plotted beats (``--plot``) of classes N (100), V (119),
F (208), paced / (102, 107), L (111), R (212): at 0.15 the onset falls on the nadir of a
small q wave of normal beats (10-15 ms too late); at 0.08 it sits where the waveform leaves
the baseline; at 0.05 it starts to wander into the PR segment on noisier beats.

Caveats, stated honestly:

* the MIT-BIH annotation is placed at the QRS's "major local extremum" by the annotators'
  convention, not always at the R peak: for some wide beats (LBBB, V, F) it sits on a later
  peak, which makes the Q-to-R time longer; that is the right quantity here because the
  replay (and the controller's R-wave detector) use the annotation as R;
* pacing spikes are largely filtered out at 360 Hz in these records; for paced beats the
  measured onset is the start of the paced QRS (the spike, if visible, can be 0-20 ms earlier);
* the onset is a slope-threshold estimate on a surface ECG with two leads (a 12-lead
  ECG would give earlier onsets); a few per cent of beats in noisy stretches will be
  off by tens of ms in either direction, which the p99 column shows.

Run::

    python -m benchmarks.qrs_onset                      # table over every development record
    python -m benchmarks.qrs_onset --plot 119 V         # plot 6 V beats of 119 to /tmp
    python -m benchmarks.qrs_onset --frac 0.15          # sensitivity to the threshold

Sensitivity (combined, p99 in ms, N / V / paced / L / R / F), measured 2026-12-01:
FRAC 0.08 (used) 61 / 106 / 50 / 83 / 92 / 100; FRAC 0.05: 64 / 108 / 56 / 83 / 94 / 106;
FRAC 0.15: 53 / 88 / 56 / 78 / 78 / 83; DWELL 16 ms: 61 / 111 / 61 / 83 / 92 / 106.
Medians move by at most 5 ms (N: 36 / 33 / 28 at FRAC 0.05 / 0.08 / 0.15).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, filtfilt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FRAC = 0.08  #: threshold, fraction of the QRS's maximum slope
NOISE_K = 3.0  #: threshold at least this multiple of the median (baseline) slope
SNR_MIN = 8.0  #: QRS max slope below this multiple of the median slope: lead too noisy
REL_MIN = 0.3  #: a lead whose QRS max slope is under this fraction of the best lead's is not used
LEAD_DISAGREE_MS = 40.0  #: two leads further apart than this: one of them measured noise
DWELL_MS = 10.0  #: quiet stretch (below threshold) that marks the baseline before the QRS
WIN_MS = 80.0  #: the QRS's maximum slope is searched within +- this of the annotation
BACK_MS = 200.0  #: longest Q-to-R time looked for
NOISE_WIN_MS = 1000.0  #: +- window of the median (baseline) slope
BEAT_SYMBOLS = "NLRBAaJSVrFejnE/fQ?"

#: beat classes reported (WFDB symbol -> class)
CLASS_OF: dict[str, str] = {
    "N": "N", "V": "V", "/": "paced /", "L": "L (LBBB)", "R": "R (RBBB)", "F": "F (fusion V+N)",
    "f": "f (fusion paced+N)", "A": "SVEB (A a J S)", "a": "SVEB (A a J S)",
    "J": "SVEB (A a J S)", "S": "SVEB (A a J S)",
}
CLASS_ORDER = ("N", "V", "paced /", "L (LBBB)", "R (RBBB)", "F (fusion V+N)",
               "f (fusion paced+N)", "SVEB (A a J S)", "other (j e E Q ? B r n)")


def beat_class(sym: str) -> str:
    return CLASS_OF.get(sym, "other (j e E Q ? B r n)")


def data_dir() -> Path:
    from iabp.sim.records import default_data_dir

    return default_data_dir()


def slope(x: FloatArray, fs: float) -> FloatArray:
    """``|d/dt|`` of the 1-40 Hz zero-phase band-passed signal (units per second)."""
    hi = min(40.0, 0.45 * fs)
    b, a = butter(2, [1.0 / (fs / 2), hi / (fs / 2)], "band")
    y = filtfilt(b, a, np.nan_to_num(np.asarray(x, dtype=np.float64)))
    return np.abs(np.gradient(y)) * fs


def qrs_onsets(x: FloatArray, fs: float, beats: IntArray, *, frac: float = FRAC,
               dwell_ms: float = DWELL_MS) -> FloatArray:
    """Q-to-R time (ms) of each beat at sample ``beats[k]`` of lead ``x``; NaN if unmeasurable."""
    return qrs_onsets_snr(x, fs, beats, frac=frac, dwell_ms=dwell_ms)[0]


def qrs_onsets_snr(x: FloatArray, fs: float, beats: IntArray, *, frac: float = FRAC,
                   dwell_ms: float = DWELL_MS) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(Q-to-R ms, QRS max slope, median slope) of each beat of lead ``x`` (NaN: unmeasurable)."""
    s = slope(x, fs)
    n = s.size
    w = int(round(WIN_MS * fs / 1000))
    dw = max(1, int(round(dwell_ms * fs / 1000)))
    bk = int(round(BACK_MS * fs / 1000))
    nw = int(round(NOISE_WIN_MS * fs / 1000))
    out = np.full(len(beats), np.nan)
    smaxs = np.full(len(beats), np.nan)
    noises = np.full(len(beats), np.nan)
    for k, r in enumerate(np.asarray(beats, dtype=np.int64).tolist()):
        if r - nw < 0 or r + nw >= n:
            continue
        noise = float(np.median(s[r - nw:r + nw]))
        smax = float(s[r - w:r + w + 1].max())
        smaxs[k], noises[k] = smax, noise
        if noise > 0 and smax < SNR_MIN * noise:
            continue
        thr = max(frac * smax, NOISE_K * noise)
        seg = s[r - bk - dw:r + 1][::-1] >= thr  # seg[j]: sample r - j
        last_above = -1
        run = 0
        found = False
        for j, above in enumerate(seg.tolist()):
            if above:
                last_above, run = j, 0
            else:
                run += 1
                if last_above >= 0 and run >= dw:
                    found = True
                    break
        if found and last_above <= bk:
            out[k] = last_above * 1000.0 / fs
    return out, smaxs, noises


@dataclass(frozen=True)
class RecordOnsets:
    """One record's reference beats and their Q-to-R times."""

    record: str  #: e.g. "mitdb/100"
    fs: float
    samples: IntArray  #: reference beat samples at ``fs``
    symbols: tuple[str, ...]
    leads: tuple[str, ...]
    qr_lead: FloatArray  #: (beats, leads) Q-to-R per lead (ms, NaN unmeasurable)
    smax_lead: FloatArray  #: (beats, leads) the QRS's maximum slope per lead
    replay_lead: int  #: the lead the replay feeds the R-wave detector

    @property
    def qr(self) -> FloatArray:
        """Per beat: the Q-to-R time the judge uses (NaN: no lead measurable).

        The longest measurable value over the usable leads (a lead is usable for a beat when
        its QRS max slope is at least ``REL_MIN`` of the best lead's). When the two usable
        leads disagree by more than ``LEAD_DISAGREE_MS``, one of them has measured noise:
        the value closer to the median of that beat's class in this record is taken."""
        sm = np.nan_to_num(self.smax_lead)
        best = sm.max(axis=1, keepdims=True)
        q = np.where(sm >= REL_MIN * best, self.qr_lead, np.nan)
        ok = np.isfinite(q).any(axis=1)
        out = np.full(q.shape[0], np.nan)
        out[ok] = np.nanmax(q[ok], axis=1)
        if q.shape[1] != 2:
            return out
        both = np.isfinite(q).all(axis=1)
        split = both & (np.abs(q[:, 0] - q[:, 1]) > LEAD_DISAGREE_MS)
        if split.any():
            cls = np.array([beat_class(x) for x in self.symbols])
            for c in set(cls[split].tolist()):
                m = cls == c
                ref = out[m & ~split]
                ref = ref[np.isfinite(ref)]
                if ref.size == 0:
                    continue  # nothing to compare with: keep the longer value
                med = float(np.median(ref))
                rows = np.flatnonzero(split & m)
                pick = np.argmin(np.abs(q[rows] - med), axis=1)
                out[rows] = q[rows, pick]
        return out

    def r_ms(self) -> IntArray:
        """The beats at 1 kHz, rounded exactly as :func:`iabp.sim.records.read_record` does."""
        return np.round(self.samples.astype(np.float64) * (1000.0 / self.fs)).astype(np.int64)


def measure_record(record: str, root: Path | None = None, *, frac: float = FRAC,
                   dwell_ms: float = DWELL_MS) -> RecordOnsets:
    """Read ``record`` (e.g. ``"mitdb/100"``) and its ``.atr``; measure every reference beat."""
    import wfdb

    from iabp.sim.records import ECG_LEADS

    path = (root or data_dir()) / record
    rec = wfdb.rdrecord(str(path))
    ann = wfdb.rdann(str(path), "atr")
    keep = [i for i, s in enumerate(ann.symbol) if s in BEAT_SYMBOLS]
    samples = np.asarray(ann.sample, dtype=np.int64)[keep]
    syms = tuple(ann.symbol[i] for i in keep)
    names = [str(s) for s in rec.sig_name]
    sig = rec.p_signal
    per = [qrs_onsets_snr(sig[:, c], float(rec.fs), samples, frac=frac, dwell_ms=dwell_ms)
           for c in range(len(names))]
    q = np.stack([p[0] for p in per], axis=1)
    sm = np.stack([p[1] for p in per], axis=1)
    replay = next((names.index(L) for L in ECG_LEADS if L in names), 0)
    return RecordOnsets(record, float(rec.fs), samples, syms, tuple(names), q, sm, replay)


def qr_for_xqrs(ecg: FloatArray, fs: float, beats: IntArray) -> FloatArray:
    """Q-to-R (ms) for beats found by an offline detector on a single ECG lead."""
    return qrs_onsets(ecg, fs, beats)


def pct(x: FloatArray, p: float) -> float:
    return float(np.percentile(x, p)) if x.size else float("nan")


def class_table(results: Sequence[RecordOnsets], which: str = "combined") -> list[dict[str, Any]]:
    """Median, p90, p95, p99 (and counts) of the Q-to-R time per beat class."""
    vals: dict[str, list[FloatArray]] = {c: [] for c in CLASS_ORDER}
    cnt: dict[str, list[int]] = {c: [0, 0] for c in CLASS_ORDER}
    for ro in results:
        if which == "combined":
            q = ro.qr
        elif which == "replay lead":
            q = ro.qr_lead[:, ro.replay_lead]
        else:
            q = ro.qr_lead[:, 1 - ro.replay_lead]
        cls = np.array([beat_class(s) for s in ro.symbols])
        for c in CLASS_ORDER:
            m = cls == c
            vals[c].append(q[m][np.isfinite(q[m])])
            cnt[c][0] += int(m.sum())
            cnt[c][1] += int((m & ~np.isfinite(q)).sum())
    rows = []
    for c in [*CLASS_ORDER, "all"]:
        v = np.concatenate([x for cc in CLASS_ORDER for x in vals[cc]]) if c == "all" \
            else np.concatenate(vals[c]) if vals[c] else np.zeros(0)
        n, nan = (sum(cnt[k][0] for k in cnt), sum(cnt[k][1] for k in cnt)) if c == "all" \
            else cnt[c]
        if n == 0:
            continue
        rows.append({"class": c, "beats": n, "unmeasurable": nan,
                     "median_ms": pct(v, 50), "p90_ms": pct(v, 90), "p95_ms": pct(v, 95),
                     "p99_ms": pct(v, 99), "max_ms": float(v.max()) if v.size else float("nan"),
                     "min_ms": float(v.min()) if v.size else float("nan")})
    return rows


def table_md(rows: Sequence[dict[str, Any]]) -> str:
    out = ["| beat class | beats | unmeasurable | median | p90 | p95 | p99 | min / max |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['class']} | {r['beats']} | {r['unmeasurable']} "
                   f"({100 * r['unmeasurable'] / r['beats']:.1f} %) | {r['median_ms']:.0f} | "
                   f"{r['p90_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | "
                   f"{r['min_ms']:.0f} / {r['max_ms']:.0f} |")
    return "\n".join(out)


def mitdb_records() -> list[str]:
    return sorted(f"mitdb/{p.stem}" for p in (data_dir() / "mitdb").glob("*.atr"))


def plot_beats(record: str, symbols: str, n: int = 6, out: Path | None = None,
               seed: int = 0) -> Path:
    """Plot ``n`` random beats of the given symbols with the measured onset (both leads)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import wfdb

    ro = measure_record(record)
    rec = wfdb.rdrecord(str(data_dir() / record))
    idx = [i for i, s in enumerate(ro.symbols) if s in symbols]
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(idx, min(n, len(idx)), replace=False).tolist())
    fs = ro.fs
    fig, axs = plt.subplots(len(pick), 2, figsize=(11, 2.2 * len(pick)), squeeze=False)
    for row, i in enumerate(pick):
        r = int(ro.samples[i])
        t = np.arange(max(0, r - int(0.2 * fs)), min(rec.sig_len, r + int(0.12 * fs)))
        for c in range(2):
            ax = axs[row][c]
            ax.plot((t - r) * 1000 / fs, rec.p_signal[t, c], "k")
            ax.axvline(0, color="r")
            q = ro.qr_lead[i, c]
            if np.isfinite(q):
                ax.axvline(-q, color="g")
            ax.axvline(-ro.qr[i], color="b", ls="--") if np.isfinite(ro.qr[i]) else None
            ax.set_title(f"{record} {ro.leads[c]} beat {i} '{ro.symbols[i]}' lead QR={q:.0f} "
                         f"beat QR={ro.qr[i]:.0f} ms", fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    out = out or Path(f"/tmp/qrs_onset_{Path(record).name}_{symbols.replace('/', 'p')}.png")
    fig.savefig(out, dpi=70)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plot", nargs=2, metavar=("RECORD", "SYMBOLS"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frac", type=float, default=FRAC, help="threshold fraction (sensitivity)")
    ap.add_argument("--dwell", type=float, default=DWELL_MS, help="quiet stretch, ms (sensitivity)")
    a = ap.parse_args(argv)
    if a.plot:
        print(plot_beats(f"mitdb/{a.plot[0]}", a.plot[1], seed=a.seed))
        return 0
    res = [measure_record(r, frac=a.frac, dwell_ms=a.dwell) for r in mitdb_records()]
    for which in ("combined", "replay lead", "other lead"):
        print(f"\n### Q-to-R (ms), {which}\n")
        print(table_md(class_table(res, which)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
