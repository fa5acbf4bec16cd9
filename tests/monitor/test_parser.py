"""Stream parser: never raises, misses no fault, resynchronises, keeps every buffer bounded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor import protocol as p
from iabp.monitor.parser import IntegrityEvent, IntegrityKind, ParseEvent, StreamParser
from iabp.monitor.protocol import ConsolePhase, HelloFrame, LinkRole, SettingsFrame, TelemetryFrame
from iabp.spec.modes import Mode

N_FRAMES = 12
FRAME_FAULTS = {
    IntegrityKind.GARBAGE, IntegrityKind.OVERSIZE, IntegrityKind.TRUNCATED, IntegrityKind.BAD_ESCAPE,
    IntegrityKind.CRC_ERROR, IntegrityKind.BAD_LENGTH, IntegrityKind.BAD_FIELD,
}


def make_frames(n: int = N_FRAMES, seq0: int = 1000, t0: int = 50_000) -> list[p.Frame]:
    """Telemetry ticks with a SETTINGS record in the same tick as every fifth; values vary
    so that escapes (0x7D, 0x7E) occur."""
    frames: list[p.Frame] = []
    t = t0
    for i in range(n):
        seq = (seq0 + i) % 2**32
        if i % 5 == 4:
            frames.append(SettingsFrame(seq, t % 2**32, 1, 0, 211, 301, 2500, 300000, 750, 300))
            continue
        t += 1
        frames.append(TelemetryFrame(
            seq, t % 2**32, Mode.ECG_TRIGGER, 1, 0x7E7D - i * 37, 800 + i, 0x7D + i, i % 2 == 0,
            i % 7 == 0, False, ConsolePhase.DIASTOLE, 0, -20, 211, 0x7E7E,
        ))
    return frames


FRAMES = make_frames()
WIRES = [p.encode_frame(f) for f in FRAMES]
STREAM = b"".join(WIRES)
STARTS = [sum(len(w) for w in WIRES[:i]) for i in range(N_FRAMES)]


def run(stream: bytes, cuts: Sequence[int] = (), parser: StreamParser | None = None) -> tuple[
    list[p.Frame], list[IntegrityEvent], StreamParser
]:
    """Feed ``stream`` split at ``cuts``, then finish; check the invariants of every feed."""
    parser = parser or StreamParser()
    out: list[ParseEvent] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(stream)), len(stream)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        got = parser.feed(stream[a:b])
        assert len(got) <= max(b - a, 1) + 1  # events are bounded by the bytes fed
        assert parser.buffered_bytes <= p.MAX_WIRE_CONTENT_BYTES
        out += got
    out += parser.finish()
    stats = parser.stats()
    assert stats.bytes_in == len(stream)
    assert stats.bytes_in == stats.bytes_delivered + stats.bytes_discarded + stats.flag_bytes
    frames = [e for e in out if not isinstance(e, IntegrityEvent)]
    errors = [e for e in out if isinstance(e, IntegrityEvent)]
    assert stats.frames_ok == len(frames) and stats.error_total == len(errors)
    return frames, errors, parser  # type: ignore[return-value]


def assert_no_corrupt_delivery(delivered: list[p.Frame]) -> None:
    """Every delivered frame is one of the originals, in strictly increasing sequence."""
    for frame in delivered:
        assert frame in FRAMES
    seqs = [f.seq for f in delivered]
    assert seqs == sorted(set(seqs))


cut_lists = st.lists(st.integers(0, len(STREAM)), max_size=8)


@given(cut_lists)
def test_intact_stream_in_any_chunks_is_delivered_whole(cuts: list[int]) -> None:
    frames, errors, _ = run(STREAM, cuts)
    assert frames == FRAMES and errors == []


@settings(max_examples=300)
@given(st.binary(max_size=2000), cut_lists)
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    run(data, cuts)


@given(st.lists(st.sampled_from([b"\x7e", b"\x7d", b"\x5e", b"\x5d", b"\x00", b"\x01"]), max_size=400),
       cut_lists)
def test_flag_and_escape_soup_never_raises(pieces: list[bytes], cuts: list[int]) -> None:
    run(b"".join(pieces), cuts)


def frame_at(pos: int) -> int:
    """Index of the frame whose wire bytes contain stream position ``pos``."""
    return max(i for i, s in enumerate(STARTS) if s <= pos)


@settings(max_examples=300)
@given(st.integers(0, len(STREAM) * 8 - 1), cut_lists)
def test_bit_flip_loses_exactly_that_frame_and_reports_it(bit: int, cuts: list[int]) -> None:
    stream = bytearray(STREAM)
    stream[bit // 8] ^= 1 << (bit % 8)
    frames, errors, _ = run(bytes(stream), cuts)
    hit = frame_at(bit // 8)
    assert frames == FRAMES[:hit] + FRAMES[hit + 1:]
    assert any(e.kind in FRAME_FAULTS for e in errors)
    if 0 < hit < N_FRAMES - 1:
        assert any(e.kind is IntegrityKind.SEQ_GAP and e.frames_lost == 1 for e in errors)


@settings(max_examples=200)
@given(st.integers(0, len(STREAM) - 1), cut_lists)
def test_dropped_byte_is_reported_unless_it_was_a_spare_flag(pos: int, cuts: list[int]) -> None:
    frames, errors, _ = run(STREAM[:pos] + STREAM[pos + 1:], cuts)
    assert_no_corrupt_delivery(frames)
    lost = N_FRAMES - len(frames)
    assert lost <= 1
    if lost:
        assert errors and frames == [f for i, f in enumerate(FRAMES) if i != frame_at(pos)]
    elif STREAM[pos] != p.FLAG:
        raise AssertionError("a content byte was dropped and nothing was lost")


@settings(max_examples=200)
@given(st.integers(0, len(STREAM)), st.binary(min_size=1, max_size=40), cut_lists)
def test_inserted_garbage_is_reported_and_resynced(pos: int, junk: bytes, cuts: list[int]) -> None:
    frames, errors, _ = run(STREAM[:pos] + junk + STREAM[pos:], cuts)
    assert_no_corrupt_delivery(frames)
    assert N_FRAMES - len(frames) <= 1
    if set(junk) != {p.FLAG}:
        assert errors, "inserted garbage went unreported"
    assert frames[-1] == FRAMES[-1] or pos > STARTS[-1]  # resynchronised for the later frames


@given(st.integers(1, len(STREAM) - 1), cut_lists)
def test_truncated_stream_reports_the_partial_frame(cut: int, cuts: list[int]) -> None:
    frames, errors, _ = run(STREAM[:cut], cuts)
    complete = sum(1 for s, w in zip(STARTS, WIRES, strict=True) if s + len(w) <= cut)
    assert frames == FRAMES[:complete]
    partial = cut - STARTS[complete] if complete < N_FRAMES else 0
    if partial > 1:  # more than the opening flag of the cut frame arrived
        assert [e.kind for e in errors] == [IntegrityKind.TRUNCATED]


@given(st.integers(0, N_FRAMES - 1), st.integers(0, N_FRAMES), cut_lists)
def test_duplicated_frame_is_reported_not_delivered_twice(k: int, at: int, cuts: list[int]) -> None:
    at = max(at, k + 1)
    stream = b"".join(WIRES[:at]) + WIRES[k] + b"".join(WIRES[at:])
    frames, errors, _ = run(stream, cuts)
    assert frames == FRAMES
    assert [(e.kind, e.seq) for e in errors] == [(IntegrityKind.SEQ_DUPLICATE, FRAMES[k].seq)]


@given(st.integers(0, N_FRAMES - 2), st.data())
def test_reordered_frames_are_reported_each(k: int, data: st.DataObject) -> None:
    j = data.draw(st.integers(k + 1, N_FRAMES - 1))
    order = list(range(N_FRAMES))
    order[k], order[j] = order[j], order[k]
    frames, errors, _ = run(b"".join(WIRES[i] for i in order), data.draw(cut_lists))
    assert_no_corrupt_delivery(frames)
    undelivered = {f.seq for f in FRAMES} - {f.seq for f in frames}
    assert undelivered == {e.seq for e in errors if e.kind is IntegrityKind.SEQ_REORDER}
    if k > 0:  # the first frame seen is the baseline: nothing is known to be missing before it
        assert any(e.kind is IntegrityKind.SEQ_GAP and e.frames_lost == j - k for e in errors)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.sampled_from(["flip", "drop", "insert"]), st.integers(0, len(STREAM) - 1),
                       st.integers(0, 255)), min_size=1, max_size=5, unique_by=lambda m: m[1]),
    cut_lists,
)
def test_mixed_mutations_no_missed_fault_and_later_frames_delivered(
    mutations: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    stream = bytearray(STREAM)
    for kind, pos, value in sorted(mutations, key=lambda m: -m[1]):  # back to front: positions hold
        if kind == "flip":
            stream[pos] ^= 1 << (value % 8)
        elif kind == "drop":
            del stream[pos]
        else:
            stream[pos:pos] = bytes([value])
    frames, errors, _ = run(bytes(stream), cuts)
    assert_no_corrupt_delivery(frames)
    if len(frames) < N_FRAMES:
        assert errors, "frames were lost and nothing was reported"
    last_touched = max(m[1] for m in mutations)
    later = [f for f, s in zip(FRAMES, STARTS, strict=True) if s > last_touched]
    assert frames[len(frames) - len(later):] == later


def test_sequence_gap_counts_lost_frames() -> None:
    frames, errors, _ = run(b"".join(WIRES[:3] + WIRES[7:]))
    assert frames == FRAMES[:3] + FRAMES[7:]
    assert [(e.kind, e.frames_lost) for e in errors] == [(IntegrityKind.SEQ_GAP, 4)]


def test_sequence_and_time_wrap_around_without_events() -> None:
    frames = make_frames(seq0=2**32 - 3, t0=2**32 - 4)
    got, errors, _ = run(b"".join(p.encode_frame(f) for f in frames))
    assert got == frames and errors == []


def _tick(seq: int, t: int) -> TelemetryFrame:
    return TelemetryFrame(seq, t, Mode.STANDBY, 1, 0, 800, 100, False, False, False,
                          ConsolePhase.UNKNOWN, 0, 0, 0, 0)


def test_time_backwards_and_jump_are_flagged_and_frames_kept() -> None:
    ticks = [_tick(1, 100), _tick(2, 101), _tick(3, 99), _tick(4, 100), _tick(5, 180), _tick(6, 181)]
    frames, errors, _ = run(b"".join(p.encode_frame(f) for f in ticks))
    assert frames == ticks
    assert [(e.kind, e.seq) for e in errors] == [
        (IntegrityKind.TIME_BACKWARDS, 3), (IntegrityKind.TIME_JUMP, 5)
    ]
    assert errors[1].frames_lost == 79  # 80 ms over one step: 79 ticks without a record


def test_time_may_advance_one_tick_per_lost_frame() -> None:
    frames, errors, _ = run(b"".join(p.encode_frame(f) for f in [_tick(1, 100), _tick(4, 103)]))
    assert [e.kind for e in errors] == [IntegrityKind.SEQ_GAP]


def test_hello_resets_the_baseline_and_says_so() -> None:
    sent: list[p.Frame] = [_tick(500, 7000), HelloFrame(0, 0, LinkRole.CONSOLE, 1, (1, 0, 0), 42, 1000),
                           _tick(1, 1)]
    stream = b"".join(p.encode_frame(f) for f in sent)
    frames, errors, _ = run(stream)
    assert len(frames) == 3
    assert [e.kind for e in errors] == [IntegrityKind.SEQ_RESET]


def test_counter_far_behind_without_hello_is_a_reset() -> None:
    frames, errors, _ = run(b"".join(p.encode_frame(f) for f in [_tick(500, 7000), _tick(3, 7001)]))
    assert len(frames) == 2 and [e.kind for e in errors] == [IntegrityKind.SEQ_RESET]


def test_unknown_record_and_future_version_are_reported_not_skipped() -> None:
    record = p.encode_payload(_tick(1, 1))[:-2]
    unknown = b"\x01\x07" + record[2:]
    future = b"\x02" + record[1:]
    for bad, kind in ((unknown, IntegrityKind.UNKNOWN_RECORD), (future, IntegrityKind.UNSUPPORTED_VERSION)):
        wire = b"\x7e" + p.escape(bad + p.crc16(bad).to_bytes(2, "little")) + b"\x7e"
        frames, errors, _ = run(wire + p.encode_frame(_tick(2, 2)))
        assert [e.kind for e in errors] == [kind] and frames == [_tick(2, 2)]


def test_endless_garbage_stays_bounded_then_resyncs() -> None:
    parser = StreamParser()
    events: list[ParseEvent] = []
    events += parser.feed(b"\x7e")  # in sync: the next bytes look like a frame that never ends
    for _ in range(200):
        events += parser.feed(b"\x55" * 997)
        assert parser.buffered_bytes <= p.MAX_WIRE_CONTENT_BYTES
    events += parser.feed(STREAM)
    kinds = {e.kind for e in events if isinstance(e, IntegrityEvent)}
    assert kinds == {IntegrityKind.OVERSIZE, IntegrityKind.GARBAGE}
    assert [e for e in events if not isinstance(e, IntegrityEvent)] == FRAMES
    assert parser.stats().bytes_discarded == 200 * 997


def test_oversize_frame_between_flags_is_reported() -> None:
    frames, errors, _ = run(b"\x7e" + b"\x01" * 300 + STREAM)
    assert frames == FRAMES and [e.kind for e in errors] == [IntegrityKind.OVERSIZE]


def test_buffer_overflow_drops_the_oldest_bytes_and_reports_it() -> None:
    parser = StreamParser(max_buffer_bytes=1024)
    big = STREAM * 10
    events = parser.feed(big)
    errors = [e for e in events if isinstance(e, IntegrityEvent)]
    assert errors[0].kind is IntegrityKind.BUFFER_OVERFLOW and errors[0].byte_count == len(big) - 1024
    delivered = [e for e in events if not isinstance(e, IntegrityEvent)]
    assert delivered and delivered[-1] == FRAMES[-1]
    stats = parser.stats()
    assert stats.bytes_in == stats.bytes_delivered + stats.bytes_discarded + stats.flag_bytes


def test_custom_codec_plugs_in() -> None:
    """A real console's format is another FrameCodec; the parser keeps the framing."""

    class Shifted:
        def encode_frame(self, frame: p.Frame) -> bytes:
            return p.encode_frame(frame)

        def decode_payload(self, content: bytes) -> p.Frame:
            frame = p.decode_payload(content)
            return _tick(frame.seq + 10, frame.time_ms) if isinstance(frame, TelemetryFrame) else frame

    parser = StreamParser(Shifted())
    events = parser.feed(p.encode_frame(_tick(1, 1)))
    assert events == [_tick(11, 1)]


