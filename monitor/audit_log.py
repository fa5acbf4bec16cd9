"""Append-only, hash-chained audit log of the monitor, with a black-box window of telemetry.

Every record is one line of canonical JSON (sorted keys, no spaces, ASCII)::

    {"hash": H, "payload": {...}, "prev_hash": P, "seq": N, "type": T, "wall_time": W}

where ``H = sha256(canonical JSON of the record without "hash")`` and ``P`` is the
previous record's ``H`` (``GENESIS_HASH`` for the first). Each record is flushed and
``os.fsync``'d before :meth:`AuditLog.append` returns. Wall time is passed in by the
caller (the clock is injected; nothing here reads it).

What :func:`verify_log` detects: any edited byte, a deleted, inserted or reordered line,
and a truncated last line, naming the first bad record. What it cannot detect on its
own: whole records removed from the end of a log that was not sealed (a crash leaves the
same picture), or a log rewritten by someone who recomputes every hash (there is no
key). Both need an external anchor: store :meth:`AuditLog.anchor` elsewhere (on the
console, a second disk, a printout) and pass it to :func:`verify_log`. A cleanly closed
log ends with a ``seal`` record, so its tail is complete as long as the seal is there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final

from iabp.spec.errors import IabpError

FORMAT: Final = "iabp-audit/1"
GENESIS_HASH: Final = hashlib.sha256(b"IABP monitor audit log v1 genesis").hexdigest()
SEAL: Final = "seal"
OPEN: Final = "log_open"
BLACKBOX_PRE: Final = "blackbox_pre"
BLACKBOX_POST: Final = "blackbox_post"
_KEYS: Final = frozenset({"seq", "wall_time", "type", "payload", "prev_hash", "hash"})


class AuditLogError(IabpError):
    """The audit log cannot be written or continued (not a failed verification: a result)."""


def canonical_json(obj: object) -> bytes:
    """The one byte form that is hashed and written: sorted keys, no spaces, ASCII, no NaN."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AuditLogError(f"audit payload is not plain JSON: {exc}") from exc
    return text.encode("ascii")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``hash`` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


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
    UNSEALED = "unsealed"  #: intact chain, not sealed: tail records could be missing (anchor?)
    BROKEN = "broken"  #: some record is bad; see ``problem`` and ``first_bad_line``


class Problem(Enum):
    """Why the first bad record is bad."""

    TRUNCATED_LINE = "truncated_line"  #: last line without its newline: an interrupted write
    BAD_JSON = "bad_json"
    NOT_CANONICAL = "not_canonical"  #: bytes differ from the canonical form: edited
    BAD_FIELDS = "bad_fields"
    BAD_HASH = "bad_hash"  #: content does not match its hash: edited
    BAD_SEQ = "bad_seq"  #: deleted, inserted or reordered record
    BAD_PREV_HASH = "bad_prev_hash"  #: chain broken: deleted, inserted or reordered record
    AFTER_SEAL = "after_seal"  #: a record after a seal other than a log_open
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

    @property
    def ok(self) -> bool:
        """True when nothing bad was found (sealed or not)."""
        return self.status is not VerifyStatus.BROKEN


def _broken(n: int, head: Anchor | None, problem: Problem, detail: str) -> VerifyResult:
    return VerifyResult(VerifyStatus.BROKEN, n, head, problem, n + 1, n, detail)


def _check_line(line: bytes, n: int, prev: str, after_seal: bool) -> tuple[Problem, str] | dict[str, Any]:
    """The parsed record of line ``n + 1``, or why it is bad."""
    try:
        rec = json.loads(line)
    except ValueError as exc:
        return Problem.BAD_JSON, f"not JSON: {exc}"
    if not isinstance(rec, dict) or set(rec) != _KEYS:
        return Problem.BAD_FIELDS, f"a record has exactly the keys {sorted(_KEYS)}"
    if canonical_json(rec) != line:
        return Problem.NOT_CANONICAL, "bytes differ from the canonical JSON of the record"
    if record_hash(rec) != rec["hash"]:
        return Problem.BAD_HASH, "record content does not match its hash: edited"
    if rec["seq"] != n:
        return Problem.BAD_SEQ, f"seq {rec['seq']} where {n} was due: record deleted, inserted or moved"
    if rec["prev_hash"] != prev:
        return Problem.BAD_PREV_HASH, "prev_hash does not match the record before: chain broken"
    if after_seal and rec["type"] != OPEN:
        return Problem.AFTER_SEAL, f"a {rec['type']!r} record follows a seal without a log_open"
    return rec


