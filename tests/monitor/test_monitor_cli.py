"""``iabp monitor`` and ``iabp log`` on the command line (issue 9).

Bad usage is one line on stderr and exit 2, never a traceback; ``iabp log keygen`` makes
the signing key; ``iabp log verify --key [--require-sealed]`` fails on every kind of
tampering the signed log can show, and says "chain only: not authenticated" without a key.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from iabp.monitor.audit_log import key_id, load_public_key
from iabp.monitor.cli import log_main, monitor_main

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


# -- iabp log: usage ------------------------------------------------------------------------


def test_log_verify_help_prints_usage(capsys: Capture) -> None:
    assert log_main(["verify", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: iabp log verify") and "--require-sealed" in out


def test_log_without_arguments_prints_usage_to_stderr(capsys: Capture) -> None:
    assert log_main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: iabp log")
    assert "iabp log verify FILE" in captured.err


def test_log_usage_errors(tmp_path: Path, capsys: Capture) -> None:
    assert log_main(["check", "x"]) == 2
    assert log_main(["verify"]) == 2
    assert log_main(["verify", str(tmp_path / "none")]) == 2
    (tmp_path / "a.jsonl").write_text("")
    assert log_main(["verify", str(tmp_path / "a.jsonl"), "--key", str(tmp_path / "none")]) == 2
    assert "Traceback" not in capsys.readouterr().err


# -- keys, a signed session, and what verify says -------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    assert log_main(["keygen", str(d / "monitor.key")]) == 0
    return d / "monitor.key", d / "monitor.key.pub"


@pytest.fixture(scope="module")
def signed_log(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """A real ``iabp monitor --key`` session (no telemetry on loop://: it trips)."""
    log = tmp_path_factory.mktemp("signed") / "audit.jsonl"
    assert monitor_main(["loop://", "--seconds", "2.5", "--log", str(log),
                         "--key", str(keys[0])]) == 1
    return log


def test_keygen_writes_a_0600_private_key_and_prints_the_public_one(
        tmp_path: Path, capsys: Capture) -> None:
    assert log_main(["keygen", str(tmp_path / "k"), "--public", str(tmp_path / "pub.pem")]) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    public = load_public_key(tmp_path / "pub.pem")
    assert key_id(public) in out and "BEGIN PUBLIC KEY" in out
    assert log_main(["keygen", str(tmp_path / "k")]) == 2  # never overwrites a key
    assert "exists" in one_error_line(capsys)


def test_a_signed_session_verifies_with_its_public_key(
        signed_log: Path, keys: tuple[Path, Path], capsys: Capture) -> None:
    records = [json.loads(line) for line in signed_log.read_text().splitlines()]
    assert all("sig" in r for r in records)
    assert [r["type"] for r in records][-2:] == ["session_end", "seal"]
    assert any(r["type"] == "checkpoint" for r in records)
    assert log_main(["verify", str(signed_log), "--key", str(keys[1]), "--require-sealed"]) == 0
    out = capsys.readouterr().out
    assert "OK, authenticated" in out and "sealed" in out and key_id(
        load_public_key(keys[1])) in out


def test_without_a_key_verify_checks_the_chain_only_and_says_so(
        signed_log: Path, capsys: Capture) -> None:
    assert log_main(["verify", str(signed_log)]) == 0
    assert "chain only: not authenticated" in capsys.readouterr().out


def test_a_log_signed_by_another_key_fails(signed_log: Path, tmp_path: Path,
                                           capsys: Capture) -> None:
    assert log_main(["keygen", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    assert log_main(["verify", str(signed_log), "--key", str(tmp_path / "other.pub")]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at line 1 (bad_signature)" in out and "another key" in out


@pytest.mark.parametrize("keep", ["all but the last 2", "the first record"])
def test_a_cut_log_fails_when_a_seal_is_required(
        signed_log: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: Capture,
        keep: str) -> None:
    lines = signed_log.read_bytes().splitlines(keepends=True)
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


def test_an_edited_record_fails(signed_log: Path, keys: tuple[Path, Path], tmp_path: Path,
                                capsys: Capture) -> None:
    text = signed_log.read_text().replace('"SILENCE"', '"PORT_LOST"', 1)
    edited = tmp_path / "edited.jsonl"
    edited.write_text(text)
    assert log_main(["verify", str(edited), "--key", str(keys[1])]) == 1
    assert "BROKEN at line" in capsys.readouterr().out


def test_an_unsigned_log_is_readable_but_not_authenticated(
        tmp_path: Path, keys: tuple[Path, Path], capsys: Capture) -> None:
    log = tmp_path / "unsigned.jsonl"
    assert monitor_main(["loop://", "--seconds", "2.5", "--log", str(log)]) == 1
    assert "warning: no --key: the audit log is NOT signed" in capsys.readouterr().err
    assert log_main(["verify", str(log)]) == 0
    assert "chain only: not authenticated (unsigned log)" in capsys.readouterr().out
    assert log_main(["verify", str(log), "--key", str(keys[1])]) == 1
    assert "(unsigned)" in capsys.readouterr().out
