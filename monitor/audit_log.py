"""Append-only audit log of the monitor: hash-chained, Ed25519-signed, checkpointed, sealed.

Every record is one line of canonical JSON (sorted keys, no spaces, ASCII)::

    {"hash": H, "payload": {...}, "prev_hash": P, "seq": N, "sig": S, "type": T, "wall_time": W}

where ``H = sha256(canonical JSON of the record without "hash" and "sig")``, ``P`` is the
previous record's ``H`` (``GENESIS_HASH`` for the first) and ``S`` is the Ed25519
signature (hex) of ``SIG_DOMAIN + H`` by the monitor's private key. A log written without
a key has no ``sig`` field (format ``iabp-audit/1``, as before); a signed log
(``iabp-audit/2``) has one on every record. Each record is flushed and ``os.fsync``'d
before :meth:`AuditLog.append` returns. Wall time is passed in by the caller.

Besides the events, the log holds signed ``checkpoint`` records (every
``checkpoint_every`` records here, and every ``MonitorConfig.checkpoint_ms`` of monitor
time from the monitor's loop) stating the record count and the chain head, and a final
``seal`` (same statement) on a clean end. :func:`verify_log` checks the whole chain, the
signatures when given the public key, the statements of checkpoints and seals, and with
``require_sealed`` that the log ends in a seal.
The key files (``iabp log keygen``) are :mod:`iabp.keys`, shared with the proof manifest.

What is and is not detectable is written down in ``monitor/PROTOCOL.md`` (section 12,
"Audit log"). In short: with the key, any edited, inserted, deleted, reordered or
re-chained record, an empty file and a log signed by another key fail; whole records cut
from the END of a log are detectable only as "unsealed" (a crash leaves the same
picture), so ``require_sealed`` fails them; whoever holds the private key can forge a log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from iabp.keys import key_id
from iabp.spec.errors import IabpError

FORMAT: Final = "iabp-audit/1"  #: unsigned (chain only)
SIGNED_FORMAT: Final = "iabp-audit/2"  #: every record signed with Ed25519
GENESIS_HASH: Final = hashlib.sha256(b"IABP monitor audit log v1 genesis").hexdigest()
SIG_DOMAIN: Final = b"iabp-audit/2 record hash "
SEAL: Final = "seal"
OPEN: Final = "log_open"
CHECKPOINT: Final = "checkpoint"
BLACKBOX_PRE: Final = "blackbox_pre"
BLACKBOX_POST: Final = "blackbox_post"
CHECKPOINT_EVERY: Final = 100  #: default: a checkpoint after this many other records
_KEYS: Final = frozenset({"seq", "wall_time", "type", "payload", "prev_hash", "hash"})
_SIGNED_KEYS: Final = _KEYS | {"sig"}
_STATEMENTS: Final = frozenset({CHECKPOINT, SEAL})  #: records stating count and head


class AuditLogError(IabpError):
    """The audit log cannot be written or continued (not a failed verification: a result)."""


# -- records --------------------------------------------------------------------------------


def canonical_json(obj: object) -> bytes:
    """The one byte form that is hashed and written: sorted keys, no spaces, ASCII, no NaN."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditLogError(f"audit payload is not plain JSON: {exc}") from exc
    return text.encode("ascii")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``hash`` and ``sig``."""
    body = {k: v for k, v in record.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _signed_message(hash_hex: str) -> bytes:
    return SIG_DOMAIN + hash_hex.encode("ascii")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def frame_to_json(frame: object) -> Any:
    """Default black-box converter: a dataclass frame as its kind and field values.

    Enum fields stay ``IntEnum`` values (written as numbers); anything that is not plain
    JSON makes :func:`canonical_json` raise :class:`AuditLogError`.
    """
    cls = type(frame)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(frame) or isinstance(frame, type):
            return frame
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(frame))
    return {"kind": cls.__name__, **{n: getattr(frame, n) for n in names}}


@dataclass(frozen=True)
class Anchor:
    """The head of the chain at some moment: keep it outside the log to detect tail loss."""

    seq: int
    hash: str


class VerifyStatus(Enum):
    """Outcome of :func:`verify_log`."""

    SEALED = "sealed"  #: intact chain ending in a seal record: tail complete
    UNSEALED = "unsealed"  #: intact chain, not sealed: tail records could be missing
    BROKEN = "broken"  #: some record is bad; see ``problem`` and ``first_bad_line``


class Problem(Enum):
    """Why the first bad record is bad (or why the log as a whole fails)."""

    EMPTY = "empty"  #: no record at all
    TRUNCATED_LINE = "truncated_line"  #: last line without its newline: an interrupted write
    BAD_JSON = "bad_json"
    NOT_CANONICAL = "not_canonical"  #: bytes differ from the canonical form: edited
    BAD_FIELDS = "bad_fields"
    BAD_HASH = "bad_hash"  #: content does not match its hash: edited
    BAD_SEQ = "bad_seq"  #: deleted, inserted or reordered record
    BAD_PREV_HASH = "bad_prev_hash"  #: chain broken: deleted, inserted or reordered record
    AFTER_SEAL = "after_seal"  #: a record after a seal other than a log_open
    BAD_SIGNATURE = "bad_signature"  #: edited, re-chained without the key, or another key
    UNSIGNED = "unsigned"  #: a key was given but the log (or this record) is not signed
    MIXED_SIGNING = "mixed_signing"  #: signed and unsigned records in one log
    BAD_CHECKPOINT = "bad_checkpoint"  #: a checkpoint or seal misstates the count or head
    NOT_SEALED = "not_sealed"  #: ``require_sealed`` and the log does not end in a seal
    ANCHOR_MISSING = "anchor_missing"  #: the log ends before the anchored record: tail removed
    ANCHOR_MISMATCH = "anchor_mismatch"  #: the anchored record differs from the anchor


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify_log` found; ``first_bad_line`` is 1-based."""

    status: VerifyStatus
    records: int  #: intact records before the first bad one
    head: Anchor | None  #: last intact record
    problem: Problem | None = None
    first_bad_line: int | None = None
    first_bad_seq: int | None = None  #: the seq the first bad line should have had
    detail: str = ""
    signed: bool = False  #: the intact records carry signatures
    authenticated: bool = False  #: every intact record's signature checked with the given key
    key_id: str | None = None  #: the key the log's first log_open names (signed logs)
    checkpoints: int = 0  #: intact checkpoint records
    last_checkpoint_seq: int | None = None
    last_wall_time: float | None = None  #: wall time of the last intact record
    last_checkpoint_wall_time: float | None = None

    @property
    def ok(self) -> bool:
        """True when nothing bad was found (sealed or not, unless sealing was required)."""
        return self.status is not VerifyStatus.BROKEN