def verify_log(path: str | os.PathLike[str], anchor: Anchor | None = None) -> VerifyResult:
    """Check the whole chain of the log at ``path`` (and the external ``anchor`` if given)."""
    prev, head, sealed, n = GENESIS_HASH, None, False, 0
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                detail = f"last line has {len(raw)} bytes and no newline: interrupted write"
                return _broken(n, head, Problem.TRUNCATED_LINE, detail)
            checked = _check_line(raw[:-1], n, prev, sealed)
            if isinstance(checked, tuple):
                return _broken(n, head, *checked)
            if anchor is not None and n == anchor.seq and checked["hash"] != anchor.hash:
                return _broken(n, head, Problem.ANCHOR_MISMATCH, "record differs from the anchor")
            prev, sealed = checked["hash"], checked["type"] == SEAL
            head, n = Anchor(n, prev), n + 1
    if anchor is not None and n <= anchor.seq:
        detail = f"log ends at seq {n - 1}, before the anchored seq {anchor.seq}: tail removed"
        return _broken(n, head, Problem.ANCHOR_MISSING, detail)
    return VerifyResult(VerifyStatus.SEALED if sealed else VerifyStatus.UNSEALED, n, head)


class AuditLog:
    """The monitor's audit trail: append events, keep a black box of the last frames.

    ``blackbox_frames`` bounds the ring of recent frames (2000 = 2 s of 1 kHz telemetry)
    written with each event; ``post_frames`` bounds how many frames after an event are
    collected for :meth:`write_post_event`. Opening an existing log verifies it and
    continues its chain; a damaged log is refused (keep it as evidence, start a new file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        blackbox_frames: int = 2000,
        post_frames: int = 200,
        to_json: Callable[[object], Any] = frame_to_json,
    ) -> None:
        self.path = Path(path)
        self._ring: deque[object] = deque(maxlen=blackbox_frames)
        self._post: list[object] = []
        self._post_limit = post_frames
        self._post_event: int | None = None
        self._to_json = to_json
        self._next_seq, self._head, self._sealed = 0, GENESIS_HASH, False
        if self.path.exists() and self.path.stat().st_size:
            found = verify_log(self.path)
            if found.status is VerifyStatus.BROKEN or found.head is None:
                raise AuditLogError(
                    f"{self.path}: cannot continue a damaged log ({found.problem}, line "
                    f"{found.first_bad_line}: {found.detail}); keep it and start a new file"
                )
            self._next_seq, self._head = found.head.seq + 1, found.head.hash
            self._sealed = found.status is VerifyStatus.SEALED
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the whole session
        if self._next_seq == 0:
            _fsync_dir(self.path)

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
        """Write one record, flush and fsync it; return the new head."""
        if self._sealed and event_type != OPEN:
            raise AuditLogError(f"{self.path}: log is sealed; reopen it to append")
        record: dict[str, Any] = {
            "seq": self._next_seq, "wall_time": wall_time, "type": event_type,
            "payload": dict(payload), "prev_hash": self._head,
        }
        record["hash"] = record_hash(record)
        line = canonical_json(record) + b"\n"
        try:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise AuditLogError(f"{self.path}: audit write failed: {exc}") from exc
        self._next_seq, self._head = self._next_seq + 1, record["hash"]
        self._sealed = event_type == SEAL
        return Anchor(record["seq"], record["hash"])

    def open_session(self, wall_time: float, **info: Any) -> Anchor:
        """Write the ``log_open`` record that starts (or resumes after a seal) a session."""
        return self.append(OPEN, {"format": FORMAT, "resumed": self._next_seq > 0, **info}, wall_time)

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
        """Close the session: pending post-event frames, then a seal naming the record count."""
        self.write_post_event(wall_time)
        return self.append(SEAL, {"records": self._next_seq + 1}, wall_time)

    def close(self) -> None:
        """Close the file (does not seal: call :meth:`seal` first for a clean end)."""
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
