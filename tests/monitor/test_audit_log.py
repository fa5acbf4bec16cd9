"""Audit log: hash chain, fsync per record, black box, and verification naming the first bad record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.monitor import audit_log as al
from iabp.monitor.audit_log import (
    Anchor,
    AuditLog,
    AuditLogError,
    Problem,
    VerifyStatus,
    verify_log,
)
from iabp.monitor.protocol import ConsolePhase, TelemetryFrame
from iabp.spec.modes import Mode


def tick(i: int) -> TelemetryFrame:
    return TelemetryFrame(i, 1000 + i, Mode.ECG_TRIGGER, 1, i, 800, 100, i % 2 == 0, False, False,
                          ConsolePhase.DIASTOLE, 0, 0, 211, 0)


def write_log(path: Path, *, sealed: bool = True) -> Anchor:
    """A small realistic log: open, frames, one violation with its black box, a note, seal."""
    with AuditLog(path, blackbox_frames=5, post_frames=3) as log:
        log.open_session(100.0, monitor="test")
        for i in range(8):
            log.push_frame(tick(i))
        log.record_event("violation", {"rule": "REQ-INFL-DIASTOLE", "seq": 7}, 100.5)
        for i in range(8, 12):
            log.push_frame(tick(i))
        log.write_post_event(100.6)
        log.append("note", {"text": "operator informed"}, 101.0)
        return log.seal(102.0) if sealed else log.anchor()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_log(path)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_clean_log_verifies_sealed(log_path: Path) -> None:
    result = verify_log(log_path)
    assert result.status is VerifyStatus.SEALED and result.ok
    assert result.records == 6 and result.problem is None
    records = [json.loads(line) for line in lines_of(log_path)]
    assert records[0]["prev_hash"] == al.GENESIS_HASH
    assert all(r["prev_hash"] == q["hash"] for q, r in zip(records, records[1:], strict=False))
    assert all(r["hash"] == al.record_hash(r) for r in records)


def test_record_types_wall_time_and_black_box(log_path: Path) -> None:
    records = [json.loads(line) for line in lines_of(log_path)]
    assert [r["type"] for r in records] == [
        "log_open", "violation", "blackbox_pre", "blackbox_post", "note", "seal"
    ]
    assert [r["wall_time"] for r in records] == [100.0, 100.5, 100.5, 100.6, 101.0, 102.0]
    pre, post = records[2]["payload"], records[3]["payload"]
    assert pre["event_seq"] == post["event_seq"] == 1
    assert [f["seq"] for f in pre["frames"]] == [3, 4, 5, 6, 7]  # ring of the last 5 frames
    assert [f["seq"] for f in post["frames"]] == [8, 9, 10]  # post window of 3
    assert pre["frames"][0]["kind"] == "TelemetryFrame" and pre["frames"][0]["mode"] == 1
    assert records[-1]["payload"] == {"records": 6}


def test_push_frame_says_when_the_post_window_is_full(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", blackbox_frames=4, post_frames=2) as log:
        assert log.push_frame(tick(0)) is False
        log.record_event("violation", {}, 1.0)
        assert [log.push_frame(tick(i)) for i in (1, 2, 3)] == [False, True, True]
        assert log.write_post_event(1.1) is not None and log.write_post_event(1.2) is None


def test_every_record_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    with AuditLog(tmp_path / "a.jsonl") as log:
        before = len(calls)
        for i in range(5):
            log.append("note", {"i": i}, float(i))
        assert len(calls) - before == 5


def test_unsealed_log_is_intact_but_says_the_tail_is_unproven(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, sealed=False)
    assert verify_log(path).status is VerifyStatus.UNSEALED


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_edited_byte_names_its_line(log_path: Path, data: st.DataObject) -> None:
    original = log_path.read_bytes()
    pos = data.draw(st.integers(0, len(original) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]))
    edited = log_path.with_suffix(".edited")
    edited.write_bytes(original[:pos] + bytes([new]) + original[pos + 1:])
    result = verify_log(edited)
    assert result.status is VerifyStatus.BROKEN
    assert result.first_bad_line == _line_of(original, pos)


@pytest.mark.parametrize("index", range(5))  # deleting the last line is the tail case below
def test_deleted_line_is_named(log_path: Path, index: int) -> None:
    lines = lines_of(log_path)
    del lines[index]
    log_path.write_bytes(b"".join(lines))
    result = verify_log(log_path)
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == index + 1
    assert result.problem in (Problem.BAD_SEQ, Problem.BAD_PREV_HASH)
    assert result.records == index


@pytest.mark.parametrize("index", range(5))
def test_swapped_pair_is_named(log_path: Path, index: int) -> None:
    lines = lines_of(log_path)
    lines[index], lines[index + 1] = lines[index + 1], lines[index]
    log_path.write_bytes(b"".join(lines))
    result = verify_log(log_path)
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == index + 1


@pytest.mark.parametrize("index", range(6))
def test_inserted_copy_is_named(log_path: Path, index: int) -> None:
    lines = lines_of(log_path)
    lines.insert(index + 1, lines[index])
    log_path.write_bytes(b"".join(lines))
    result = verify_log(log_path)
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == index + 2


@pytest.mark.parametrize("cut", [1, 2, 10, 40])
def test_truncated_last_line_is_named(log_path: Path, cut: int) -> None:
    data = log_path.read_bytes()
    log_path.write_bytes(data[:-cut])
    result = verify_log(log_path)
    assert result.status is VerifyStatus.BROKEN and result.problem is Problem.TRUNCATED_LINE
    assert result.first_bad_line == len(lines_of(log_path)) and result.records == 5


def test_removed_tail_needs_the_anchor(tmp_path: Path) -> None:
    """Honest limit: whole records cut off an unsealed log look like an earlier crash."""
    path = tmp_path / "a.jsonl"
    anchor = write_log(path, sealed=False)
    lines = lines_of(path)
    path.write_bytes(b"".join(lines[:-2]))
    assert verify_log(path).status is VerifyStatus.UNSEALED  # undetectable without an anchor
    result = verify_log(path, anchor)
    assert result.problem is Problem.ANCHOR_MISSING and result.first_bad_seq == len(lines) - 2


def test_removed_seal_is_visible_as_unsealed(log_path: Path) -> None:
    log_path.write_bytes(b"".join(lines_of(log_path)[:-1]))
    assert verify_log(log_path).status is VerifyStatus.UNSEALED


def test_anchor_from_another_log_does_not_match(tmp_path: Path, log_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    with AuditLog(other) as log:
        log.append("note", {"x": 1}, 1.0)
        foreign = log.anchor()
    result = verify_log(log_path, foreign)
    assert result.problem is Problem.ANCHOR_MISMATCH and result.first_bad_line == 1
    assert verify_log(log_path, verify_log(log_path).head).status is VerifyStatus.SEALED


def test_reopening_continues_the_chain(log_path: Path) -> None:
    head = verify_log(log_path).head
    with AuditLog(log_path) as log:
        assert log.anchor() == head
        with pytest.raises(AuditLogError):
            log.append("note", {}, 200.0)  # sealed: a new session must be opened first
        log.open_session(200.0)
        log.append("note", {"after": "restart"}, 201.0)
    result = verify_log(log_path)
    assert result.status is VerifyStatus.UNSEALED and result.records == 8
    first_new = json.loads(lines_of(log_path)[6])
    assert head is not None
    assert first_new["prev_hash"] == head.hash and first_new["payload"]["resumed"] is True


def test_record_after_seal_other_than_open_is_caught(log_path: Path) -> None:
    with open(log_path, "ab") as f:  # a forger appending a well-formed record after the seal
        last = json.loads(lines_of(log_path)[-1])
        rec = {"seq": last["seq"] + 1, "wall_time": 1.0, "type": "note", "payload": {},
               "prev_hash": last["hash"]}
        rec["hash"] = al.record_hash(rec)
        f.write(al.canonical_json(rec) + b"\n")
    result = verify_log(log_path)
    assert result.problem is Problem.AFTER_SEAL and result.first_bad_line == 7


def test_damaged_log_is_not_continued(log_path: Path) -> None:
    log_path.write_bytes(log_path.read_bytes()[:-3])
    with pytest.raises(AuditLogError, match="damaged"):
        AuditLog(log_path)


@pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": b"raw"}, {"x": object()}])
def test_non_json_payload_is_refused_and_nothing_written(tmp_path: Path, payload: dict[str, object]) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log, pytest.raises(AuditLogError):
        log.append("note", payload, 1.0)
    assert path.read_bytes() == b""
