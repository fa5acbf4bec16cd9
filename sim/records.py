"""Replay of real PhysioNet recordings (WFDB) as a 1 kHz console feed: ECG, ABP, reference beats.

``read_record("mitdb/100")`` reads an MIT-BIH Arrhythmia record (ECG + cardiologist
reference beat annotations); ``read_record("abp/mixedsignals")`` reads a multi-frequency
ICU record (ECG + arterial pressure) with ``smooth_frames=False`` so every signal keeps
its own rate. Each signal is resampled to 1 kHz (one sample per controller tick) with a
polyphase filter (``scipy.signal.resample_poly``); NaN gaps (lead off, transducer
flush) are bridged by linear interpolation *before* filtering and reported in
``gap_mask``, so a gap never spreads NaN through the filter.

The data live outside the repository: ``../shared/data/physionet/`` next to the repo
root, or wherever ``$IABP_PHYSIONET_DIR`` or the ``data_dir`` argument points. Any
missing or unreadable record raises :class:`iabp.spec.errors.RecordError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from iabp.spec.clock import TICK_HZ
from iabp.spec.errors import RecordError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")  #: WFDB annotation symbols that mark a beat
ECG_LEADS = ("MLII", "II", "MCL1", "V5", "V1", "III", "V", "I")  #: preferred lead order
ABP_NAMES = ("ABP", "ART", "AP")  #: arterial pressure signal names

_PHYSIONET = ("Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. "
              "Circulation 101(23):e215-e220 (2000).")
CITATIONS: dict[str, str] = {
    "mitdb": ("MIT-BIH Arrhythmia Database 1.0.0 (ODC-By 1.0). Moody GB, Mark RG. The impact of "
              "the MIT-BIH Arrhythmia Database. IEEE Eng Med Biol 20(3):45-50 (2001). " + _PHYSIONET),
    "03700181": ("MIMIC Database (mimicdb) 1.0.0, record 037/03700181. Moody GB, Mark RG. A "
                 "database to support development and evaluation of intelligent intensive care "
                 "monitoring. Computers in Cardiology 23:657-660 (1996). " + _PHYSIONET),
    "mixedsignals": ("wfdb-python sample-data/mixedsignals (MIT licence; source database not "
                     "stated, possibly MIMIC-IV Waveform, unverified). " + _PHYSIONET),
}


@dataclass(frozen=True)
class Recording:
    """A real recording replayed at 1 kHz: sample ``i`` is ``i`` ms after ``start_s``."""

    name: str  #: e.g. "mitdb/100"
    ecg_mv: FloatArray
    abp_mmhg: FloatArray | None  #: None: the record has no arterial pressure
    r_peaks: IntArray | None  #: reference beat sample indices (1 kHz); None: no annotations
    r_symbols: tuple[str, ...] | None  #: WFDB beat symbol of each reference beat
    source: str  #: citation of the database the record comes from
    ecg_lead: str
    gap_mask: BoolArray  #: True where a channel was NaN in the file and has been bridged
    original_fs_hz: dict[str, float] = field(default_factory=dict)  #: per channel, before resampling
    start_s: float = 0.0
    fs_hz: float = TICK_HZ

    @property
    def duration_ms(self) -> int:
        """Length of the replay (ms)."""
        return int(self.ecg_mv.size)


def default_data_dir() -> Path:
    """``$IABP_PHYSIONET_DIR`` if set, else ``<repo root>/../shared/data/physionet``."""
    env = os.environ.get("IABP_PHYSIONET_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "physionet"


def available_records(data_dir: str | Path | None = None) -> list[str]:
    """Record names (``"folder/record"``) under ``data_dir``; empty if the folder is absent."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if not root.is_dir():
        return []
    return sorted(str(h.relative_to(root).with_suffix("")) for h in root.rglob("*.hea"))


def _citation(name: str) -> str:
    parts = Path(name).parts
    for key in (Path(name).name, *parts):
        if key in CITATIONS:
            return CITATIONS[key]
    return "PhysioNet WFDB record (source not catalogued). " + _PHYSIONET


def _ratio(fs_hz: float) -> tuple[int, int]:
    f = Fraction(TICK_HZ / fs_hz).limit_denominator(1000)
    return f.numerator, f.denominator


def _bridge_nans(x: FloatArray, what: str) -> tuple[FloatArray, BoolArray]:
    bad = ~np.isfinite(x)
    if bad.all():
        raise RecordError(f"{what}: every sample is missing (NaN)")
    if bad.any():
        idx = np.arange(x.size)
        x = x.copy()
        x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return x, bad


def _to_1k(x: FloatArray, fs_hz: float, what: str) -> tuple[FloatArray, BoolArray]:
    """Resample one channel to 1 kHz; returns it and its 1 kHz gap mask."""
    filled, bad = _bridge_nans(np.asarray(x, dtype=np.float64), what)
    up, down = _ratio(fs_hz)
    y = filled if up == down else resample_poly(filled, up, down, padtype="line")
    src = np.minimum((np.arange(y.size) * (fs_hz / TICK_HZ)).astype(np.int64), bad.size - 1)
    return np.asarray(y, dtype=np.float64), bad[src]