# -- one bad frame is one fault (issue 9) ---------------------------------------------------


def _corrupt(stream: bytes, index: int) -> bytes:
    """``stream`` with one content byte of frame ``index`` changed (CRC error or worse)."""
    out = bytearray(stream)
    pos = STARTS[index] + 4
    new = out[pos] ^ 0x01
    out[pos] = new ^ 0x03 if new in (0x7E, 0x7D) else new
    return bytes(out)


def test_a_discarded_frame_and_the_gap_it_leaves_are_one_fault() -> None:
    frames, errors, _ = run(_corrupt(STREAM, 3))
    assert frames == FRAMES[:3] + FRAMES[4:]
    assert [e.kind for e in errors] == [IntegrityKind.CRC_ERROR, IntegrityKind.SEQ_GAP]
    gap = errors[1]
    assert gap.frames_lost == 1 and gap.already_reported == 1  # still reported, never silent
    assert [e.counted_frames for e in errors] == [1, 0]


def test_a_gap_wider_than_the_discarded_frames_counts_the_rest() -> None:
    stream = _corrupt(STREAM, 3)
    stream = stream[:STARTS[4]] + stream[STARTS[7]:]  # frame 3 corrupt, frames 4..6 never sent
    frames, errors, _ = run(stream)
    assert frames == FRAMES[:3] + FRAMES[7:]
    gap = errors[-1]
    assert gap.kind is IntegrityKind.SEQ_GAP and gap.frames_lost == 4
    assert gap.already_reported == 1 and gap.counted_frames == 3
    assert sum(e.counted_frames for e in errors) == 4  # each missing frame once


