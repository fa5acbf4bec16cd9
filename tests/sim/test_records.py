"""Replay of PhysioNet records at 1 kHz, and RecordError on missing or garbled files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from iabp.sim.records import available_records, default_data_dir, read_record
from iabp.spec.errors import RecordError

DATA = default_data_dir()
needs_data = pytest.mark.skipif(not (DATA / "mitdb" / "100.hea").is_file(),
                                reason=f"PhysioNet development set not found at {DATA}")


@needs_data
def test_mitdb_100_reference_beats_sit_on_r_peaks() -> None:
    rec = read_record("mitdb/100")
    assert rec.fs_hz == 1000.0 and rec.ecg_lead == "MLII" and rec.abp_mmhg is None
    assert rec.duration_ms == 1805556  # 650000 samples at 360 Hz
    assert rec.r_peaks is not None and rec.r_symbols is not None
    assert rec.r_peaks.size == 2273 and rec.r_symbols.count("N") == 2239
    assert "Moody" in rec.source and "Goldberger" in rec.source
    ecg = rec.ecg_mv
    offs = [int(np.argmax(ecg[r - 50:r + 50])) - 50 for r in rec.r_peaks[5:500].tolist()]
    assert abs(float(np.median(offs))) <= 10


@needs_data
def test_mitdb_window_keeps_beats_aligned() -> None:
    full = read_record("mitdb/119")
    part = read_record("mitdb/119", start_s=60.0, duration_s=30.0)
    assert part.duration_ms == 30000
    assert np.allclose(part.ecg_mv, full.ecg_mv[60000:90000])
    assert full.r_peaks is not None and part.r_peaks is not None
    inside = full.r_peaks[(full.r_peaks >= 60000) & (full.r_peaks < 90000)] - 60000
    assert np.array_equal(part.r_peaks, inside)
    assert part.r_symbols is not None and "V" in part.r_symbols


@needs_data
def test_mixedsignals_multifrequency_abp() -> None:
    rec = read_record("abp/mixedsignals")
    assert rec.abp_mmhg is not None and rec.r_peaks is None
    assert rec.original_fs_hz["II"] == pytest.approx(249.89)
    assert rec.original_fs_hz["ABP"] == pytest.approx(124.945)
    assert abs(rec.duration_ms - 230500) < 50
    assert np.isfinite(rec.ecg_mv).all() and np.isfinite(rec.abp_mmhg).all()
    assert 0.005 < rec.gap_mask.mean() < 0.03  # the few NaN gaps, bridged
    beat = rec.abp_mmhg[60000:70000]
    assert 140.0 < beat.max() < 180.0 and 75.0 < beat.min() < 100.0


@needs_data
def test_available_records_lists_the_development_set() -> None:
    names = available_records()
    assert "mitdb/100" in names and "abp/03700181" in names


def test_missing_record_raises(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not found"):
        read_record("mitdb/999", data_dir=tmp_path)
    assert available_records(tmp_path / "nowhere") == []


def test_garbled_header_raises(tmp_path: Path) -> None:
    (tmp_path / "bad.hea").write_text("this is not a WFDB header\n\x00\x01")
    with pytest.raises(RecordError, match="unreadable"):
        read_record("bad", data_dir=tmp_path)


def test_missing_signal_file_raises(tmp_path: Path) -> None:
    (tmp_path / "nodat.hea").write_text("nodat 1 360 1000\nnodat.dat 212 200 11 1024 0 0 0 MLII\n")
    with pytest.raises(RecordError):
        read_record("nodat", data_dir=tmp_path)


@needs_data
def test_truncated_signal_file_raises(tmp_path: Path) -> None:
    shutil.copy(DATA / "mitdb" / "100.hea", tmp_path / "100.hea")
    (tmp_path / "100.dat").write_bytes((DATA / "mitdb" / "100.dat").read_bytes()[:3000])
    with pytest.raises(RecordError):
        read_record("100", data_dir=tmp_path)


@needs_data
def test_window_outside_record_raises() -> None:
    with pytest.raises(RecordError, match="outside"):
        read_record("mitdb/100", start_s=5000.0)