def wall_time_text(t: float | None) -> str:
    """A wall time as ISO 8601 UTC, for messages."""
    if t is None:
        return "?"
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    except (OverflowError, OSError, ValueError):
        return repr(t)


@dataclass
class _Scan:
    """Running state of :func:`verify_log`."""

    public_key: Ed25519PublicKey | None
    prev: str = GENESIS_HASH
    n: int = 0
    head: Anchor | None = None
    sealed: bool = False
    signed: bool | None = None  #: decided by the first record
    key_id: str | None = None
    checkpoints: int = 0
    last_checkpoint_seq: int | None = None
    last_wall: float | None = None
    last_checkpoint_wall: float | None = None

    def result(self, status: VerifyStatus, problem: Problem | None = None,
               detail: str = "") -> VerifyResult:
        bad = problem is not None
        return VerifyResult(
            status, self.n, self.head, problem, self.n + 1 if bad else None,
            self.n if bad else None, detail, bool(self.signed),
            bool(self.signed) and self.public_key is not None, self.key_id, self.checkpoints,
            self.last_checkpoint_seq, self.last_wall, self.last_checkpoint_wall)

    def check(self, line: bytes) -> tuple[Problem, str] | dict[str, Any]:
        """The parsed record of line ``n + 1``, or why it is bad."""
        n, prev = self.n, self.prev
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            return Problem.BAD_JSON, f"not JSON: {str(exc)[:120]}"
        if not isinstance(rec, dict) or set(rec) not in (_KEYS, _SIGNED_KEYS):
            return Problem.BAD_FIELDS, f"a record has exactly the keys {sorted(_KEYS)} (+ 'sig')"
        if not (isinstance(rec["type"], str) and type(rec["seq"]) is int
                and isinstance(rec["prev_hash"], str)):
            return Problem.BAD_FIELDS, "a record's type and prev_hash are strings, its seq an integer"
        try:
            canonical = canonical_json(rec)
        except AuditLogError:  # NaN or infinity: json.loads reads them, the log never writes them
            canonical = b""
        if canonical != line:
            return Problem.NOT_CANONICAL, "bytes differ from the canonical JSON of the record"
        if not isinstance(rec["hash"], str) or record_hash(rec) != rec["hash"]:
            return Problem.BAD_HASH, "record content does not match its hash: edited"
        has_sig = "sig" in rec
        if self.signed is None:
            self.signed = has_sig
        elif has_sig != self.signed:
            what = "unsigned record in a signed log" if self.signed else \
                "signed record in an unsigned log"
            return Problem.MIXED_SIGNING, f"{what}: records added or replaced by another writer"
        if self.public_key is not None:
            if not has_sig:
                return Problem.UNSIGNED, ("the log is not signed (written without --key, or an "
                                          "old iabp-audit/1 log): it cannot be authenticated")
            problem = self._signature(rec)
            if problem is not None:
                return problem
        if rec["seq"] != n:
            return Problem.BAD_SEQ, f"seq {rec['seq']} where {n} was due: record deleted, inserted or moved"
        if rec["prev_hash"] != prev:
            return Problem.BAD_PREV_HASH, "prev_hash does not match the record before: chain broken"
        if self.sealed and rec["type"] != OPEN:
            return Problem.AFTER_SEAL, f"a {rec['type']!r} record follows a seal without a log_open"
        if rec["type"] in _STATEMENTS:
            payload = rec["payload"]
            if not isinstance(payload, dict) or payload.get("records") != n + 1 or \
                    payload.get("head", prev) != prev:
                return Problem.BAD_CHECKPOINT, (f"{rec['type']} does not state this log: "
                                                f"{n + 1} records with chain head {prev[:16]}...")
        if rec["type"] == OPEN and self.key_id is None and isinstance(rec["payload"], dict):
            named = rec["payload"].get("key_id")
            self.key_id = named if isinstance(named, str) else None
        return rec

    def _signature(self, rec: Mapping[str, Any]) -> tuple[Problem, str] | None:
        assert self.public_key is not None
        try:
            text = rec["sig"]
            sig = bytes.fromhex(text) if isinstance(text, str) else b""
            if sig.hex() != text:  # "AB" and "ab" are one signature: only one spelling is the log
                raise ValueError("the signature is not written as lowercase hex")
            self.public_key.verify(sig, _signed_message(rec["hash"]))
        except (InvalidSignature, ValueError):
            given = key_id(self.public_key)
            named = self.key_id
            if named is None and rec["type"] == OPEN and isinstance(rec["payload"], dict):
                found = rec["payload"].get("key_id")
                named = found if isinstance(found, str) else None
            if named is not None and named != given:
                why = f"the log names key {named}, not the given {given}: signed by another key"
            else:
                why = ("edited, or forged/re-chained without the private key, or signed by "
                       "another key")
            return Problem.BAD_SIGNATURE, f"signature does not verify with key {given}: {why}"
        return None

    def accept(self, rec: Mapping[str, Any]) -> None:
        self.prev, self.sealed = rec["hash"], rec["type"] == SEAL
        self.head, self.n = Anchor(self.n, self.prev), self.n + 1
        wall = rec["wall_time"]
        self.last_wall = float(wall) if isinstance(wall, (int, float)) else None
        if rec["type"] == CHECKPOINT:
            self.checkpoints += 1
            self.last_checkpoint_seq = self.n - 1
            self.last_checkpoint_wall = self.last_wall


