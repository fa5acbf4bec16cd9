"""``iabp simulate`` and ``iabp console`` on the command line: outputs and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from iabp.__main__ import main as iabp_main
from iabp.sim import cli as sim_cli
from iabp.sim.cli import console_main, parse_ratio, simulate_main
from iabp.sim.records import available_records

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_simulate_writes_a_png_and_prints_the_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.png"
    rc = simulate_main(["--hr", "80", "--ratio", "1:2", "--mode", "ecg", "--seconds", "6",
                        "--plot", str(out), "--fault", "late-deflation", "--seed", "3"])
    assert rc == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    text = capsys.readouterr().out
    assert "late-deflation" in text and "normal" in text and "ADIA" in text


def test_the_iabp_entry_point_dispatches_simulate(tmp_path: Path) -> None:
    assert iabp_main(["simulate", "--seconds", "2", "--mode", "pressure"]) == 0


@pytest.mark.parametrize("argv", [
    ["--ratio", "1:5"], ["--ratio", "x"], ["--mode", "auto"], ["--seconds", "-1"],
    ["--seconds", "nan"], ["--hr", "250"], ["--fault", "hiccup"], ["--bogus"],
    ["--record", "no/such-record"], ["--record", "mitdb/100", "--fault", "kink"],
])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate_main(argv) == 2
    assert "iabp simulate:" in capsys.readouterr().err


@pytest.mark.skipif("mitdb/100" not in available_records(), reason="PhysioNet data not present")
def test_simulate_replays_a_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "replay.png"
    assert simulate_main(["--record", "mitdb/100", "--seconds", "4", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    text = capsys.readouterr().out
    assert "recording does not show the balloon" in text
    assert simulate_main(["--record", "mitdb/100", "--mode", "pressure", "--seconds", "2"]) == 2


def test_console_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert console_main(["--port", "loop://", "--seconds", "0.3", "--fast",
                         "--fault", "garbage", "--fault-at", "0.1"]) == 0
    assert "300 ticks" in capsys.readouterr().out
    assert console_main(["--port", "/dev/iabp-no-such-port", "--seconds", "1"]) == 2
    assert console_main(["--seconds", "1"]) == 2  # --port is required
    assert console_main(["--port", "loop://", "--fault", "early-deflation"]) == 2


def test_parse_ratio() -> None:
    assert [parse_ratio(x) for x in ("1:1", "1:2", "3")] == [1, 2, 3]


@pytest.mark.parametrize("plot", ["/proc/iabp-x.png", "out.txt", "figure"])
def test_an_unusable_plot_path_is_refused_before_simulating(
        plot: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def never(_: object) -> None:
        raise AssertionError("simulated before checking --plot")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim_cli, "_run_simulation", never)
    assert simulate_main(["--seconds", "1", "--plot", plot]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("iabp simulate: --plot")
    (tmp_path / "d.png").mkdir()
    assert simulate_main(["--seconds", "1", "--plot", "d.png"]) == 2
    assert list(tmp_path.iterdir()) == [tmp_path / "d.png"]  # no probe or scratch left


def test_ctrl_c_in_simulate_is_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim_cli, "_run_simulation", interrupted)
    out = tmp_path / "x.png"
    assert simulate_main(["--seconds", "1", "--plot", str(out)]) == 130
    assert capsys.readouterr().err.strip() == "iabp simulate: interrupted"
    assert not out.exists() and not list(tmp_path.iterdir())


def test_an_svg_figure_is_written_whole(tmp_path: Path) -> None:
    out = tmp_path / "new" / "fig.svg"
    assert simulate_main(["--seconds", "2", "--plot", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml")
    assert [p.name for p in out.parent.iterdir()] == ["fig.svg"]


def test_simulate_quiet_is_one_line_and_verbose_lists_each_inflation(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate_main(["--seconds", "5", "-q"]) == 0
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert line.startswith("ECG 1:1: 5 s simulated, ") and " inflations, " in line
    assert "ms with gas in the balloon during true ejection" in line
    assert captured.err == ""  # no progress bar: stderr is not a terminal
    assert simulate_main(["--seconds", "5", "-v"]) == 0
    out = capsys.readouterr().out
    listed = out.split("each inflation (start-end, ms of simulated time): ", 1)[1]
    spans = [tuple(map(int, s.split("-"))) for s in listed.splitlines()[0].split()]
    inflations = int(out.split("inflations (drive): ", 1)[1].split(";")[0])
    assert len(spans) == inflations >= 1
    assert all(0 <= start < end <= 5000 for start, end in spans)