def test_discards_are_forgotten_once_a_frame_is_delivered() -> None:
    stream = _corrupt(_corrupt(STREAM, 2), 8)
    stream = stream[:STARTS[9]] + stream[STARTS[10]:]  # frame 8 corrupt, frame 9 dropped
    _, errors, _ = run(stream)
    gaps = [e for e in errors if e.kind is IntegrityKind.SEQ_GAP]
    assert [(g.frames_lost, g.already_reported) for g in gaps] == [(1, 1), (2, 1)]


def _settings(seq: int, t: int) -> SettingsFrame:
    return SettingsFrame(seq, t, 1, 0, 211, 301, 2500, 300000, 750, 300)


def _console(ms: int, settings_at: Sequence[int], t0: int = 0) -> list[p.Frame]:
    """``ms`` telemetry ticks from console time ``t0``, a SETTINGS record in each tick of
    ``settings_at`` (ms after ``t0``), consecutive sequence numbers."""
    out: list[p.Frame] = []
    for i in range(ms):
        t = (t0 + i) % 2**32
        if i in settings_at:
            out.append(_settings(len(out), t))
        out.append(_tick(len(out), t))
    return out


def _in_reads(frames: list[p.Frame], parser: StreamParser | None = None) -> tuple[
        list[p.Frame], list[IntegrityEvent], StreamParser]:
    """``frames`` encoded and fed in 4 KB reads (as a port delivers them)."""
    stream = b"".join(p.encode_frame(f) for f in frames)
    return run(stream, range(4096, len(stream), 4096), parser)


