"""Stream parser: console bytes in, frames and integrity events out (HZ-BLIND).

The monitor reads the console's serial line in whatever chunks the port returns and
feeds them to :class:`StreamParser`. Every byte ends up in exactly one of: a delivered
frame, a flag, the bounded partial-frame buffer, or the discarded count of a reported
:class:`IntegrityEvent`. The parser never raises on any byte sequence, resynchronises at
the next ``0x7E`` flag after garbage, and reports every frame it could not deliver, so
the monitor's fail-safe (REQ-MON-FAILSAFE: "corrupt or out-of-order telemetry beyond a
threshold") can count faults instead of silently losing telemetry.

A frame discarded between two flags (CRC error, bad escape, ...) leaves a gap in the
sequence numbers; the SEQ_GAP that follows is still reported, but says how many of its
lost frames were already reported as discarded (``already_reported``), so the fail-safe
counts each bad frame once (:attr:`IntegrityEvent.counted_frames`).

Framing (flags, byte stuffing) is done here; the frame contents are decoded by a
pluggable :class:`iabp.monitor.protocol.FrameCodec` (protocol v1 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from iabp.monitor.protocol import (
    MAX_WIRE_CONTENT_BYTES,
    SETTINGS_PERIOD_MS,
    UINT32_MOD,
    V1_CODEC,
    BadEscapeError,
    BadFieldValueError,
    BadRecordLengthError,
    CrcError,
    ForbiddenCommandError,
    FrameCodec,
    FrameTooLongError,
    HelloFrame,
    LinkRole,
    SequencedFrame,
    TruncatedFrameError,
    UnknownRecordTypeError,
    UnsupportedVersionError,
    unescape,
)
from iabp.spec.errors import ProtocolError

_FLAG: Final = b"\x7e"
_ESC: Final = 0x7D
_HALF: Final = UINT32_MOD // 2


class IntegrityKind(Enum):
    """What went wrong with the byte stream or the frame sequence."""

    GARBAGE = "garbage"  #: bytes outside any frame (before the first flag, or while hunting)
    OVERSIZE = "oversize"  #: more bytes than max_frame_bytes without a closing flag
    BUFFER_OVERFLOW = "buffer_overflow"  #: input beyond max_buffer_bytes in one call: oldest dropped
    TRUNCATED = "truncated"  #: too short for a record + FCS, or cut off by the end of the stream
    BAD_ESCAPE = "bad_escape"
    CRC_ERROR = "crc_error"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_RECORD = "unknown_record"
    BAD_LENGTH = "bad_length"
    BAD_FIELD = "bad_field"
    FORBIDDEN_COMMAND = "forbidden_command"
    SEQ_GAP = "seq_gap"  #: ``frames_lost`` frames never arrived (so far)
    SEQ_DUPLICATE = "seq_duplicate"  #: a frame seen before, not delivered again
    SEQ_REORDER = "seq_reorder"  #: a frame arriving after a later one, not delivered
    SEQ_RESET = "seq_reset"  #: sender restarted (HELLO) or its counter jumped back far
    TIME_BACKWARDS = "time_backwards"  #: console time went back between in-order frames
    TIME_JUMP = "time_jump"  #: console time advanced more than max_time_step_ms per frame
    #: no SETTINGS record for more than max_settings_gap_ms of console time (PROTOCOL.md
    #: section 5: one at least every 1000 ms); reported again each further gap
    SETTINGS_OVERDUE = "settings_overdue"
    #: a console HELLO announcing a control tick other than the one the receiver's
    #: timing is computed in (``console_tick_us``)
    HELLO_MISMATCH = "hello_mismatch"


_KIND_OF_ERROR: Final[Mapping[type[ProtocolError], IntegrityKind]] = {
    CrcError: IntegrityKind.CRC_ERROR,
    FrameTooLongError: IntegrityKind.OVERSIZE,
    TruncatedFrameError: IntegrityKind.TRUNCATED,
    BadEscapeError: IntegrityKind.BAD_ESCAPE,
    UnsupportedVersionError: IntegrityKind.UNSUPPORTED_VERSION,
    UnknownRecordTypeError: IntegrityKind.UNKNOWN_RECORD,
    BadRecordLengthError: IntegrityKind.BAD_LENGTH,
    BadFieldValueError: IntegrityKind.BAD_FIELD,
    ForbiddenCommandError: IntegrityKind.FORBIDDEN_COMMAND,
}


def _kind_of(exc: ProtocolError) -> IntegrityKind:
    for cls in type(exc).__mro__:
        kind = _KIND_OF_ERROR.get(cls)
        if kind is not None:
            return kind
    return IntegrityKind.BAD_FIELD


@dataclass(frozen=True, slots=True)
class IntegrityEvent:
    """A reported fault in the telemetry stream; never silent, never an exception."""

    kind: IntegrityKind
    detail: str
    stream_offset: int  #: offset of the first byte concerned, counted from the first byte fed
    byte_count: int = 0  #: bytes discarded because of this event
    #: for SEQ_GAP: how many sequence numbers were skipped; for TIME_JUMP: how many ticks
    #: of console time no record accounts for
    frames_lost: int = 0
    seq: int | None = None  #: sequence number of the frame concerned, when one was decoded
    frame: SequencedFrame | None = None  #: the undelivered frame of a duplicate / reorder
    #: for SEQ_GAP: how many of the ``frames_lost`` were frames this parser already reported
    #: as discarded (CRC error, bad escape, ...) since the last delivered frame: the gap a
    #: discarded frame leaves is the same frame, not a second fault
    already_reported: int = 0

    @property
    def counted_frames(self) -> int:
        """Bad frames this event adds to an integrity count: each missing frame counts once.

        A SEQ_GAP counts only the lost frames not already reported as discarded (0 when
        every missing sequence number belongs to a frame discarded just before); every
        other event counts 1.
        """
        if self.kind is IntegrityKind.SEQ_GAP:
            return max(0, self.frames_lost - self.already_reported)
        # a TIME_JUMP counts 1 (its size is judged on its own: IntegrityThresholds)
        if self.kind in (IntegrityKind.SETTINGS_OVERDUE, IntegrityKind.HELLO_MISMATCH):
            return 0  # every frame arrived: the fault is the sender's, not the line's
        return 1


ParseEvent = SequencedFrame | IntegrityEvent


@dataclass(frozen=True)
class ParserStats:
    """Counters since the parser was made (or reset)."""

    bytes_in: int
    bytes_delivered: int  #: escaped content bytes of delivered frames (flags excluded)
    bytes_discarded: int
    flag_bytes: int
    buffered_bytes: int  #: partial frame held until its closing flag
    frames_ok: int
    errors: Mapping[IntegrityKind, int] = field(default_factory=dict)

    @property
    def error_total(self) -> int:
        """All integrity events of every kind."""
        return sum(self.errors.values())


class StreamParser:
    """Bounded, never-raising parser of a flag-delimited frame stream from one sender.

    ``max_frame_bytes`` bounds the escaped content between two flags, ``max_buffer_bytes``
    the bytes handled by one :meth:`feed` (partial frame + new chunk; the oldest excess is
    dropped and reported). Sequence numbers are checked with a window of
    ``reorder_window`` frames; console time may advance at most ``max_time_step_ms`` per
    sequence step (one 1 ms tick per record in protocol v1). A frame that carries the
    settings (``carries_settings``) must follow the last one (or the first frame seen)
    within ``max_settings_gap_ms`` of console time (the monitor reading a console passes
    ``SETTINGS_GAP_MAX_MS``); ``None``: not checked (e.g. the console reading commands).
    A console HELLO must announce ``console_tick_us`` (the monitor passes
    ``CONSOLE_TICK_US``: its rules count one record as 1 ms); ``None``: not checked.
    """

    def __init__(
        self,
        codec: FrameCodec = V1_CODEC,
        *,
        max_frame_bytes: int = MAX_WIRE_CONTENT_BYTES,
        max_buffer_bytes: int = 65536,
        reorder_window: int = 64,
        max_time_step_ms: int = 1,
        max_settings_gap_ms: int | None = None,
        console_tick_us: int | None = None,
    ) -> None:
        if max_frame_bytes < 1 or max_buffer_bytes < 2 * (max_frame_bytes + 2):
            raise ProtocolError(
                f"max_buffer_bytes ({max_buffer_bytes}) must hold two frames of "
                f"max_frame_bytes ({max_frame_bytes}) with their flags"
            )
        if not 1 <= reorder_window <= 4096 or max_time_step_ms < 0:
            raise ProtocolError("reorder_window must be 1..4096 and max_time_step_ms >= 0")
        self._decode = codec.decode_payload
        self._max_frame = max_frame_bytes
        self._max_buffer = max_buffer_bytes
        self._window = reorder_window
        self._window_mask = (1 << reorder_window) - 1
        self._max_step = max_time_step_ms
        self._max_settings_gap = max_settings_gap_ms
        self._console_tick_us = console_tick_us
        self.reset()

    def reset(self) -> None:
        """Forget all state and counters, as after reopening the port: hunt for a flag."""
        self._carry = b""
        self._hunting = True
        self._offset = 0
        self._last_seq: int | None = None
        self._last_time = 0
        self._settings_time = 0  # console time of the last settings (or of the baseline)
        self._seen = 0  # bit i set: sequence number (last_seq - i) was received
        self._discarded_frames = 0  # frames (between two flags) discarded since the last delivery
        self._bytes_in = 0
        self._bytes_ok = 0
        self._discarded = 0
        self._flags = 0
        self._frames_ok = 0
        self._errors: dict[IntegrityKind, int] = {}

    @property
    def buffered_bytes(self) -> int:
        """Bytes of a partial frame held until its closing flag (never > max_frame_bytes)."""
        return len(self._carry)

    def stats(self) -> ParserStats:
        """A snapshot of the counters."""
        return ParserStats(
            self._bytes_in, self._bytes_ok, self._discarded, self._flags, len(self._carry),
            self._frames_ok, dict(self._errors),
        )

    def _report(self, events: list[ParseEvent], event: IntegrityEvent) -> None:
        self._errors[event.kind] = self._errors.get(event.kind, 0) + 1
        self._discarded += event.byte_count
        events.append(event)

    def feed(self, data: bytes | bytearray | memoryview) -> list[ParseEvent]:
        """Parse the next chunk read from the port; return frames and faults in stream order."""
        events: list[ParseEvent] = []
        buf, pos = self._take(bytes(data), events)
        parts = buf.split(_FLAG)
        tail = parts.pop()  # bytes after the last flag: the start of a frame still arriving
        self._flags += len(parts)
        if self._hunting:
            garbage = parts[0] if parts else tail
            if garbage:
                self._report(events, IntegrityEvent(
                    IntegrityKind.GARBAGE, f"{len(garbage)} bytes outside any frame skipped",
                    pos, len(garbage),
                ))
            if not parts:
                return events
            self._hunting = False
            pos += len(garbage) + 1
            parts = parts[1:]
        for part in parts:
            if part:  # empty: two flags in a row (idle fill)
                self._candidate(part, pos, events)
            pos += len(part) + 1
        self._keep_tail(tail, pos, events)
        return events

    def _take(self, chunk: bytes, events: list[ParseEvent]) -> tuple[bytes, int]:
        """Join the held partial frame and ``chunk``; drop the oldest bytes beyond the bound."""
        self._bytes_in += len(chunk)
        buf = self._carry + chunk if self._carry else chunk
        base = self._offset - len(self._carry)  # stream offset of buf[0]
        self._offset += len(chunk)
        self._carry = b""
        if len(buf) > self._max_buffer:
            drop = len(buf) - self._max_buffer
            self._report(events, IntegrityEvent(
                IntegrityKind.BUFFER_OVERFLOW,
                f"{drop} oldest bytes dropped: more than {self._max_buffer} bytes in one feed",
                base, drop,
            ))
            buf, base, self._hunting = buf[drop:], base + drop, True
        return buf, base

    def finish(self) -> list[ParseEvent]:
        """End of stream (port closed): a partial frame still buffered is reported truncated."""
        events: list[ParseEvent] = []
        if self._carry:
            n = len(self._carry)
            self._report(events, IntegrityEvent(
                IntegrityKind.TRUNCATED, f"stream ended inside a frame after {n} bytes",
                self._offset - n, n,
            ))
        self._carry = b""
        self._hunting = True
        return events

    def _keep_tail(self, tail: bytes, pos: int, events: list[ParseEvent]) -> None:
        if len(tail) > self._max_frame:
            self._report(events, IntegrityEvent(
                IntegrityKind.OVERSIZE,
                f"{len(tail)} bytes without a closing flag (max {self._max_frame}); hunting",
                pos, len(tail),
            ))
            self._hunting = True
        else:
            self._carry = tail

    def _candidate(self, part: bytes, pos: int, events: list[ParseEvent]) -> None:
        """Decode the escaped bytes between two flags and check their place in the sequence."""
        n = len(part)
        if n > self._max_frame:
            self._discarded_frames += 1
            self._report(events, IntegrityEvent(
                IntegrityKind.OVERSIZE, f"{n} bytes between flags (max {self._max_frame})", pos, n
            ))
            return
        try:
            frame = self._decode(unescape(part) if _ESC in part else part)
        except ProtocolError as exc:
            self._discarded_frames += 1
            self._report(events, IntegrityEvent(_kind_of(exc), str(exc), pos, n))
            return
        if self._in_order(frame, pos, n, events):
            if frame.carries_settings:
                self._settings_time = frame.time_ms
            elif self._max_settings_gap is not None and \
                    (frame.time_ms - self._settings_time) % UINT32_MOD > self._max_settings_gap:
                self._settings_overdue(frame, pos, events)
            self._discarded_frames = 0
            self._frames_ok += 1
            self._bytes_ok += n
            events.append(frame)
            if (self._console_tick_us is not None and type(frame) is HelloFrame
                    and frame.role is LinkRole.CONSOLE and frame.tick_us != self._console_tick_us):
                self._report(events, IntegrityEvent(
                    IntegrityKind.HELLO_MISMATCH,
                    f"console HELLO announces a {frame.tick_us} us control tick; this monitor "
                    f"times every rule in {self._console_tick_us} us ticks (protocol v1)",
                    pos, seq=frame.seq))

    def _in_order(self, frame: SequencedFrame, pos: int, n: int, events: list[ParseEvent]) -> bool:
        """Check sequence and console time; update the baseline; True if the frame is delivered."""
        seq, t, last = frame.seq, frame.time_ms, self._last_seq
        if last is None or frame.starts_session:
            if last is not None:
                self._report(events, IntegrityEvent(
                    IntegrityKind.SEQ_RESET, f"HELLO: sender restarted at seq {seq} (was {last})",
                    pos, seq=seq,
                ))
            self._last_seq, self._last_time, self._seen = seq, t, 1
            self._settings_time = t
            return True
        step = (seq - last) % UINT32_MOD
        if step == 1:
            self._seen = (self._seen << 1 | 1) & self._window_mask
        elif step == 0 or step >= _HALF:
            return self._late(frame, (last - seq) % UINT32_MOD, pos, n, events)
        else:
            lost, known = step - 1, min(step - 1, self._discarded_frames)
            seen = f" ({known} of them discarded above)" if known else ""
            self._report(events, IntegrityEvent(
                IntegrityKind.SEQ_GAP, f"{lost} frames lost between seq {last} and {seq}{seen}",
                pos, frames_lost=lost, seq=seq, already_reported=known,
            ))
            self._seen = (self._seen << step | 1) & self._window_mask
        self._check_time(seq, t, step, pos, events)
        self._last_seq, self._last_time = seq, t
        return True

    def _late(
        self, frame: SequencedFrame, back: int, pos: int, n: int, events: list[ParseEvent]
    ) -> bool:
        """A frame at or behind the newest one: duplicate, reordered, or a counter reset."""
        seq = frame.seq
        if back >= self._window:
            self._report(events, IntegrityEvent(
                IntegrityKind.SEQ_RESET,
                f"seq {seq} is {back} behind {self._last_seq} without a HELLO; new baseline",
                pos, seq=seq,
            ))
            self._last_seq, self._last_time, self._seen = seq, frame.time_ms, 1
            self._settings_time = frame.time_ms
            return True
        if self._seen >> back & 1:
            self._report(events, IntegrityEvent(
                IntegrityKind.SEQ_DUPLICATE, f"seq {seq} received again; not delivered", pos, n,
                seq=seq, frame=frame,
            ))
        else:
            self._seen |= 1 << back
            self._report(events, IntegrityEvent(
                IntegrityKind.SEQ_REORDER,
                f"seq {seq} arrived after seq {self._last_seq}; not delivered", pos, n,
                seq=seq, frame=frame,
            ))
        return False

    def _settings_overdue(self, frame: SequencedFrame, pos: int,
                          events: list[ParseEvent]) -> None:
        """Console time since the last settings passed the limit: report it (unless time
        went backwards, a fault of its own), then wait another whole gap."""
        limit = self._max_settings_gap
        gap = (frame.time_ms - self._settings_time) % UINT32_MOD
        if limit is None or gap >= _HALF:
            return
        self._report(events, IntegrityEvent(
            IntegrityKind.SETTINGS_OVERDUE,
            f"no SETTINGS record for {gap} ms of console time at seq {frame.seq} (the console "
            f"sends one at least every {SETTINGS_PERIOD_MS} ms; limit {limit} ms)",
            pos, seq=frame.seq,
        ))
        self._settings_time = frame.time_ms

    def _check_time(self, seq: int, t: int, step: int, pos: int, events: list[ParseEvent]) -> None:
        dt = (t - self._last_time) % UINT32_MOD
        if dt == 0 or (dt == 1 and self._max_step >= 1):
            return  # the 1 kHz common case
        if dt >= _HALF:
            self._report(events, IntegrityEvent(
                IntegrityKind.TIME_BACKWARDS,
                f"console time went back {UINT32_MOD - dt} ms at seq {seq}", pos, seq=seq,
            ))
        elif dt > self._max_step * step:
            skipped = dt - self._max_step * step  # ticks no record accounts for
            self._report(events, IntegrityEvent(
                IntegrityKind.TIME_JUMP,
                f"console time advanced {dt} ms over {step} sequence steps at seq {seq} "
                f"(max {self._max_step} ms per step): {skipped} ticks without a record",
                pos, frames_lost=skipped, seq=seq,
            ))
