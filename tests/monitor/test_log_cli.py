"""``iabp log``: keygen, verify (text and --json), show and plot of a real audit log.

The logs are real monitor sessions on a fake clock, signed: one over a console whose
inflation starts too early (rule trips with their black boxes), one over a console that
never sends (a silence trip with an empty black box). Bad usage
and unreadable files are one line on stderr and exit 2; a log that fails verification
exits 1; never a traceback. ``iabp log`` starts without the monitor runtime.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from iabp.keys import key_id, load_private_key, load_public_key
from iabp.monitor import failsafe, log_view
from iabp.monitor.log_cli import log_main
from tests.monitor.test_monitor_cli import one_error_line
from tests.monitor.test_monitor_e2e import run_on_bytes
from tests.monitor.test_reconstruct import console_bytes
from tests.test_cli import HEAVY, heavy_imports

Capture = pytest.CaptureFixture[str]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    assert log_main(["keygen", str(d / "monitor.key")]) == 0
    return d / "monitor.key", d / "monitor.key.pub"


@pytest.fixture(scope="module")
def early_inflation() -> bytes:
    """5 s of a console whose inflation starts too early from 3 s."""
    return console_bytes(5.0, "early-inflation", 3000)


@pytest.fixture(scope="module")
def trip_log(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path],
             early_inflation: bytes) -> Path:
    """A signed session over that console: a MON-INFL-DIASTOLE trip, then further causes
    while latched, each with its black box."""
    log = tmp_path_factory.mktemp("trips") / "audit.jsonl"
    run_on_bytes(early_inflation, log=log, key=load_private_key(keys[0])).close()
    return log


@pytest.fixture(scope="module")
def silent_log(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """A signed 2.5 s session (fake clock) on a console that never sends: a SILENCE trip
    with an empty black box. (``iabp monitor --key`` itself writes signed logs in
    test_monitor_sigterm.py.)"""
    log = tmp_path_factory.mktemp("silent") / "audit.jsonl"
    run_on_bytes(b"", log=log, key=load_private_key(keys[0]), tail_ms=2500).close()
    return log


def trip_records(log: Path) -> list[dict[str, Any]]:
    return [r for r in records(log) if r["type"] in ("safe_state", "safe_state_cause")]


def black_box(log: Path, event_seq: int, kind: str) -> list[dict[str, Any]]:
    box = [r for r in records(log) if r["type"] == kind and r["payload"]["event_seq"] == event_seq]
    assert len(box) == 1
    frames: list[dict[str, Any]] = box[0]["payload"]["frames"]
    return frames


# -- start-up -------------------------------------------------------------------------------


def test_log_verify_starts_without_the_monitor_runtime(trip_log: Path) -> None:
    """No numpy, scipy, matplotlib, z3, wfdb, serial (nor rich) behind ``iabp log verify``."""
    light = (*HEAVY, "serial", "rich")
    proc, heavy = heavy_imports("-c", "import iabp.monitor.log_cli", heavy=light)
    assert proc.returncode == 0 and not heavy, heavy
    proc, heavy = heavy_imports("-m", "iabp", "log", "verify", str(trip_log), heavy=light)
    assert proc.returncode == 0 and "chain OK" in proc.stdout and not heavy, heavy


def test_the_record_types_read_are_the_ones_the_fail_safe_writes() -> None:
    assert log_view.SAFE_STATE == failsafe.SAFE_STATE_EVENT
    assert log_view.ANOTHER_CAUSE == failsafe.ANOTHER_CAUSE_EVENT
    assert log_view.ACKNOWLEDGE == failsafe.ACKNOWLEDGE_EVENT


# -- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "show", "plot", "keygen"])
def test_help_prints_usage(command: str, capsys: Capture) -> None:
    assert log_main([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: iabp log {command}")


def test_log_without_arguments_prints_usage_to_stderr(capsys: Capture) -> None:
    assert log_main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: iabp log")
    assert "iabp log verify FILE" in captured.err and "iabp log show FILE" in captured.err


@pytest.mark.parametrize("argv", [["check", "x"], ["verify"], ["show", "a", "--trip", "0"],
                                  ["plot", "a"], ["show", "a", "--trip", "x"]])
def test_usage_errors_are_one_line(argv: list[str], capsys: Capture) -> None:
    assert log_main(argv) == 2
    assert one_error_line(capsys).startswith("iabp log")


def test_a_missing_public_key_is_a_usage_error(trip_log: Path, tmp_path: Path,
                                              capsys: Capture) -> None:
    assert log_main(["verify", str(trip_log), "--key", str(tmp_path / "none")]) == 2
    assert "cannot read key file" in one_error_line(capsys)


# -- unreadable and damaged files -----------------------------------------------------------


def _damaged(kind: str, trip_log: Path, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "truncated":
        path.write_bytes(trip_log.read_bytes()[:-20])
    elif kind == "nan":
        path.write_text('{"hash":NaN,"payload":{},"prev_hash":"","seq":0,"type":"x",'
                        '"wall_time":0}\n')
    elif kind == "nested":
        path.write_text("[" * 100_000 + "\n")
    return path


@pytest.mark.parametrize("command", ["show", "plot"])
@pytest.mark.parametrize("kind, status", [("missing", 2), ("directory", 2), ("binary", 1),
                                          ("nan", 1), ("nested", 1)])
def test_a_file_that_is_no_log_is_one_line_on_stderr(
        command: str, kind: str, status: int, trip_log: Path, tmp_path: Path,
        capsys: Capture) -> None:
    path = tmp_path if kind == "directory" else _damaged(kind, trip_log, tmp_path)
    extra = ["--out", str(tmp_path / "plots")] if command == "plot" else []
    assert log_main([command, str(path), *extra]) == status
    assert capsys.readouterr().out == "" if status == 2 else True
    assert not (tmp_path / "plots").exists()


@pytest.mark.parametrize("kind, status, said", [
    ("missing", 2, "no such file"), ("directory", 2, "is a directory"),
    ("binary", 1, "(bad_json)"), ("truncated", 1, "(truncated_line)"),
    ("nan", 1, "(not_canonical)"), ("nested", 1, "(bad_json)")])
def test_verify_says_what_is_wrong_in_one_line(
        kind: str, status: int, said: str, trip_log: Path, tmp_path: Path,
        capsys: Capture) -> None:
    path = tmp_path if kind == "directory" else _damaged(kind, trip_log, tmp_path)
    assert log_main(["verify", str(path)]) == status
    captured = capsys.readouterr()
    both = (captured.out + captured.err).strip().splitlines()
    assert len(both) == 1 and said in both[0] and "Traceback" not in captured.err


def test_show_reads_a_truncated_log_up_to_its_damage(trip_log: Path, tmp_path: Path,
                                                     capsys: Capture) -> None:
    cut = _damaged("truncated", trip_log, tmp_path)
    assert log_main(["show", str(cut)]) == 1
    captured = capsys.readouterr()
    assert "MON-INFL-DIASTOLE" in captured.out and "BROKEN at line" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "(truncated_line)" in err[0]
    intact = len(records(trip_log)) - 1
    assert f"only the {intact} intact records before it are read" in err[0]


# -- show -----------------------------------------------------------------------------------


def test_show_lists_sessions_checkpoints_and_every_trip(trip_log: Path, capsys: Capture) -> None:
    assert log_main(["show", str(trip_log)]) == 0
    out = capsys.readouterr().out
    trips = trip_records(trip_log)
    assert len(trips) >= 2 and trips[0]["payload"]["trip"]["rule_id"] == "MON-INFL-DIASTOLE"
    assert "chain OK, sealed, signed by ed25519:" in out
    assert "session opened: iabp-audit/2" in out and "checkpoints; the last:" in out
    assert "session end (session closed)" in out and "seal:" in out
    for n, rec in enumerate(trips, 1):
        sentence = rec["payload"]["trip"]["message"]
        assert len(sentence) > 80
        assert f"trip {n}: {sentence}" in out  # one line: never wrapped off a terminal
        assert f"Trip {n}: {rec['payload']['trip']['rule_id']}" in out
    assert "\x1b[" not in out


def test_show_summarises_each_black_box_in_rows_of_250_frames(trip_log: Path,
                                                              capsys: Capture) -> None:
    assert log_main(["show", str(trip_log)]) == 0
    out = capsys.readouterr().out
    first = trip_records(trip_log)[0]
    before = [f for f in black_box(trip_log, first["seq"], "blackbox_pre")
              if f["kind"] == "TelemetryFrame"]
    table = out.split("Black box of trip 1,", 1)[1].split("\nTrip 2:", 1)[0].splitlines()
    rows = [line for line in table[2:] if line.strip()]
    marker = rows.index("--- trip ---")
    assert marker == -(-len(before) // 250)
    last = before[-1]
    assert rows[marker - 1].startswith(f"{before[-250]['time_ms']}..{last['time_ms']}")
    assert "ECG_TRIGGER" in rows[marker - 1] and "inflated" in rows[marker + 1]


def test_show_trip_n_lists_every_frame(trip_log: Path, capsys: Capture) -> None:
    assert log_main(["show", str(trip_log), "--trip", "1"]) == 0
    out = capsys.readouterr().out
    first = trip_records(trip_log)[0]
    before = black_box(trip_log, first["seq"], "blackbox_pre")
    after = black_box(trip_log, first["seq"], "blackbox_post")
    rows = out.split("every frame\n", 1)[1].splitlines()[1:]
    assert len(rows) == len(before) + 1 + len(after)
    assert rows[len(before)] == "--- trip ---"
    f = before[-1]
    assert rows[len(before) - 1].split()[:3] == [str(f["time_ms"]), str(f["seq"]),
                                                 "ECG_TRIGGER"]
    settings = [r for r in rows if "SettingsFrame:" in r]
    assert len(settings) == sum(1 for g in before + after if g["kind"] == "SettingsFrame")
    assert "Trip 2" not in out


def test_show_json_holds_the_log_and_every_frame(trip_log: Path, capsys: Capture) -> None:
    assert log_main(["show", str(trip_log), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    raw = records(trip_log)
    assert doc["schema"] == "iabp-log-show/1" and doc["log_format"] == "iabp-audit/2"
    assert doc["verify"]["status"] == "sealed" and doc["verify"]["records"] == len(raw)
    assert [r["seq"] for r in doc["records"]] == [r["seq"] for r in raw]
    trips = trip_records(trip_log)
    assert [t["rule"] for t in doc["trips"]] == [t["payload"]["trip"]["rule_id"] for t in trips]
    first = doc["trips"][0]
    assert first["before"] == black_box(trip_log, trips[0]["seq"], "blackbox_pre")
    assert first["after"] == black_box(trip_log, trips[0]["seq"], "blackbox_post")
    assert first["console_ms"] == first["before"][-1]["time_ms"]
    assert log_main(["show", str(trip_log), "--json", "--trip", "2"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["number"] == 2 and second["rule"] == doc["trips"][1]["rule"]


def test_show_on_a_terminal_is_a_rich_table_without_colour_under_no_color(
        trip_log: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert log_main(["show", str(trip_log)]) == 0
    out = capsys.readouterr().out
    assert "MON-INFL-DIASTOLE" in out and "\x1b[" not in out
    assert "─" in out  # the rich table's rule under the header
    assert max(len(line) for line in out.splitlines()) <= 120


def test_show_a_trip_that_is_not_there(trip_log: Path, capsys: Capture) -> None:
    n = len(trip_records(trip_log))
    assert log_main(["show", str(trip_log), "--trip", str(n + 1)]) == 2
    assert f"the log has {n} trips (1..{n})" in one_error_line(capsys)


# -- plot -----------------------------------------------------------------------------------


def test_plot_writes_one_png_per_trip(trip_log: Path, tmp_path: Path, capsys: Capture) -> None:
    out = tmp_path / "trips"
    assert log_main(["plot", str(trip_log), "--out", str(out)]) == 0
    trips = trip_records(trip_log)
    files = sorted(out.iterdir())
    assert [f.name.split("_", 1)[0] for f in files] == [f"{n:03d}" for n in
                                                         range(1, len(trips) + 1)]
    assert "MON-INFL-DIASTOLE" in files[0].name
    for f in files:
        data = f.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert capsys.readouterr().out.count(str(out)) == len(trips)


def test_plot_one_trip_to_one_file(trip_log: Path, tmp_path: Path, capsys: Capture) -> None:
    one = tmp_path / "new" / "trip2.svg"
    assert log_main(["plot", str(trip_log), "--out", str(one)]) == 2  # several trips
    assert "give --trip N" in one_error_line(capsys)
    assert log_main(["plot", str(trip_log), "--out", str(one), "--trip", "2"]) == 0
    assert one.read_text().lstrip().startswith("<?xml") and "<svg" in one.read_text()


def test_a_trip_without_telemetry_has_no_plot(silent_log: Path, tmp_path: Path,
                                              capsys: Capture) -> None:
    assert log_main(["plot", str(silent_log), "--out", str(tmp_path / "p")]) == 0
    assert "no frames in its black box: no plot" in capsys.readouterr().out
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("out, said", [("trips.jpg", "ends in .png, .svg or .pdf"),
                                       ("file", "is a file but not"),
                                       ("dir.png", "is a directory")])
def test_a_bad_out_is_refused_before_the_log_is_read(out: str, said: str, tmp_path: Path,
                                                      capsys: Capture) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.png").mkdir()
    missing_log = str(tmp_path / "no-such-log.jsonl")  # never reached
    assert log_main(["plot", missing_log, "--out", str(tmp_path / out)]) == 2
    assert said in one_error_line(capsys)


def test_an_unwritable_out_is_refused(capsys: Capture) -> None:
    """/proc/self is not writable even for root (CI runs as root: a 0500 directory
    would not do)."""
    assert log_main(["plot", "x.jsonl", "--out", "/proc/self/iabp-trips"]) == 2
    assert "cannot write in" in one_error_line(capsys)


# -- keys and verify ------------------------------------------------------------------------


def test_keygen_writes_a_0600_private_key_and_prints_the_public_one(
        tmp_path: Path, capsys: Capture) -> None:
    assert log_main(["keygen", str(tmp_path / "k"), "--public", str(tmp_path / "pub.pem")]) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    public = load_public_key(tmp_path / "pub.pem")
    assert key_id(public) in out and "BEGIN PUBLIC KEY" in out
    assert log_main(["keygen", str(tmp_path / "k")]) == 2  # never overwrites a key
    assert "exists" in one_error_line(capsys)


def test_verify_json_of_an_authenticated_log(trip_log: Path, keys: tuple[Path, Path],
                                             capsys: Capture) -> None:
    assert log_main(["verify", str(trip_log), "--key", str(keys[1]), "--require-sealed",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "iabp-log-verify/1" and doc["log_format"] == "iabp-audit/2"
    assert (doc["status"], doc["ok"], doc["problem"], doc["first_bad_line"]) == (
        "sealed", True, None, None)
    assert doc["records"] == len(records(trip_log))
    assert doc["signed"] and doc["authenticated"] and doc["sealed"]
    assert doc["key_id"] == key_id(load_public_key(keys[1]))


def test_verify_json_of_an_edited_log(trip_log: Path, keys: tuple[Path, Path], tmp_path: Path,
                                      capsys: Capture) -> None:
    lines = trip_log.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if '"safe_state"' in line)
    lines[at] = lines[at].replace("MON-INFL-DIASTOLE", "MON-NOTHING-HAPPENED")
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(lines))
    assert log_main(["verify", str(edited), "--key", str(keys[1]), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["status"], doc["ok"], doc["problem"]) == ("broken", False, "bad_hash")
    assert doc["first_bad_line"] == at + 1 and doc["records"] == at


def test_a_signed_session_verifies_with_its_public_key(
        silent_log: Path, keys: tuple[Path, Path], capsys: Capture) -> None:
    recs = records(silent_log)
    assert all("sig" in r for r in recs)
    assert [r["type"] for r in recs][-2:] == ["session_end", "seal"]
    assert any(r["type"] == "checkpoint" for r in recs)
    assert log_main(["verify", str(silent_log), "--key", str(keys[1]), "--require-sealed"]) == 0
    out = capsys.readouterr().out
    assert "OK, authenticated" in out and "sealed" in out and key_id(
        load_public_key(keys[1])) in out


def test_without_a_key_verify_checks_the_chain_only_and_says_so(
        silent_log: Path, capsys: Capture) -> None:
    assert log_main(["verify", str(silent_log)]) == 0
    assert "chain only: not authenticated" in capsys.readouterr().out


def test_a_log_signed_by_another_key_fails(silent_log: Path, tmp_path: Path,
                                           capsys: Capture) -> None:
    assert log_main(["keygen", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    assert log_main(["verify", str(silent_log), "--key", str(tmp_path / "other.pub")]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at line 1 (bad_signature)" in out and "another key" in out


@pytest.mark.parametrize("keep", ["all but the last 2", "the first record"])
def test_a_cut_log_fails_when_a_seal_is_required(
        silent_log: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: Capture,
        keep: str) -> None:
    lines = silent_log.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:-2] if keep.startswith("all") else lines[:1]))
    assert log_main(["verify", str(cut), "--key", str(keys[1])]) == 0  # looks like a crash
    assert "UNSEALED" in capsys.readouterr().out
    assert log_main(["verify", str(cut), "--key", str(keys[1]), "--require-sealed"]) == 1
    assert "(not_sealed)" in capsys.readouterr().out


def test_an_empty_log_fails(tmp_path: Path, keys: tuple[Path, Path], capsys: Capture) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert log_main(["verify", str(empty)]) == 1
    assert log_main(["verify", str(empty), "--key", str(keys[1])]) == 1
    assert "(empty)" in capsys.readouterr().out


def test_an_edited_record_fails(silent_log: Path, keys: tuple[Path, Path], tmp_path: Path,
                                capsys: Capture) -> None:
    text = silent_log.read_text().replace('"SILENCE"', '"PORT_LOST"', 1)
    edited = tmp_path / "edited.jsonl"
    edited.write_text(text)
    assert log_main(["verify", str(edited), "--key", str(keys[1])]) == 1
    assert "BROKEN at line" in capsys.readouterr().out


def test_an_unsigned_log_is_readable_but_not_authenticated(
        early_inflation: bytes, tmp_path: Path, keys: tuple[Path, Path],
        capsys: Capture) -> None:
    log = tmp_path / "unsigned.jsonl"
    run_on_bytes(early_inflation, log=log).close()
    assert log_main(["verify", str(log)]) == 0
    assert "chain only: not authenticated (unsigned log)" in capsys.readouterr().out
    assert log_main(["verify", str(log), "--key", str(keys[1])]) == 1
    assert "(unsigned)" in capsys.readouterr().out
    assert log_main(["verify", str(log), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["log_format"] == "iabp-audit/1" and not doc["signed"] and doc["key_id"] is None
    assert log_main(["show", str(log)]) == 0
    assert "iabp-audit/1, chain OK, sealed, unsigned" in capsys.readouterr().out


# -- -q / -v (issue 10) -------------------------------------------------------------------


def test_verify_quiet_is_a_short_verdict(silent_log: Path, keys: tuple[Path, Path],
                                         tmp_path: Path, capsys: Capture) -> None:
    assert log_main(["verify", str(silent_log), "--key", str(keys[1]), "-q"]) == 0
    records_n = len(records(silent_log))
    assert capsys.readouterr().out == (f"{silent_log}: OK, authenticated, {records_n} "
                                       "records, sealed\n")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(silent_log.read_text().splitlines(keepends=True)[:-1]) + "{\n")
    assert log_main(["verify", str(cut), "-q"]) == 1
    line = capsys.readouterr().out
    assert line.startswith(f"{cut}: BROKEN at line {records_n} (") and line.count("\n") == 1


def test_show_quiet_is_the_headline_and_verbose_every_frame_of_every_trip(
        trip_log: Path, capsys: Capture) -> None:
    assert log_main(["show", str(trip_log), "-q"]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "chain OK, sealed" in line and " trips" in line
    assert log_main(["show", str(trip_log), "-v"]) == 0
    out = capsys.readouterr().out
    assert "Black box of trip 1, every frame" in out and "Black box of trip 2, every frame" in out
    assert "250 frames (ms of console time) a row" not in out