def verify_log(path: str | os.PathLike[str], anchor: Anchor | None = None, *,
               public_key: Ed25519PublicKey | None = None,
               require_sealed: bool = False) -> VerifyResult:
    """Check the whole log at ``path``: the chain; every signature with ``public_key``
    (if given); the statements of checkpoints and seals; the external ``anchor`` (if
    given); and with ``require_sealed`` that the log ends in a seal."""
    scan = _Scan(public_key)
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                detail = f"last line has {len(raw)} bytes and no newline: interrupted write"
                return scan.result(VerifyStatus.BROKEN, Problem.TRUNCATED_LINE, detail)
            checked = scan.check(raw[:-1])
            if isinstance(checked, tuple):
                return scan.result(VerifyStatus.BROKEN, *checked)
            if anchor is not None and scan.n == anchor.seq and checked["hash"] != anchor.hash:
                return scan.result(VerifyStatus.BROKEN, Problem.ANCHOR_MISMATCH,
                                   "record differs from the anchor")
            scan.accept(checked)
    if scan.n == 0:
        return scan.result(VerifyStatus.BROKEN, Problem.EMPTY, "empty log: no records at all")
    if anchor is not None and scan.n <= anchor.seq:
        detail = f"log ends at seq {scan.n - 1}, before the anchored seq {anchor.seq}: tail removed"
        return scan.result(VerifyStatus.BROKEN, Problem.ANCHOR_MISSING, detail)
    if require_sealed and not scan.sealed:
        detail = (f"the log ends at record {scan.n - 1} (wall time "
                  f"{wall_time_text(scan.last_wall)}) without a seal: the tail may have been "
                  "cut, or the monitor crashed, was killed or is still running")
        return scan.result(VerifyStatus.BROKEN, Problem.NOT_SEALED, detail)
    return scan.result(VerifyStatus.SEALED if scan.sealed else VerifyStatus.UNSEALED)