def _read_wfdb(path: Path, name: str) -> tuple[Any, Any]:
    import wfdb  # deferred: importing wfdb is slow and only replay needs it

    if not path.with_suffix(".hea").is_file():
        raise RecordError(f"record {name!r}: header {path.with_suffix('.hea')} not found")
    try:
        rec = wfdb.rdrecord(str(path), smooth_frames=False)
    except Exception as exc:  # wfdb raises many kinds on a garbled header or data file
        raise RecordError(f"record {name!r} is unreadable: {type(exc).__name__}: {exc}") from exc
    ann = None
    if path.with_suffix(".atr").is_file():
        try:
            ann = wfdb.rdann(str(path), "atr")
        except Exception as exc:
            raise RecordError(f"record {name!r}: annotation file unreadable: {exc}") from exc
    return rec, ann


def _pick(names: list[str], wanted: tuple[str, ...], units: list[str], unit: str) -> int | None:
    for w in wanted:
        if w in names:
            return names.index(w)
    for i, u in enumerate(units):
        if u == unit:
            return i
    return None


def _to_mv(x: FloatArray, unit: str) -> FloatArray:
    return x / 1000.0 if unit.lower() in ("uv", "µv") else x


def read_record(
    name: str, data_dir: str | Path | None = None, *, ecg_lead: str | None = None,
    start_s: float = 0.0, duration_s: float | None = None,
) -> Recording:
    """Read record ``name`` (e.g. ``"mitdb/100"``, ``"abp/mixedsignals"``) and replay it at 1 kHz.

    ``ecg_lead`` picks the ECG signal by name (default: first of ``ECG_LEADS`` present);
    ``start_s`` / ``duration_s`` cut a window (seconds) out of the record.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = Path(name) if Path(name).is_absolute() else root / name
    rec, ann = _read_wfdb(path, name)
    names = [str(s) for s in rec.sig_name]
    units = [str(u) for u in rec.units]
    fs = [float(rec.fs) * int(s) for s in rec.samps_per_frame]
    iecg = (names.index(ecg_lead) if ecg_lead in names else None) if ecg_lead else \
        _pick(names, ECG_LEADS, units, "mV")
    if iecg is None:
        raise RecordError(f"record {name!r} has no ECG lead {ecg_lead or ''} (signals: {names})")
    iabp = _pick(names, ABP_NAMES, units, "mmHg")
    sigs = rec.e_p_signal
    ecg, gap = _to_1k(_to_mv(np.asarray(sigs[iecg], dtype=np.float64), units[iecg]), fs[iecg],
                      f"{name} {names[iecg]}")
    abp = None
    orig = {names[iecg]: fs[iecg]}
    if iabp is not None:
        abp, gap_abp = _to_1k(np.asarray(sigs[iabp], dtype=np.float64), fs[iabp], f"{name} ABP")
        n = min(ecg.size, abp.size)
        ecg, abp, gap = ecg[:n], abp[:n], gap[:n] | gap_abp[:n]
        orig[names[iabp]] = fs[iabp]
    r_peaks, symbols = _beats(ann, fs[iecg], ecg.size)
    lo = int(round(start_s * TICK_HZ))
    hi = ecg.size if duration_s is None else min(ecg.size, lo + int(round(duration_s * TICK_HZ)))
    if not 0 <= lo < hi:
        raise RecordError(f"record {name!r}: window {start_s}s + {duration_s}s is outside the record")
    if r_peaks is not None and symbols is not None:
        keep = (r_peaks >= lo) & (r_peaks < hi)
        r_peaks = r_peaks[keep] - lo
        symbols = tuple(s for s, k in zip(symbols, keep.tolist(), strict=True) if k)
    return Recording(
        name=name, ecg_mv=ecg[lo:hi], abp_mmhg=None if abp is None else abp[lo:hi],
        r_peaks=r_peaks, r_symbols=symbols, source=_citation(name), ecg_lead=names[iecg],
        gap_mask=gap[lo:hi], original_fs_hz=orig, start_s=start_s)


def _beats(ann: Any, fs_hz: float, n: int) -> tuple[IntArray | None, tuple[str, ...] | None]:
    """Reference beats (symbol in ``BEAT_SYMBOLS``) as 1 kHz sample indices below ``n``."""
    if ann is None:
        return None, None
    fs_ann = float(ann.fs) if getattr(ann, "fs", None) else fs_hz
    sym = [str(s) for s in ann.symbol]
    idx = np.asarray(ann.sample, dtype=np.float64)
    keep = np.array([s in BEAT_SYMBOLS for s in sym], dtype=bool)
    r = np.round(idx[keep] * (TICK_HZ / fs_ann)).astype(np.int64)
    ok = r < n
    return r[ok], tuple(s for s, k in zip([s for s in sym if s in BEAT_SYMBOLS], ok.tolist(),
                                          strict=True) if k)