def _overdue(frames: list[p.Frame]) -> list[IntegrityEvent]:
    got, errors, _ = _in_reads(frames, StreamParser(max_settings_gap_ms=p.SETTINGS_GAP_MAX_MS))
    assert got == frames  # a late SETTINGS loses no frame
    return errors


def test_settings_every_period_and_one_lost_record_raise_nothing() -> None:
    period = p.SETTINGS_PERIOD_MS
    assert _overdue(_console(6 * period, range(0, 6 * period, period))) == []
    # the record of 2000 ms lost (a corrupted frame, counted by the integrity guard)
    assert _overdue(_console(6 * period, [0, 1000, 3000, 4000, 5000])) == []
    # a monitor started mid-stream waits a whole gap for the first one
    assert _overdue(_console(2 * period + 1, [2 * period], t0=2**32 - 700)) == []


def test_a_console_that_stops_sending_settings_is_reported_each_gap() -> None:
    limit = p.SETTINGS_GAP_MAX_MS
    errors = _overdue(_console(3 * limit + 500, [0, 1000], t0=2**32 - 1500))
    assert [e.kind for e in errors] == [IntegrityKind.SETTINGS_OVERDUE] * 2
    assert [e.counted_frames for e in errors] == [0, 0]  # no frame is missing
    first = errors[0]
    assert f"no SETTINGS record for {limit + 1} ms" in first.detail
    # after the last record (1000 ms), the tick 1000 + limit + 1 is the first too late,
    # then one more gap later
    ticks = [f for f in _console(3 * limit + 500, [0, 1000]) if isinstance(f, TelemetryFrame)]
    assert [e.seq for e in errors] == [ticks[1000 + limit + 1].seq,
                                       ticks[1000 + 2 * limit + 2].seq]


