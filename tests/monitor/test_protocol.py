"""Protocol v1: CRC, escaping, encode/decode round trips, refusals, and PROTOCOL.md's examples."""

from __future__ import annotations

import dataclasses
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iabp.monitor import protocol as p
from iabp.monitor.protocol import (
    CommandFrame,
    ConsolePhase,
    EventFrame,
    EventKind,
    HelloFrame,
    LinkRole,
    MonitorCommand,
    SettingsFrame,
    TelemetryFrame,
)
from iabp.spec.errors import ProtocolError
from iabp.spec.modes import Alarm, Mode, OperatorCommand

DOC = Path(p.__file__).with_name("PROTOCOL.md")

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)
i16 = st.integers(-32768, 32767)
masks = st.sets(st.sampled_from(list(Alarm))).map(lambda s: sum(1 << int(a) for a in s))


def sample(lo: int, hi: int) -> st.SearchStrategy[int]:
    """A signal sample in range, or the not-available sentinel."""
    return st.one_of(st.integers(lo, hi), st.just(p.NOT_AVAILABLE))


telemetry = st.builds(
    TelemetryFrame, u32, u32, st.sampled_from(list(Mode)), st.integers(1, 3), i16,
    sample(-500, 4000), sample(-4000, 10000), st.booleans(), st.booleans(), st.booleans(),
    st.sampled_from(list(ConsolePhase)), masks, i16, u16, u16,
)
settings = st.builds(
    SettingsFrame, u32, u32, st.integers(1, 3), i16, u16, u16, u16, u32, u16, u16,
)
events = st.builds(
    EventFrame, u32, u32, st.sampled_from([k for k in EventKind if k > EventKind.ALARM_ACKNOWLEDGED]),
    st.one_of(st.none(), st.sampled_from(list(Alarm))), st.sampled_from(list(Mode)), masks, u32,
) | st.builds(
    EventFrame, u32, u32, st.sampled_from([EventKind.ALARM_RAISED, EventKind.ALARM_CLEARED]),
    st.sampled_from(list(Alarm)), st.sampled_from(list(Mode)), masks, u32,
)
hellos = st.builds(
    HelloFrame, u32, u32, st.sampled_from(list(LinkRole)), st.integers(1, 255),
    st.tuples(*[st.integers(0, 255)] * 3), u32, u16,
)
commands = st.builds(CommandFrame, u32, u32, st.sampled_from(list(MonitorCommand)), u16)
any_frame = st.one_of(telemetry, settings, events, hellos, commands)


def seal(record: bytes) -> bytes:
    """Record + its valid FCS: lets a test build frames the encoder would refuse."""
    return record + p.crc16(record).to_bytes(2, "little")


