"""``iabp monitor`` on the command line (issue 9): bad usage is one line on stderr and exit
2, never a traceback; without ``--key`` the audit log is unsigned and a warning says so;
``--json`` writes JSON lines on stdout and ``-q`` drops the status line (issue 10).
(``iabp log`` is tested in test_log_cli.py.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from iabp.monitor.audit_log import verify_log
from iabp.monitor.cli import monitor_main

Capture = pytest.CaptureFixture[str]


def one_error_line(capsys: Capture) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- iabp monitor: errors -------------------------------------------------------------------


def test_a_binary_patient_file_is_a_usage_error(tmp_path: Path, capsys: Capture) -> None:
    binary = tmp_path / "profile.json"
    binary.write_bytes(bytes(range(256)) * 4)
    assert monitor_main(["loop://", "--patient", str(binary)]) == 2
    assert "not a text" in one_error_line(capsys)


def test_a_log_that_is_a_directory_is_a_usage_error(tmp_path: Path, capsys: Capture) -> None:
    assert monitor_main(["loop://", "--log", str(tmp_path)]) == 2
    assert "is a directory" in one_error_line(capsys)


def test_a_log_in_a_missing_directory_is_a_usage_error(capsys: Capture) -> None:
    assert monitor_main(["loop://", "--log", "/missing/dir/a.jsonl"]) == 2
    assert "no such directory" in one_error_line(capsys)


def test_a_mistyped_port_cannot_be_opened_and_exits_at_once(capsys: Capture) -> None:
    t0 = time.monotonic()
    assert monitor_main(["/dev/ttyNOPE"]) == 2
    assert time.monotonic() - t0 < 5.0  # not after a startup timeout or --seconds
    err = capsys.readouterr().err
    assert "cannot open port '/dev/ttyNOPE'" in err and "port lost" not in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_mistyped_interlock_port_cannot_be_opened(tmp_path: Path, capsys: Capture) -> None:
    assert monitor_main(["loop://", "--interlock", "/dev/ttyNOPE"]) == 2
    assert "cannot open port '/dev/ttyNOPE'" in one_error_line(capsys)


def test_the_ports_are_opened_at_the_protocols_line_rates(
        monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    """The console line at 921 600 bit/s (115 200 cannot carry 1000 frames a second), the
    interlock at the relay box's default: what the Monitor uses when it opens them."""
    from iabp.monitor import cli
    from iabp.monitor.port import DEFAULT_BAUDRATE
    from iabp.monitor.protocol import BAUD_RATE
    from iabp.spec.errors import PortError

    asked: list[tuple[str, int]] = []

    def refuse_after_two(url: str, baudrate: int, **_: object) -> object:
        asked.append((url, baudrate))
        if len(asked) == 2:
            raise PortError(f"cannot open port {url!r}: test")
        return type("Port", (), {"close": lambda self: None})()

    monkeypatch.setattr(cli, "open_port", refuse_after_two)
    assert monitor_main(["/dev/ttyCONSOLE", "--interlock", "/dev/ttyRELAY"]) == 2
    assert asked == [("/dev/ttyCONSOLE", BAUD_RATE), ("/dev/ttyRELAY", DEFAULT_BAUDRATE)]
    assert "cannot open port '/dev/ttyRELAY'" in one_error_line(capsys)


def test_key_errors_are_usage_errors(tmp_path: Path, capsys: Capture) -> None:
    log = str(tmp_path / "a.jsonl")
    assert monitor_main(["loop://", "--key", str(tmp_path / "k")]) == 2
    assert "give --log" in one_error_line(capsys)
    assert monitor_main(["loop://", "--log", log, "--key", str(tmp_path / "missing")]) == 2
    assert "cannot read key file" in one_error_line(capsys)
    (tmp_path / "junk").write_text("not a key\n")
    assert monitor_main(["loop://", "--log", log, "--key", str(tmp_path / "junk")]) == 2
    assert "not an unencrypted PEM private key" in one_error_line(capsys)
    assert not (tmp_path / "a.jsonl").exists()


# -- iabp monitor: the audit log ----------------------------------------------------------


def test_without_a_key_the_monitor_warns_that_its_log_is_not_signed(
        tmp_path: Path, capsys: Capture) -> None:
    """(``iabp log``, which checks such logs, is tested in test_log_cli.py.)"""
    log = tmp_path / "unsigned.jsonl"
    assert monitor_main(["loop://", "--seconds", "2.5", "--log", str(log)]) == 1
    assert "warning: no --key: the audit log is NOT signed" in capsys.readouterr().err
    result = verify_log(log, require_sealed=True)
    assert result.ok and not result.signed


# -- iabp monitor: --json, -q, -v ---------------------------------------------------------


def test_json_puts_status_trips_and_summary_on_stdout_as_json_lines(capsys: Capture) -> None:
    """A console that never sends trips at the 2 s start-up timeout."""
    assert monitor_main(["loop://", "--json", "--seconds", "2.2"]) == 1
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]  # JSON lines only
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "summary" and "trip" in kinds
    trip = events[kinds.index("trip")]
    assert trip["cause"] == "SILENCE" and trip["latching"] is True and trip["message"]
    assert events[-2]["event"] == "status" and events[-2]["safe_state"] is True
    summary = events[-1]
    assert summary["exit_status"] == 1 and summary["safe_state_entered"] is True
    assert summary["first_trip"]["cause"] == "SILENCE"
    assert "SAFE STATE" in captured.err  # the alarm stays on stderr, as text
    assert "[watching]" not in captured.err and "frames/s" not in captured.err


def test_quiet_drops_the_status_line_but_not_the_summary(capsys: Capture) -> None:
    assert monitor_main(["loop://", "--seconds", "0.2"]) == 0
    assert "[watching]" in capsys.readouterr().err  # the status line, by default
    assert monitor_main(["loop://", "--seconds", "0.2", "-q"]) == 0
    captured = capsys.readouterr()
    assert "[watching]" not in captured.err and captured.out == ""
    assert "iabp monitor: 0 frames, 0 violations" in captured.err