def test_settings_cadence_is_not_checked_unless_asked() -> None:
    """The console reads the monitor's commands with the same parser: no SETTINGS there."""
    frames = _console(3 * p.SETTINGS_GAP_MAX_MS, [])
    got, errors, _ = _in_reads(frames)
    assert got == frames and errors == []


def test_protocol_md_states_the_cadence_the_parser_checks() -> None:
    doc = (Path(p.__file__).with_name("PROTOCOL.md")).read_text()
    assert f"at least once per {p.SETTINGS_PERIOD_MS} ms" in doc
    assert f"no SETTINGS for more than {p.SETTINGS_GAP_MAX_MS} ms of console time" in doc
    assert f"named within {p.SETTINGS_GAP_MAX_MS + 1} ms" in doc


def test_a_console_hello_with_another_tick_is_reported_when_asked() -> None:
    """Every interval the monitor judges counts one TELEMETRY record as 1 ms: a console
    announcing another control tick would have every timing rule judged wrongly."""
    for tick_us, expected in ((1000, []), (2000, [IntegrityKind.HELLO_MISMATCH]),
                              (0, [IntegrityKind.HELLO_MISMATCH])):
        hello = HelloFrame(0, 0, LinkRole.CONSOLE, 1, (1, 0, 0), 42, tick_us)
        stream = b"".join(p.encode_frame(f) for f in [hello, _tick(1, 1), _tick(2, 2)])
        frames, errors, _ = run(stream, parser=StreamParser(console_tick_us=p.CONSOLE_TICK_US))
        assert len(frames) == 3  # the HELLO itself is valid and delivered
        assert [e.kind for e in errors] == expected, tick_us
        if expected:
            assert f"{tick_us} us control tick" in errors[0].detail
            assert errors[0].counted_frames == 0 and errors[0].byte_count == 0
        # a receiver that does not ask (the console reading commands) reports nothing
        assert run(stream)[1] == []
    # a monitor's own HELLO (tick 0) read back on a loop is not the console's
    monitor_hello = HelloFrame(0, 0, LinkRole.MONITOR, 1, (1, 0, 0), 0, 0)
    stream = b"".join(p.encode_frame(f) for f in [monitor_hello, _tick(1, 1)])
    assert run(stream, parser=StreamParser(console_tick_us=p.CONSOLE_TICK_US))[1] == []