def reference_crc(data: bytes) -> int:
    """Bit-by-bit CRC-16/X-25 straight from its parameters (reflected 0x8408)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def test_crc_check_value() -> None:
    assert p.crc16(b"123456789") == 0x906E
    assert reference_crc(b"123456789") == 0x906E


@given(st.binary(max_size=300))
def test_crc_matches_bitwise_reference_and_residue(data: bytes) -> None:
    assert p.crc16(data) == reference_crc(data)
    assert p.crc16(seal(data)) == p.CRC_GOOD_RESIDUE


@given(st.binary(max_size=200))
def test_escape_round_trip_and_no_flag_inside(data: bytes) -> None:
    wire = p.escape(data)
    assert p.FLAG not in wire
    assert p.unescape(wire) == data


@pytest.mark.parametrize("wire", [b"\x7d", b"ab\x7d", b"\x7d\x7d", b"\x7d\x41", b"\x7d\x5e\x7d\x00"])
def test_unescape_rejects_bad_escapes(wire: bytes) -> None:
    with pytest.raises(p.BadEscapeError):
        p.unescape(wire)


@given(any_frame)
def test_round_trip_every_frame_type(frame: p.Frame) -> None:
    wire = p.encode_frame(frame)
    assert wire[0] == wire[-1] == p.FLAG and p.FLAG not in wire[1:-1]
    content = p.encode_payload(frame)
    assert len(content) == p.RECORD_CONTENT_BYTES[p.RecordType(content[1])]
    assert p.decode_payload(content) == frame
    assert p.decode_frame(wire) == frame
    assert p.V1_CODEC.decode_payload(p.unescape(p.V1_CODEC.encode_frame(frame)[1:-1])) == frame


@given(any_frame, st.data())
def test_any_single_bit_flip_is_rejected(frame: p.Frame, data: st.DataObject) -> None:
    content = bytearray(p.encode_payload(frame))
    bit = data.draw(st.integers(0, len(content) * 8 - 1))
    content[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(p.CrcError):
        p.decode_payload(bytes(content))


def test_telemetry_units_and_sentinels() -> None:
    f = TelemetryFrame(1, 2, Mode.STANDBY, 1, 1250, 924, p.NOT_AVAILABLE, False, False, False,
                       ConsolePhase.UNKNOWN, 1 << Alarm.GAS_LOSS | 1 << Alarm.TRIGGER_LOSS, 0, 0, 0)
    assert f.ecg_mv == 1.25 and f.arterial_pressure_mmhg == 92.4
    assert f.balloon_pressure_mmhg is None
    assert f.alarms == {Alarm.GAS_LOSS, Alarm.TRIGGER_LOSS}


# --- the monitor can never command anything but STOP and ALARM_ACKNOWLEDGE ------------------


@pytest.mark.parametrize("command", [*OperatorCommand, 0, 1, 2, 3, 255, -1, "STOP", None, 1.0])
def test_command_frame_refuses_everything_but_monitor_commands(command: object) -> None:
    with pytest.raises(p.ForbiddenCommandError):
        CommandFrame(1, 2, command)  # type: ignore[arg-type]
    with pytest.raises(p.ForbiddenCommandError):
        p.encode_command(command, seq=1, time_ms=2)  # type: ignore[arg-type]


def test_encoder_refuses_a_command_smuggled_past_the_constructor() -> None:
    frame = CommandFrame(1, 2, MonitorCommand.STOP)
    object.__setattr__(frame, "command", OperatorCommand.START_ECG)
    with pytest.raises(p.ForbiddenCommandError):
        p.encode_frame(frame)


def test_only_two_commands_exist() -> None:
    assert {c.name: c.value for c in MonitorCommand} == {"STOP": 1, "ALARM_ACKNOWLEDGE": 2}


@given(st.integers(0, 255).filter(lambda v: v not in (1, 2)))
def test_decoder_refuses_forbidden_command_values(value: int) -> None:
    record = struct.pack("<BBIIBH", 1, p.RecordType.COMMAND, 5, 6, value, 0)
    with pytest.raises(p.ForbiddenCommandError):
        p.decode_payload(seal(record))


def test_encode_command_builds_stop() -> None:
    frame = p.decode_frame(p.encode_command(MonitorCommand.STOP, seq=7, time_ms=9, reason=3))
    assert frame == CommandFrame(7, 9, MonitorCommand.STOP, 3)


# --- decoder errors ------------------------------------------------------------------------

GOOD = p.encode_payload(CommandFrame(1, 2, MonitorCommand.STOP))


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", p.TruncatedFrameError),
        (GOOD[:11], p.TruncatedFrameError),
        (b"\x01" * (p.MAX_CONTENT_BYTES + 1), p.FrameTooLongError),
        (GOOD[:-1] + bytes([GOOD[-1] ^ 0xFF]), p.CrcError),
        (seal(b"\x02" + GOOD[1:-2]), p.UnsupportedVersionError),
        (seal(b"\x01\x05" + GOOD[2:-2]), p.UnknownRecordTypeError),
        (seal(GOOD[:-2] + b"\x00"), p.BadRecordLengthError),
        (seal(GOOD[:-3]), p.BadRecordLengthError),
    ],
)
def test_decoder_errors(content: bytes, error: type[ProtocolError]) -> None:
    with pytest.raises(error) as info:
        p.decode_payload(content)
    assert str(info.value)  # a message for the audit record


def _telemetry_record(**changes: int) -> bytes:
    fields = dict(mode=1, ratio=1, ecg=0, art=800, gas=100, flags=0, phase=0, mask=0, infl=0,
                  defl=0, crc=0)
    fields.update(changes)
    return seal(struct.pack("<BBII", 1, 1, 0, 0) + struct.pack("<BBhhhBBHhHH", *fields.values()))


@pytest.mark.parametrize(
    "change",
    [{"mode": 5}, {"ratio": 0}, {"ratio": 4}, {"art": 4001}, {"art": -501}, {"gas": 10001},
     {"flags": 8}, {"phase": 3}, {"mask": 1 << 11}, {"mask": 0x8000}],
)
def test_decoder_rejects_out_of_range_telemetry(change: dict[str, int]) -> None:
    assert p.decode_payload(_telemetry_record())  # the unchanged record is fine
    with pytest.raises(p.BadFieldValueError):
        p.decode_payload(_telemetry_record(**change))


def test_decoder_rejects_bad_event_and_hello_fields() -> None:
    head = struct.pack("<BBII", 1, p.RecordType.EVENT, 0, 0)
    for body in (struct.pack("<BBBHI", 0, 0xFF, 0, 0, 0), struct.pack("<BBBHI", 1, 0xFF, 0, 0, 0),
                 struct.pack("<BBBHI", 4, 11, 0, 0, 0), struct.pack("<BBBHI", 4, 0xFF, 9, 0, 0)):
        with pytest.raises(p.BadFieldValueError):
            p.decode_payload(seal(head + body))
    hello = struct.pack("<BBII", 1, p.RecordType.HELLO, 0, 0) + struct.pack("<BBBBBIH", 2, 1, 0, 0, 0, 0, 0)
    with pytest.raises(p.BadFieldValueError):
        p.decode_payload(seal(hello))


@pytest.mark.parametrize(
    "frame",
    [
        TelemetryFrame(0, 0, Mode.STANDBY, 4, 0, 0, 0, False, False, False, ConsolePhase.UNKNOWN, 0, 0, 0, 0),
        TelemetryFrame(0, 0, Mode.STANDBY, 1, 40000, 0, 0, False, False, False, ConsolePhase.UNKNOWN, 0, 0, 0, 0),
        TelemetryFrame(-1, 0, Mode.STANDBY, 1, 0, 0, 0, False, False, False, ConsolePhase.UNKNOWN, 0, 0, 0, 0),
        TelemetryFrame(0, 2**32, Mode.STANDBY, 1, 0, 0, 0, False, False, False, ConsolePhase.UNKNOWN, 0, 0, 0, 0),
        TelemetryFrame(0, 0, Mode.STANDBY, 1, 0, 0, 0, False, False, False, ConsolePhase.UNKNOWN, 1 << 12, 0, 0, 0),
        SettingsFrame(0, 0, 1, 0, 0, 0, 0, 2**32, 0, 0),
        EventFrame(0, 0, EventKind.ALARM_RAISED, None, Mode.STANDBY, 0, 0),
        HelloFrame(0, 0, LinkRole.CONSOLE, 0, (1, 0, 0), 0, 1000),
        HelloFrame(0, 0, LinkRole.CONSOLE, 1, (256, 0, 0), 0, 1000),
    ],
)
def test_encoder_refuses_values_outside_the_wire_ranges(frame: p.Frame) -> None:
    with pytest.raises(p.BadFieldValueError):
        p.encode_frame(frame)


def test_every_protocol_error_derives_from_the_project_root() -> None:
    errors = [p.CrcError, p.FrameTooLongError, p.TruncatedFrameError, p.BadEscapeError,
              p.UnsupportedVersionError, p.UnknownRecordTypeError, p.BadRecordLengthError,
              p.BadFieldValueError, p.ForbiddenCommandError]
    assert all(issubclass(e, ProtocolError) for e in errors)


def test_settings_record_carries_exactly_the_spec_settings() -> None:
    """Regression guard: a setting added to spec.settings must get a wire field too."""
    from iabp.spec.settings import SETTINGS

    names = {f.name for f in dataclasses.fields(SettingsFrame)} - {"seq", "time_ms"}
    assert names == {s.name for s in SETTINGS}


# --- PROTOCOL.md -------------------------------------------------------------------------

EXAMPLE_SETTINGS = SettingsFrame(125, 120000, 1, 0, 211, 301, 2500, 300000, 750, 300)
EXAMPLES: dict[str, p.Frame] = {
    "telemetry": TelemetryFrame(
        126, 120000, Mode.ECG_TRIGGER, 1, 1250, 924, 125, True, False, True,
        ConsolePhase.DIASTOLE, 1 << Alarm.CONTRA_RELATIVE, 0, 211, 0x6A1C,
    ),
    "stop": CommandFrame(7, 4000123, MonitorCommand.STOP, 3),
    "settings": EXAMPLE_SETTINGS,
}


def doc_examples() -> dict[str, bytes]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- example: (\w+) -->\s*```text\n(.*?)```", text, re.S)
    return {name: bytes.fromhex(hex_text) for name, hex_text in found}


def test_document_examples_decode_to_the_described_frames() -> None:
    examples = doc_examples()
    assert set(examples) == set(EXAMPLES)
    for name, wire in examples.items():
        assert p.decode_frame(wire) == EXAMPLES[name], name
        assert p.encode_frame(EXAMPLES[name]) == wire, name
    assert p.settings_digest(EXAMPLE_SETTINGS) == EXAMPLES["telemetry"].settings_crc  # type: ignore[union-attr]


def test_document_states_the_numbers_the_code_uses() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"{p.BAUD_RATE:,}".replace(",", " ") + " bit/s" in text
    assert "**`0x906E`**" in text and f"`0x{p.CRC_GOOD_RESIDUE:04X}`" in text
    for record_type, n in p.RECORD_CONTENT_BYTES.items():
        assert re.search(rf"`0x{record_type:02X}` \| {record_type.name} \| [^|]+\| {n - 2} \| {n} \|", text)
    assert f"**{p.MAX_PAYLOAD_BYTES} bytes**" in text and f"**{p.MAX_WIRE_CONTENT_BYTES} bytes**" in text
