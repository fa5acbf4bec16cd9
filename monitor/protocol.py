"""Console telemetry and monitor command protocol, version 1 (the wire format of PROTOCOL.md).

The console streams one TELEMETRY record per 1 ms control tick, plus SETTINGS, EVENT and
HELLO records; the monitor answers with HELLO and COMMAND records. A COMMAND can only
say STOP (go to standby, deflate) or ALARM_ACKNOWLEDGE: there is no record, field or
value by which the monitor could ask the pump to inflate, start pumping or change a
setting, and :func:`encode_frame` refuses to build any other command.

Framing is HDLC-like (as PPP and the Datex S/5 use): ``0x7E`` flag, ``0x7D`` escape with
XOR ``0x20``, and a CRC-16/X-25 frame check sequence (the PPP FCS-16) sent low byte
first. Multi-byte fields are little-endian. Fields are kept in integer wire units whose
names carry the unit (``ecg_uv`` in microvolts, ``*_mmhg_x10`` in tenths of mmHg);
properties give physical values. The stream parser (``iabp.monitor.parser``) does the
framing; a :class:`FrameCodec` turns frame contents into frames, so a real console's
format can be another module.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, Protocol

from iabp.spec.assumptions import TICK_MS
from iabp.spec.errors import ProtocolError
from iabp.spec.modes import Alarm, Mode

PROTOCOL_VERSION: Final = 1
BAUD_RATE: Final = 921600
"""Line rate in bit/s (8N1, no flow control): 1 kHz telemetry needs up to 62 000 byte/s."""
FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
ESCAPE_XOR: Final = 0x20
HEADER_BYTES: Final = 10
FCS_BYTES: Final = 2
MAX_PAYLOAD_BYTES: Final = 128
"""Largest record (header + body, before escaping) any v1 receiver must accept."""
MAX_CONTENT_BYTES: Final = MAX_PAYLOAD_BYTES + FCS_BYTES
MAX_WIRE_CONTENT_BYTES: Final = 2 * MAX_CONTENT_BYTES
"""Largest escaped content between two flags (every byte escaped)."""
MIN_CONTENT_BYTES: Final = HEADER_BYTES + FCS_BYTES
CRC_GOOD_RESIDUE: Final = 0x0F47
"""``crc16(record + fcs)`` of an intact frame (RFC 1662's good FCS 0xF0B8, complemented)."""
UINT32_MOD: Final = 1 << 32
NOT_AVAILABLE: Final = -32768
"""Signal sample sentinel: lead off / no transducer. Never read as zero."""
NO_ALARM: Final = 0xFF
ALARM_MASK_VALID: Final = sum(1 << int(a) for a in Alarm)
#: ms of console time. The console sends a SETTINGS record on every change and at least
#: this often (section 5): a monitor started mid-stream learns the settings within it.
SETTINGS_PERIOD_MS: Final = 1000
#: ms of console time a receiver waits for the next SETTINGS before it names the console's
#: settings sender broken (SETTINGS_OVERDUE): two periods, so that one SETTINGS record lost
#: to a corrupted frame (already counted once by the integrity guard) is not a second fault.
SETTINGS_GAP_MAX_MS: Final = 2 * SETTINGS_PERIOD_MS
#: The control tick of a protocol v1 console (HELLO ``tick_us``): one TELEMETRY record per
#: tick is one ms of console time, the unit of every interval the monitor judges.
CONSOLE_TICK_US: Final = TICK_MS * 1000


class RecordType(IntEnum):
    """Second byte of every record."""

    TELEMETRY = 0x01  #: console -> monitor, one per 1 ms tick
    SETTINGS = 0x02  #: console -> monitor, on every change and at least once a second
    EVENT = 0x03  #: console -> monitor, alarm / mode / operator events
    HELLO = 0x04  #: both ways, at start and after any restart
    COMMAND = 0x10  #: monitor -> console: STOP or ALARM_ACKNOWLEDGE only


class ConsolePhase(IntEnum):
    """The console's own cardiac phase estimate: informative, never used for timing checks."""

    UNKNOWN = 0
    SYSTOLE = 1
    DIASTOLE = 2


class EventKind(IntEnum):
    """What an EVENT record reports."""

    ALARM_RAISED = 1
    ALARM_CLEARED = 2
    ALARM_ACKNOWLEDGED = 3
    MODE_CHANGED = 4
    SETTINGS_ACCEPTED = 5
    SETTINGS_REJECTED = 6
    OPERATOR_KEY = 7  #: detail = spec.modes.OperatorCommand value
    COMMAND_EXECUTED = 8  #: detail = seq of the monitor COMMAND record
    COMMAND_REFUSED = 9  #: detail = seq of the monitor COMMAND record


class LinkRole(IntEnum):
    """Which end of the console-monitor link sent a HELLO."""

    CONSOLE = 0
    MONITOR = 1


class MonitorCommand(IntEnum):
    """The only two things the monitor may ever ask of the console."""

    STOP = 1  #: go to standby and deflate, as the operator's standby key
    ALARM_ACKNOWLEDGE = 2  #: acknowledge the active alarms


class CrcError(ProtocolError):
    """The frame check sequence does not match: the bytes were corrupted in transit."""


class FrameTooLongError(ProtocolError):
    """More bytes between two flags than any v1 record can have."""


class TruncatedFrameError(ProtocolError):
    """Fewer bytes than a header and a frame check sequence."""


class BadEscapeError(ProtocolError):
    """``0x7D`` not followed by ``0x5E`` or ``0x5D``."""


class UnsupportedVersionError(ProtocolError):
    """A record of a protocol version this decoder does not read (the CRC was good)."""


class UnknownRecordTypeError(ProtocolError):
    """A record type that v1 does not define (the CRC was good)."""


class BadRecordLengthError(ProtocolError):
    """The CRC was good but the record is not the fixed length of its type."""


class BadFieldValueError(ProtocolError):
    """A field holds a value outside its documented range."""


class ForbiddenCommandError(ProtocolError):
    """A command other than STOP or ALARM_ACKNOWLEDGE: the monitor may never send one."""


_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16(data: bytes) -> int:
    """CRC-16/X-25 (PPP FCS-16): poly 0x1021 reflected, init 0xFFFF, xorout 0xFFFF.

    ``crc16(b"123456789") == 0x906E``. Computed as the non-reflected CCITT CRC of the
    bit-reversed bytes (``binascii.crc_hqx``, C speed), bit-reversed back.
    """
    r = binascii.crc_hqx(data.translate(_REV8), 0xFFFF)
    return ((_REV8[r & 0xFF] << 8) | _REV8[r >> 8]) ^ 0xFFFF


def escape(content: bytes) -> bytes:
    """Byte-stuff ``content``: 0x7D -> 7D 5D, 0x7E -> 7D 5E; nothing else is escaped."""
    return content.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")


def unescape(wire: bytes) -> bytes:
    """Undo :func:`escape`; raise :class:`BadEscapeError` on any other use of 0x7D."""
    parts = wire.split(b"\x7d")
    out = [parts[0]]
    for part in parts[1:]:
        if not part or part[0] not in (0x5D, 0x5E):
            shown = f"0x{part[0]:02X}" if part else "end of frame or another 0x7D"
            raise BadEscapeError(f"escape byte 0x7D followed by {shown}; only 0x5D or 0x5E allowed")
        out.append(b"\x7d" if part[0] == 0x5D else b"\x7e")
        out.append(part[1:])
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class TelemetryFrame:
    """One 1 ms control tick as the console saw and commanded it.

    ``r_detected``, ``notch_detected`` and ``console_phase`` are the console's own
    judgement: the monitor must not use them for timing checks (REQ-MON-INDEPENDENT).
    """

    seq: int  #: sender's record counter, uint32, wraps
    time_ms: int  #: console tick counter in ms, uint32, wraps
    mode: Mode
    assist_ratio: int  #: N of 1:N, 1..3
    ecg_uv: int  #: ECG sample in microvolts, -32767..32767, or NOT_AVAILABLE (lead off)
    arterial_pressure_mmhg_x10: int  #: tenths of mmHg, -500..4000, or NOT_AVAILABLE
    balloon_pressure_mmhg_x10: int  #: helium line, tenths of mmHg, -4000..10000, or NOT_AVAILABLE
    inflate: bool  #: inflate command sent to the drive this tick (False = deflate)
    r_detected: bool  #: console detected an R wave this tick (untrusted)
    notch_detected: bool  #: console detected a dicrotic notch this tick (untrusted)
    console_phase: ConsolePhase  #: untrusted
    alarm_mask: int  #: bit n set = spec.modes.Alarm(n) active
    inflation_offset_ms: int  #: int16 ms, the inflation_offset_ms setting in force
    deflation_lead_ms: int  #: uint16 ms, the deflation lead in force for this mode (0 if none)
    settings_crc: int  #: crc16 of the current SETTINGS body (see settings_digest)

    starts_session: ClassVar[bool] = False
    carries_settings: ClassVar[bool] = False

    @property
    def ecg_mv(self) -> float | None:
        """ECG sample in mV, None when the lead is off."""
        return None if self.ecg_uv == NOT_AVAILABLE else self.ecg_uv / 1000.0

    @property
    def arterial_pressure_mmhg(self) -> float | None:
        """Arterial pressure in mmHg, None when no transducer signal."""
        v = self.arterial_pressure_mmhg_x10
        return None if v == NOT_AVAILABLE else v / 10.0

    @property
    def balloon_pressure_mmhg(self) -> float | None:
        """Balloon (helium line) pressure in mmHg, None when no sensor signal."""
        v = self.balloon_pressure_mmhg_x10
        return None if v == NOT_AVAILABLE else v / 10.0

    @property
    def alarms(self) -> frozenset[Alarm]:
        """The active alarms named by ``alarm_mask``."""
        return alarms_of(self.alarm_mask)


@dataclass(frozen=True, slots=True)
class SettingsFrame:
    """The settings in force on the console: one field per ``iabp.spec.settings.SETTINGS`` entry.

    The decoder checks only the wire types (and ``assist_ratio`` in 1..3); whether a
    value is inside the spec's range or passes its validator is a monitor rule, since an
    accepted unsafe setting is a console fault to report, not a corrupt frame.
    """

    seq: int
    time_ms: int
    assist_ratio: int  #: N of 1:N, 1..3
    inflation_offset_ms: int  #: int16, after the predicted end of ejection (negative = earlier)
    ecg_deflation_lead_ms: int  #: uint16, ECG trigger: deflation lead before predicted ejection
    pressure_deflation_lead_ms: int  #: uint16, pressure trigger: lead before predicted upstroke
    trigger_loss_timeout_ms: int  #: uint16, no trigger this long: stop, deflate, alarm
    idle_limit_ms: int  #: uint32, standby this long raises the idle alarm
    internal_period_ms: int  #: uint16, internal mode: one inflation every this many ms
    internal_inflation_ms: int  #: uint16, internal mode: length of each inflation

    starts_session: ClassVar[bool] = False
    carries_settings: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class EventFrame:
    """An alarm, mode, settings or operator event, with the state right after it."""

    seq: int
    time_ms: int
    kind: EventKind
    alarm: Alarm | None  #: required for ALARM_* kinds, else usually None
    mode: Mode  #: mode after the event
    alarm_mask: int  #: active alarms after the event
    detail: int  #: uint32, meaning depends on kind

    starts_session: ClassVar[bool] = False
    carries_settings: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class HelloFrame:
    """Start of a session: who is talking, up to which version, at which tick length."""

    seq: int
    time_ms: int
    role: LinkRole
    max_version: int  #: highest protocol version the sender speaks, 1..255
    firmware: tuple[int, int, int]  #: major, minor, patch, each 0..255
    device_serial: int  #: uint32
    tick_us: int  #: control tick in microseconds (1000 for a v1 console, 0 for a monitor)

    starts_session: ClassVar[bool] = True
    carries_settings: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class CommandFrame:
    """A monitor command: STOP or ALARM_ACKNOWLEDGE, nothing else can be built."""

    seq: int  #: the monitor's own record counter
    time_ms: int  #: the monitor's clock in ms, uint32
    command: MonitorCommand
    reason: int = 0  #: uint16 monitor reason code, informative, 0 = unspecified

    starts_session: ClassVar[bool] = False
    carries_settings: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_command(self.command)


Frame = TelemetryFrame | SettingsFrame | EventFrame | HelloFrame | CommandFrame


class SequencedFrame(Protocol):
    """What the stream parser needs of any codec's frames to check order and time."""

    @property
    def seq(self) -> int: ...

    @property
    def time_ms(self) -> int: ...

    @property
    def starts_session(self) -> bool: ...

    @property
    def carries_settings(self) -> bool: ...


class FrameCodec(Protocol):
    """Turns one frame's unescaped content (record + check sequence) into a frame and back."""

    def encode_frame(self, frame: Frame) -> bytes: ...

    def decode_payload(self, content: bytes) -> SequencedFrame: ...


def alarms_of(mask: int) -> frozenset[Alarm]:
    """The alarms whose bits are set in a wire alarm mask."""
    return frozenset(a for a in Alarm if mask >> int(a) & 1)


def _check_command(command: object) -> None:
    if type(command) is not MonitorCommand:
        raise ForbiddenCommandError(
            f"refused command {command!r}: the monitor may only send "
            "MonitorCommand.STOP or MonitorCommand.ALARM_ACKNOWLEDGE"
        )


def _bad(what: str, value: int, lo: int, hi: int, unit: str = "") -> BadFieldValueError:
    return BadFieldValueError(f"{what} = {value}{unit} outside {lo}..{hi}{unit}")


def _check_range(what: str, value: int, lo: int, hi: int, unit: str = "") -> None:
    if not lo <= value <= hi:
        raise _bad(what, value, lo, hi, unit)


def _check_sample(what: str, value: int, lo: int, hi: int) -> None:
    if value != NOT_AVAILABLE and not lo <= value <= hi:
        raise _bad(what, value, lo, hi)


def _check_header(seq: int, time_ms: int) -> None:
    _check_range("seq", seq, 0, UINT32_MOD - 1)
    _check_range("time_ms", time_ms, 0, UINT32_MOD - 1, " ms")


def _check_mask(mask: int) -> None:
    if not 0 <= mask <= 0xFFFF or mask & ~ALARM_MASK_VALID:
        raise BadFieldValueError(f"alarm_mask 0x{mask:04X} sets bits that are not spec.modes.Alarm values")


_HEADER = struct.Struct("<BBII")
_TELEMETRY = struct.Struct("<BBhhhBBHhHH")
_SETTINGS = struct.Struct("<BhHHHIHH")
_EVENT = struct.Struct("<BBBHI")
_HELLO = struct.Struct("<BBBBBIH")
_COMMAND = struct.Struct("<BH")
_MODES = tuple(Mode)
_PHASES = tuple(ConsolePhase)


def _telemetry_fields(raw: tuple[int, ...]) -> None:
    """Range-check a TELEMETRY body in wire units (shared by encoder and decoder)."""
    mode, ratio, _ecg, art, gas, flags, phase, mask, _infl, _defl, _crc = raw
    if (
        0 <= mode < len(_MODES) and 1 <= ratio <= 3
        and -500 <= art <= 4000 and -4000 <= gas <= 10000 and flags < 8
        and 0 <= phase < len(_PHASES) and not mask & ~ALARM_MASK_VALID
    ):
        return  # the common case, checked in one expression for speed
    _check_range("mode", mode, 0, len(_MODES) - 1)
    _check_range("assist_ratio", ratio, 1, 3)
    _check_sample("arterial_pressure_mmhg_x10", art, -500, 4000)
    _check_sample("balloon_pressure_mmhg_x10", gas, -4000, 10000)
    _check_range("flags", flags, 0, 7)
    _check_range("console_phase", phase, 0, len(_PHASES) - 1)
    _check_mask(mask)


def _settings_fields(raw: tuple[int, ...]) -> None:
    _check_range("assist_ratio", raw[0], 1, 3)


def _event_fields(raw: tuple[int, ...]) -> None:
    kind, alarm, mode, mask, _detail = raw
    _check_range("event kind", kind, 1, len(EventKind))
    if alarm != NO_ALARM:
        _check_range("alarm", alarm, 0, len(Alarm) - 1)
    elif kind in (EventKind.ALARM_RAISED, EventKind.ALARM_CLEARED, EventKind.ALARM_ACKNOWLEDGED):
        raise BadFieldValueError(f"{EventKind(kind).name} event without an alarm")
    _check_range("mode", mode, 0, len(_MODES) - 1)
    _check_mask(mask)


def _hello_fields(raw: tuple[int, ...]) -> None:
    _check_range("role", raw[0], 0, len(LinkRole) - 1)
    _check_range("max_version", raw[1], 1, 255)


def _pack_body(frame: Frame) -> tuple[RecordType, bytes]:
    """Validate ``frame`` and pack its body; raise BadFieldValueError / ForbiddenCommandError."""
    try:
        if isinstance(frame, TelemetryFrame):
            flags = bool(frame.inflate) | bool(frame.r_detected) << 1 | bool(frame.notch_detected) << 2
            raw: tuple[int, ...] = (
                frame.mode, frame.assist_ratio, frame.ecg_uv, frame.arterial_pressure_mmhg_x10,
                frame.balloon_pressure_mmhg_x10, flags, frame.console_phase, frame.alarm_mask,
                frame.inflation_offset_ms, frame.deflation_lead_ms, frame.settings_crc,
            )
            _telemetry_fields(raw)
            return RecordType.TELEMETRY, _TELEMETRY.pack(*raw)
        if isinstance(frame, SettingsFrame):
            return RecordType.SETTINGS, _settings_body(frame)
        if isinstance(frame, EventFrame):
            alarm = NO_ALARM if frame.alarm is None else int(frame.alarm)
            raw = (frame.kind, alarm, frame.mode, frame.alarm_mask, frame.detail)
            _event_fields(raw)
            return RecordType.EVENT, _EVENT.pack(*raw)
        if isinstance(frame, HelloFrame):
            raw = (frame.role, frame.max_version, *frame.firmware, frame.device_serial, frame.tick_us)
            _hello_fields(raw)
            return RecordType.HELLO, _HELLO.pack(*raw)
        if isinstance(frame, CommandFrame):
            _check_command(frame.command)
            return RecordType.COMMAND, _COMMAND.pack(frame.command, frame.reason)
    except struct.error as exc:
        raise BadFieldValueError(f"{type(frame).__name__}: a field does not fit its wire type ({exc})") from exc
    raise ProtocolError(f"cannot encode {type(frame).__name__}: not a v1 frame")


def _settings_body(frame: SettingsFrame) -> bytes:
    raw = (
        frame.assist_ratio, frame.inflation_offset_ms, frame.ecg_deflation_lead_ms,
        frame.pressure_deflation_lead_ms, frame.trigger_loss_timeout_ms, frame.idle_limit_ms,
        frame.internal_period_ms, frame.internal_inflation_ms,
    )
    _settings_fields(raw)
    try:
        return _SETTINGS.pack(*raw)
    except struct.error as exc:
        raise BadFieldValueError(f"SettingsFrame: a field does not fit its wire type ({exc})") from exc


def settings_digest(frame: SettingsFrame) -> int:
    """``crc16`` of the SETTINGS body: the ``settings_crc`` telemetry carries for it."""
    return crc16(_settings_body(frame))


def encode_payload(frame: Frame) -> bytes:
    """The record (header + body) of ``frame`` followed by its FCS, unescaped, no flags."""
    _check_header(frame.seq, frame.time_ms)
    record_type, body = _pack_body(frame)
    record = _HEADER.pack(PROTOCOL_VERSION, record_type, frame.seq, frame.time_ms) + body
    return record + crc16(record).to_bytes(2, "little")


def encode_frame(frame: Frame) -> bytes:
    """The complete on-wire frame: flag, escaped record + FCS, flag."""
    return b"\x7e" + escape(encode_payload(frame)) + b"\x7e"


def encode_command(
    command: MonitorCommand, *, seq: int, time_ms: int, reason: int = 0
) -> bytes:
    """The on-wire bytes of a monitor COMMAND; anything but STOP / ALARM_ACKNOWLEDGE raises."""
    return encode_frame(CommandFrame(seq, time_ms, command, reason))


def _decode_telemetry(content: bytes, seq: int, t: int) -> TelemetryFrame:
    raw = _TELEMETRY.unpack_from(content, HEADER_BYTES)
    _telemetry_fields(raw)
    mode, ratio, ecg, art, gas, flags, phase, mask, infl, defl, scrc = raw
    return TelemetryFrame(
        seq, t, _MODES[mode], ratio, ecg, art, gas, bool(flags & 1), bool(flags & 2),
        bool(flags & 4), _PHASES[phase], mask, infl, defl, scrc,
    )


def _decode_settings(content: bytes, seq: int, t: int) -> SettingsFrame:
    raw = _SETTINGS.unpack_from(content, HEADER_BYTES)
    _settings_fields(raw)
    return SettingsFrame(seq, t, *raw)


def _decode_event(content: bytes, seq: int, t: int) -> EventFrame:
    raw = _EVENT.unpack_from(content, HEADER_BYTES)
    _event_fields(raw)
    kind, alarm, mode, mask, detail = raw
    return EventFrame(
        seq, t, EventKind(kind), None if alarm == NO_ALARM else Alarm(alarm), Mode(mode), mask, detail
    )


def _decode_hello(content: bytes, seq: int, t: int) -> HelloFrame:
    raw = _HELLO.unpack_from(content, HEADER_BYTES)
    _hello_fields(raw)
    role, max_version, major, minor, patch, serial_no, tick_us = raw
    return HelloFrame(seq, t, LinkRole(role), max_version, (major, minor, patch), serial_no, tick_us)


def _decode_command(content: bytes, seq: int, t: int) -> CommandFrame:
    command, reason = _COMMAND.unpack_from(content, HEADER_BYTES)
    if command not in (MonitorCommand.STOP, MonitorCommand.ALARM_ACKNOWLEDGE):
        raise ForbiddenCommandError(f"command value {command} is not STOP (1) or ALARM_ACKNOWLEDGE (2)")
    return CommandFrame(seq, t, MonitorCommand(command), reason)


_DECODERS: dict[int, tuple[int, Callable[[bytes, int, int], Frame]]] = {
    RecordType.TELEMETRY: (HEADER_BYTES + _TELEMETRY.size + FCS_BYTES, _decode_telemetry),
    RecordType.SETTINGS: (HEADER_BYTES + _SETTINGS.size + FCS_BYTES, _decode_settings),
    RecordType.EVENT: (HEADER_BYTES + _EVENT.size + FCS_BYTES, _decode_event),
    RecordType.HELLO: (HEADER_BYTES + _HELLO.size + FCS_BYTES, _decode_hello),
    RecordType.COMMAND: (HEADER_BYTES + _COMMAND.size + FCS_BYTES, _decode_command),
}
RECORD_CONTENT_BYTES: Final[dict[RecordType, int]] = {
    RecordType(rt): n for rt, (n, _) in _DECODERS.items()
}
"""Unescaped record + FCS length of each v1 record type."""


def decode_payload(content: bytes) -> Frame:
    """Decode one frame's unescaped content (record followed by its 2-byte FCS).

    Checks, in order: length bounds, CRC, version, record type, record length, fields.
    """
    n = len(content)
    if n < MIN_CONTENT_BYTES:
        raise TruncatedFrameError(f"{n} bytes between flags; a record + FCS needs at least {MIN_CONTENT_BYTES}")
    if n > MAX_CONTENT_BYTES:
        raise FrameTooLongError(f"{n} bytes between flags (unescaped); at most {MAX_CONTENT_BYTES}")
    if crc16(content) != CRC_GOOD_RESIDUE:
        fcs = int.from_bytes(content[-2:], "little")
        raise CrcError(f"FCS 0x{fcs:04X} != computed 0x{crc16(content[:-2]):04X} over {n - 2} bytes")
    version, record_type, seq, t = _HEADER.unpack_from(content)
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersionError(f"record version {version}; this decoder reads version {PROTOCOL_VERSION}")
    entry = _DECODERS.get(record_type)
    if entry is None:
        raise UnknownRecordTypeError(f"record type 0x{record_type:02X} is not defined in protocol v1")
    length, decoder = entry
    if n != length:
        name = RecordType(record_type).name
        raise BadRecordLengthError(f"{name} record + FCS is {n} bytes; v1 defines {length}")
    return decoder(content, seq, t)


def decode_frame(wire: bytes) -> Frame:
    """Decode one complete on-wire frame (``7E ... 7E``), e.g. a documented example."""
    if len(wire) < 2 or wire[0] != FLAG or wire[-1] != FLAG or FLAG in wire[1:-1]:
        raise TruncatedFrameError("expected exactly one frame: 0x7E, escaped content, 0x7E")
    return decode_payload(unescape(wire[1:-1]))


class V1Codec:
    """The :class:`FrameCodec` of this document's protocol, version 1."""

    def encode_frame(self, frame: Frame) -> bytes:
        """On-wire bytes of ``frame``."""
        return encode_frame(frame)

    def decode_payload(self, content: bytes) -> Frame:
        """Frame from unescaped content; raises ProtocolError subclasses."""
        return decode_payload(content)


V1_CODEC: Final = V1Codec()