MAX_PENDING_RECORDS: Final = 10_000  #: records that may wait for the disk (minutes of them)
DRAIN_TIMEOUT_S: Final = 10.0  #: how long sealing waits for the disk to take the last records


class DiskWriter:
    """Writes, flushes and fsyncs the log's lines on a thread of its own, in order.

    The monitor's loop must not wait for the disk: an ``fsync`` that meets the kernel's
    periodic write-back can take 100-200 ms on a busy host, longer than the 50 ms silence
    watchdog (suspected cause of the stalls of ``benchmarks/bench_monitor_load.py``). The
    record (hash, signature, bytes) is made in the caller, so the chain and its order are
    the caller's; only the bytes wait here. At most :data:`MAX_PENDING_RECORDS` may wait:
    beyond, or after a failed write, the next :meth:`put` raises
    :class:`AuditLogError` (the monitor treats it as any audit failure). :meth:`drain`
    waits until every line is on disk and raises a write failure.
    """

    def __init__(self, file: Any, path: Path) -> None:
        self._file, self._path = file, path
        self._queue: queue.Queue[bytes | threading.Event] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    def put(self, line: bytes) -> None:
        self._raise_failure()
        if self._queue.qsize() >= MAX_PENDING_RECORDS:
            raise AuditLogError(f"{self._path}: audit log cannot keep up: "
                                f"{MAX_PENDING_RECORDS} records wait for the disk")
        self._queue.put(line)

    def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait (up to ``timeout_s``) until every queued line is written and fsynced."""
        done = threading.Event()
        self._queue.put(done)  # set by the thread once everything before it is written
        if not done.wait(timeout_s):
            raise AuditLogError(f"{self._path}: the disk did not take the audit log's last "
                                f"records within {timeout_s:g} s")
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise AuditLogError(f"{self._path}: audit write failed: {self._error}")

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            if isinstance(line, threading.Event):
                line.set()
                continue
            if self._error is not None:
                continue  # after a failure nothing more is written: the chain would gap
            try:
                self._file.write(line)
                self._file.flush()
                os.fsync(self._file.fileno())
            except (OSError, ValueError) as exc:
                self._error = exc


class AuditLog:
    """The monitor's audit trail: append events, keep a black box of the last frames.

    ``key`` signs every record (None: an unsigned, chain-only log). ``checkpoint_every``
    other records are followed by a signed checkpoint (0: none by count; the monitor adds
    timed ones with :meth:`checkpoint`). ``blackbox_frames`` bounds the ring of recent
    frames (2000 = 2 s of 1 kHz telemetry) written with each event; ``post_frames``
    bounds how many frames after an event are collected for :meth:`write_post_event`.
    ``background`` hands the disk writes to a :class:`DiskWriter` thread (the monitor's
    loop never waits for an fsync); :meth:`seal` then waits until the seal is on disk.
    Opening an existing log verifies it (with the key's public half, if signing) and
    continues its chain; a damaged log, a signed log without its key, an unsigned log
    with a key, or a log signed by another key is refused (keep it, start a new file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        blackbox_frames: int = 2000,
        post_frames: int = 200,
        to_json: Callable[[object], Any] = frame_to_json,
        key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
        background: bool = False,
    ) -> None:
        self.path = Path(path)
        self._ring: deque[object] = deque(maxlen=blackbox_frames)
        self._post: list[object] = []
        self._post_limit = post_frames
        self._post_event: int | None = None
        self._to_json = to_json
        self._key = key
        self.key_id = key_id(key.public_key()) if key is not None else None
        self.checkpoint_every = checkpoint_every
        self._since_checkpoint = 0
        self._next_seq, self._head, self._sealed = 0, GENESIS_HASH, False
        if self.path.is_dir():
            raise AuditLogError(f"{self.path} is a directory, not a log file")
        try:
            if self.path.exists() and self.path.stat().st_size:
                self._continue()
            self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the whole session
        except OSError as exc:
            raise AuditLogError(f"cannot open audit log {str(self.path)!r}: "
                                f"{exc.strerror or exc}") from exc
        if self._next_seq == 0:
            _fsync_dir(self.path)
        self._writer = DiskWriter(self._file, self.path) if background else None

    def _continue(self) -> None:
        public = self._key.public_key() if self._key is not None else None
        found = verify_log(self.path, public_key=public)
        if found.status is VerifyStatus.BROKEN or found.head is None:
            raise AuditLogError(
                f"{self.path}: cannot continue this log ({found.problem.value if found.problem else '?'}, "
                f"line {found.first_bad_line}: {found.detail}); keep it and start a new file")
        if found.signed and self._key is None:
            raise AuditLogError(f"{self.path}: the log is signed (key {found.key_id}); continue "
                                "it only with its key, or start a new file")
        self._next_seq, self._head = found.head.seq + 1, found.head.hash
        self._sealed = found.status is VerifyStatus.SEALED

    @property
    def signed(self) -> bool:
        """Every record of this session is signed."""
        return self._key is not None

    def anchor(self) -> Anchor:
        """The current head (seq and hash of the last record), to be stored outside the log."""
        return Anchor(self._next_seq - 1, self._head)

    def push_frame(self, frame: object) -> bool:
        """Remember one decoded frame (no disk write); True once a post-event window is full."""
        self._ring.append(frame)
        if self._post_event is not None and len(self._post) < self._post_limit:
            self._post.append(frame)
        return self._post_event is not None and len(self._post) >= self._post_limit

    def append(self, event_type: str, payload: Mapping[str, Any], wall_time: float) -> Anchor:
        """Write one record (signed if there is a key), flush and fsync it; return the new
        head. Every ``checkpoint_every`` records a checkpoint follows on its own."""
        head = self._write(event_type, payload, wall_time)
        if event_type in _STATEMENTS:
            self._since_checkpoint = 0
        elif event_type == OPEN:
            self._since_checkpoint = 1
        else:
            self._since_checkpoint += 1
            if self.checkpoint_every and self._since_checkpoint >= self.checkpoint_every:
                self.checkpoint(wall_time, reason="records")
        return head

    def _write(self, event_type: str, payload: Mapping[str, Any], wall_time: float) -> Anchor:
        if self._sealed and event_type != OPEN:
            raise AuditLogError(f"{self.path}: log is sealed; reopen it to append")
        record: dict[str, Any] = {
            "seq": self._next_seq, "wall_time": wall_time, "type": event_type,
            "payload": dict(payload), "prev_hash": self._head,
        }
        record["hash"] = record_hash(record)
        if self._key is not None:
            record["sig"] = self._key.sign(_signed_message(record["hash"])).hex()
        line = canonical_json(record) + b"\n"
        if self._writer is not None:
            self._writer.put(line)
        else:
            try:
                self._file.write(line)
                self._file.flush()
                os.fsync(self._file.fileno())
            except (OSError, ValueError) as exc:
                raise AuditLogError(f"{self.path}: audit write failed: {exc}") from exc
        self._next_seq, self._head = self._next_seq + 1, record["hash"]
        self._sealed = event_type == SEAL
        return Anchor(record["seq"], record["hash"])

    def open_session(self, wall_time: float, **info: Any) -> Anchor:
        """Write the ``log_open`` record that starts (or resumes after a seal) a session."""
        fmt = SIGNED_FORMAT if self._key is not None else FORMAT
        keyed = {"key_id": self.key_id} if self.key_id is not None else {}
        return self.append(OPEN, {"format": fmt, "resumed": self._next_seq > 0,
                                  "checkpoint_every": self.checkpoint_every, **keyed, **info},
                           wall_time)

    def checkpoint(self, wall_time: float, reason: str = "interval",
                   state: Mapping[str, Any] | None = None) -> Anchor | None:
        """Write a checkpoint stating the record count and chain head (and the caller's
        ``state``, e.g. frames seen and trips so far). None if the log is sealed."""
        if self._sealed:
            return None
        payload: dict[str, Any] = {"records": self._next_seq + 1, "head": self._head,
                                   "reason": reason}
        if state:
            payload["state"] = dict(state)
        return self.append(CHECKPOINT, payload, wall_time)

    def record_event(self, event_type: str, payload: Mapping[str, Any], wall_time: float) -> Anchor:
        """Write an event and the black box of the frames before it; start the post window."""
        if self._post_event is not None:
            self.write_post_event(wall_time)
        head = self.append(event_type, payload, wall_time)
        frames = [self._to_json(f) for f in self._ring]
        self.append(BLACKBOX_PRE, {"event_seq": head.seq, "frames": frames}, wall_time)
        self._post_event, self._post = head.seq, []
        return head

    def write_post_event(self, wall_time: float) -> Anchor | None:
        """Write the frames collected since the last event (up to ``post_frames``), if any."""
        if self._post_event is None:
            return None
        payload = {"event_seq": self._post_event, "frames": [self._to_json(f) for f in self._post]}
        self._post_event, self._post = None, []
        return self.append(BLACKBOX_POST, payload, wall_time)

    def seal(self, wall_time: float) -> Anchor:
        """Close the session: pending post-event frames, then a seal stating the record
        count and the chain head (signed like every record)."""
        self.write_post_event(wall_time)
        head = self.append(SEAL, {"records": self._next_seq + 1, "head": self._head}, wall_time)
        if self._writer is not None:
            self._writer.drain()  # the seal is on disk, or the failure is raised
        return head

    def close(self) -> None:
        """Close the file (does not seal: call :meth:`seal` first for a clean end). With a
        background writer, what is queued is written first (up to its drain timeout);
        never raises."""
        if self._writer is not None:
            with contextlib.suppress(AuditLogError):
                self._writer.drain()
        self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(path: Path) -> None:
    """Make a new log's directory entry durable too (POSIX; best effort elsewhere)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
