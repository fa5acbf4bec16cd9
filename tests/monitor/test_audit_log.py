"""Audit log: hash chain, fsync per record, black box, and verification naming the first bad record."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.keys import key_id
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


def write_log(path: Path, *, sealed: bool = True, background: bool = False) -> Anchor:
    """A small realistic log: open, frames, one violation with its black box, a note, seal."""
    with AuditLog(path, blackbox_frames=5, post_frames=3, background=background) as log:
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
    assert records[-1]["payload"] == {"records": 6, "head": records[-2]["hash"]}


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


@pytest.mark.parametrize("crafted", [
    b'{"seq":1,"wall_time":1,"type":["log_open"],"payload":{},"prev_hash":"0","hash":"0"}',
    b'{"seq":1,"wall_time":NaN,"type":"note","payload":{},"prev_hash":"0","hash":"0"}',
    b'{"seq":1.0,"wall_time":1,"type":"note","payload":{},"prev_hash":"0","hash":"0"}',
    b'{"seq":1,"wall_time":1,"type":"note","payload":{"a":' + b"[" * 100_000 + b"]" * 100_000
    + b'},"prev_hash":"0","hash":"0"}'])
def test_a_crafted_line_is_a_bad_record_not_a_crash(log_path: Path, crafted: bytes) -> None:
    """A list for ``type``, NaN, a float ``seq`` or absurd nesting: verify names the line
    (it raised TypeError / RecursionError, and ``iabp monitor --log`` on such a file
    crashed at start-up), and continuing the log refuses it."""
    lines = lines_of(log_path)
    log_path.write_bytes(b"".join([*lines[:2], crafted + b"\n", *lines[2:]]))
    result = verify_log(log_path)
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == 3
    with pytest.raises(AuditLogError, match="cannot continue this log"):
        AuditLog(log_path)


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


# -- signed logs (issue 9): nobody without the key can forge or cut it unnoticed ------------


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def write_signed(path: Path, key: Ed25519PrivateKey, *, sealed: bool = True,
                 checkpoint_every: int = 4) -> None:
    """A signed session: open, 10 notes (checkpoints every 4 records), a trip, seal."""
    with AuditLog(path, key=key, checkpoint_every=checkpoint_every, blackbox_frames=3) as log:
        log.open_session(100.0, monitor="test")
        for i in range(10):
            log.append("note", {"i": i}, 100.0 + i)
        for i in range(3):
            log.push_frame(tick(i))
        log.record_event("safe_state", {"trip": {"cause": "RULE_VIOLATION"}}, 111.0)
        log.checkpoint(112.0, state={"trips": 1})
        if sealed:
            log.append("session_end", {"reason": "test"}, 113.0)
            log.seal(113.0)


@pytest.fixture
def signed_path(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "signed.jsonl"
    write_signed(path, key)
    return path


def records_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(path)]


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(al.canonical_json(r) + b"\n" for r in records))


def test_signed_log_verifies_with_its_key_and_says_so(signed_path: Path,
                                                      key: Ed25519PrivateKey) -> None:
    result = verify_log(signed_path, public_key=key.public_key(), require_sealed=True)
    assert result.ok and result.status is VerifyStatus.SEALED
    assert result.signed and result.authenticated
    assert result.key_id == key_id(key.public_key())
    assert result.checkpoints >= 3
    records = records_of(signed_path)
    assert all(len(bytes.fromhex(r["sig"])) == 64 for r in records)
    assert records[0]["payload"]["format"] == al.SIGNED_FORMAT
    for r in records:
        if r["type"] in (al.CHECKPOINT, al.SEAL):  # each states the count and the head
            assert r["payload"]["records"] == r["seq"] + 1
            assert r["payload"]["head"] == r["prev_hash"]


def test_checkpoints_come_every_n_records(signed_path: Path) -> None:
    kinds = [r["type"] for r in records_of(signed_path)]
    run = 0
    for k in kinds:
        run = 0 if k in (al.CHECKPOINT, al.SEAL) else run + 1
        assert run <= 4, kinds


def test_without_the_key_only_the_chain_is_checked(signed_path: Path) -> None:
    result = verify_log(signed_path)
    assert result.ok and result.signed and not result.authenticated


def test_a_signature_respelt_in_upper_case_fails(signed_path: Path,
                                               key: Ed25519PrivateKey) -> None:
    """Found by the edited-byte test below: "B" for "b" in a signature's hex is the same
    signature to bytes.fromhex, and the canonical-JSON check keeps either spelling; only
    the spelling the monitor wrote is the log."""
    original = signed_path.read_bytes()
    pos = original.index(b'"sig":"') + len(b'"sig":"')
    while not chr(original[pos]).isalpha():
        pos += 1
    edited = signed_path.with_suffix(".edited")
    edited.write_bytes(original[:pos] + original[pos:pos + 1].upper() + original[pos + 1:])
    result = verify_log(edited, public_key=key.public_key())
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == _line_of(original, pos)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_edited_byte_of_a_signed_log_fails(signed_path: Path, key: Ed25519PrivateKey,
                                               data: st.DataObject) -> None:
    original = signed_path.read_bytes()
    pos = data.draw(st.integers(0, len(original) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]))
    edited = signed_path.with_suffix(".edited")
    edited.write_bytes(original[:pos] + bytes([new]) + original[pos + 1:])
    result = verify_log(edited, public_key=key.public_key())
    assert result.status is VerifyStatus.BROKEN
    assert result.first_bad_line == _line_of(original, pos)


def test_an_edited_signature_alone_fails(signed_path: Path, key: Ed25519PrivateKey) -> None:
    records = records_of(signed_path)
    sig = bytearray(bytes.fromhex(records[3]["sig"]))
    sig[10] ^= 1
    records[3]["sig"] = sig.hex()
    write_records(signed_path, records)
    assert verify_log(signed_path).ok  # the chain does not cover the signature...
    result = verify_log(signed_path, public_key=key.public_key())  # ...the key does
    assert result.problem is Problem.BAD_SIGNATURE and result.first_bad_line == 4


@pytest.mark.parametrize("index", [1, 5, 11])
def test_a_deleted_record_of_a_signed_log_fails(signed_path: Path, key: Ed25519PrivateKey,
                                                index: int) -> None:
    lines = lines_of(signed_path)
    del lines[index]
    signed_path.write_bytes(b"".join(lines))
    result = verify_log(signed_path, public_key=key.public_key())
    assert result.status is VerifyStatus.BROKEN and result.first_bad_line == index + 1
    assert result.problem in (Problem.BAD_SEQ, Problem.BAD_PREV_HASH)


def test_deleting_the_trip_and_rechaining_without_the_key_fails(
        signed_path: Path, key: Ed25519PrivateKey) -> None:
    """The forger of issue 9: drop the safe_state and its black box, recompute every
    hash (and even keep the old signatures): the chain holds, the signatures do not."""
    kept = [r for r in records_of(signed_path) if r["type"] not in ("safe_state", "blackbox_pre")]
    prev = al.GENESIS_HASH
    for seq, r in enumerate(kept):
        r["seq"], r["prev_hash"] = seq, prev
        if r["type"] in (al.CHECKPOINT, al.SEAL):
            r["payload"].update(records=seq + 1, head=prev)
        r["hash"] = prev = al.record_hash(r)
    write_records(signed_path, kept)
    assert verify_log(signed_path).ok  # chain only: a forger can always rebuild a chain
    result = verify_log(signed_path, public_key=key.public_key())
    assert result.problem is Problem.BAD_SIGNATURE
    # ...and stripping the signatures makes it an unsigned log, which a key refuses
    for r in kept:
        del r["sig"]
    write_records(signed_path, kept)
    result = verify_log(signed_path, public_key=key.public_key())
    assert result.problem is Problem.UNSIGNED and result.first_bad_line == 1


def test_a_log_signed_by_another_key_fails_and_names_both_keys(
        tmp_path: Path, key: Ed25519PrivateKey, other_key: Ed25519PrivateKey) -> None:
    path = tmp_path / "other.jsonl"
    write_signed(path, other_key)
    result = verify_log(path, public_key=key.public_key())
    assert result.problem is Problem.BAD_SIGNATURE and result.first_bad_line == 1
    assert key_id(other_key.public_key()) in result.detail
    assert key_id(key.public_key()) in result.detail and "another key" in result.detail


@pytest.mark.parametrize("keep", [0, 1, 5, -1])
def test_a_cut_tail_is_unsealed_and_fails_when_a_seal_is_required(
        signed_path: Path, key: Ed25519PrivateKey, keep: int) -> None:
    lines = lines_of(signed_path)
    signed_path.write_bytes(b"".join(lines[:keep] if keep >= 0 else lines[:keep]))
    pub = key.public_key()
    if keep == 0:  # an empty file is never OK
        for require in (False, True):
            result = verify_log(signed_path, public_key=pub, require_sealed=require)
            assert result.problem is Problem.EMPTY and not result.ok
        assert verify_log(signed_path).problem is Problem.EMPTY
        return
    loose = verify_log(signed_path, public_key=pub)
    assert loose.ok and loose.status is VerifyStatus.UNSEALED  # a cut looks like a crash...
    strict = verify_log(signed_path, public_key=pub, require_sealed=True)
    assert strict.problem is Problem.NOT_SEALED and not strict.ok  # ...unless sealing is required


def test_a_checkpoint_that_misstates_the_log_fails(signed_path: Path) -> None:
    records = records_of(signed_path)
    i = next(i for i, r in enumerate(records) if r["type"] == al.CHECKPOINT)
    records[i]["payload"]["records"] += 1
    records[i]["hash"] = al.record_hash(records[i])  # (the signature fails with a key too)
    write_records(signed_path, records[:i + 1])
    result = verify_log(signed_path)
    assert result.problem is Problem.BAD_CHECKPOINT and result.first_bad_line == i + 1


def test_a_signed_log_is_continued_only_with_its_key(
        signed_path: Path, key: Ed25519PrivateKey, other_key: Ed25519PrivateKey,
        log_path: Path) -> None:
    with pytest.raises(AuditLogError, match="signed"):
        AuditLog(signed_path)
    with pytest.raises(AuditLogError, match="another key"):
        AuditLog(signed_path, key=other_key)
    with pytest.raises(AuditLogError, match="unsigned"):
        AuditLog(log_path, key=key)  # an unsigned log cannot become signed half-way
    with AuditLog(signed_path, key=key) as log:
        log.open_session(200.0)
        log.append("note", {"after": "restart"}, 201.0)
        log.seal(202.0)
    result = verify_log(signed_path, public_key=key.public_key(), require_sealed=True)
    assert result.ok and result.status is VerifyStatus.SEALED


def test_an_unsigned_record_appended_to_a_signed_log_fails(signed_path: Path) -> None:
    records = records_of(signed_path)
    rec: dict[str, Any] = {"seq": len(records), "wall_time": 1.0, "type": al.OPEN,
                           "payload": {}, "prev_hash": records[-1]["hash"]}
    rec["hash"] = al.record_hash(rec)
    write_records(signed_path, [*records, rec])
    result = verify_log(signed_path)
    assert result.problem is Problem.MIXED_SIGNING and result.first_bad_line == len(records) + 1


def test_old_unsigned_logs_stay_readable(log_path: Path, key: Ed25519PrivateKey) -> None:
    result = verify_log(log_path)
    assert result.ok and not result.signed and not result.authenticated
    assert verify_log(log_path, public_key=key.public_key()).problem is Problem.UNSIGNED


def test_a_directory_or_missing_directory_is_an_audit_log_error(tmp_path: Path) -> None:
    with pytest.raises(AuditLogError, match="directory"):
        AuditLog(tmp_path)
    with pytest.raises(AuditLogError, match="cannot open"):
        AuditLog(tmp_path / "missing" / "a.jsonl")


# -- the disk writer thread: the monitor's loop never waits for an fsync (issue 9) ----------


def test_a_background_log_writes_exactly_the_same_bytes(tmp_path: Path, log_path: Path) -> None:
    path = tmp_path / "background.jsonl"
    write_log(path, background=True)
    assert path.read_bytes() == log_path.read_bytes()
    assert verify_log(path).status is VerifyStatus.SEALED


def test_append_does_not_wait_for_a_stuck_fsync(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An fsync that meets the kernel's write-back can take 100-200 ms on a busy host: the
    caller (the monitor's loop) must not wait for it; the seal does."""
    release = threading.Event()
    real_fsync = os.fsync

    def stuck_fsync(fd: int) -> None:
        release.wait(20)
        real_fsync(fd)

    log = AuditLog(tmp_path / "a.jsonl", background=True)
    monkeypatch.setattr(al.os, "fsync", stuck_fsync)
    appended = threading.Event()

    def loop() -> None:
        log.open_session(1.0, monitor="test")
        for i in range(20):
            log.append("note", {"i": i}, 2.0)
        appended.set()

    threading.Thread(target=loop, daemon=True).start()
    assert appended.wait(10), "append waited for the disk"
    release.set()
    log.seal(3.0)
    log.close()
    assert verify_log(tmp_path / "a.jsonl").status is VerifyStatus.SEALED


def test_a_failed_background_write_is_raised_and_nothing_after_it_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, background=True)
    log.open_session(1.0, monitor="test")
    log.seal(1.5)  # on disk: the seal drains
    monkeypatch.setattr(al.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "EIO")))
    log.open_session(2.0, monitor="test")  # queued; its write fails on the thread
    with pytest.raises(AuditLogError, match="audit write failed"):
        log.seal(3.0)
    log.close()  # never raises
    monkeypatch.undo()
    result = verify_log(path)
    assert result.records >= 2 and result.status is not VerifyStatus.BROKEN
