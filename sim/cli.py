"""``iabp simulate`` and ``iabp console``: the closed loop on the command line.

    iabp simulate --hr 80 --ratio 1:2 --mode ecg --seconds 30 --plot out.png
                  [--fault NAME] [--fault-at S] [--record PATH] [--seed N] [--table] [-q | -v]
    iabp console (--port URL | --listen HOST:PORT) [--hr 80] [--ratio 1:1] [--mode ecg] [--fault NAME]
                 [--fault-at S] [--seconds S] [--realtime | --fast] [--seed N]

Exit status: 0 success, 1 the console lost its port, 2 bad usage (unknown option, bad
value, missing or unreadable record, port that cannot be opened, a --plot file that
cannot be written), 130 ``iabp simulate`` interrupted (Ctrl-C). The --plot path is
checked before simulating, and the figure is written whole or not at all.

``iabp simulate`` prints the run's summary (modes, alarms, inflations, gas in ejection)
and its figures; ``-q`` one line instead (:func:`verdict_line`), ``-v`` also every
inflation's start and end. While the closed loops run (a few seconds each; ``--table``
adds five) a progress bar counts them on stderr when it is a terminal (not with ``-q``).
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import time
from pathlib import Path
from typing import NoReturn

import numpy as np
from rich.console import Console
from rich.table import Table

from iabp.sim.closed_loop import (
    START_KEYS,
    ClosedLoopTrace,
    LoopConfig,
    SimulationError,
    replay_record,
    run_closed_loop,
)
from iabp.sim.console import (
    CONSOLE_FAULTS,
    DEFAULT_FAULT_AT_MS,
    WRITE_TIMEOUT_S,
    SimulatedConsole,
)
from iabp.sim.faults import (
    FAULTS,
    FIGURE_COLUMNS,
    TIMING_SHIFT_MS,
    TIMING_TABLE_RUNS,
    Fault,
    run_fault,
    timing_error_table,
)
from iabp.sim.listen_port import AcceptedSocketPort, accept_console_port
from iabp.spec.errors import IabpError, PortError, RecordError
from iabp.spec.modes import Alarm
from iabp.terminal import (
    OutputPlaceError,
    ProgressBar,
    Verbosity,
    add_verbosity_arguments,
    check_output_place,
    rich_console,
)

MAX_SECONDS = 3600.0
#: figure formats matplotlib's Agg canvas writes by itself, by file extension
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the entry points return 2 themselves."""

    def error(self, message: str) -> NoReturn:
        raise SimulationError(message)


def parse_ratio(text: str) -> int:
    """``"1:2"`` or ``"2"`` -> 2 (assist one beat in N, N in 1..3)."""
    n = text.split(":", 1)[1] if ":" in text and text.split(":", 1)[0] == "1" else text
    try:
        value = int(n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ratio {text!r}: expected 1:1, 1:2 or 1:3") from None
    if value not in (1, 2, 3):
        raise argparse.ArgumentTypeError(f"ratio {text!r}: expected 1:1, 1:2 or 1:3")
    return value


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(v) and 0.0 < v <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(f"seconds must be in (0, {MAX_SECONDS:g}]")
    return v


def _hr(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a heart rate") from None
    if not 30.0 <= v <= 180.0:
        raise argparse.ArgumentTypeError("heart rate must be within 30-180 bpm")
    return v


def _common(p: argparse.ArgumentParser, faults: tuple[Fault, ...], ratio: str) -> None:
    p.add_argument("--hr", type=_hr, default=80.0, help="sinus heart rate (bpm), default 80")
    p.add_argument("--ratio", type=parse_ratio, default=parse_ratio(ratio),
                   help=f"assist ratio 1:1, 1:2 or 1:3 (default {ratio})")
    p.add_argument("--mode", choices=sorted(START_KEYS), default="ecg",
                   help="trigger mode; internal simulates asystole (default ecg)")
    p.add_argument("--fault", choices=[f.value for f in faults], default=None,
                   help="inject this fault")
    p.add_argument("--fault-at-s", "--fault-at", type=_seconds, default=None, dest="fault_at",
                   help="fault onset (s of simulated time)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the patient")


def _simulate_parser() -> _Parser:
    p = _Parser(prog="iabp simulate", description="Closed loop: patient model + trigger "
                "detectors + the verified controller, at 1 kHz.")
    _common(p, FAULTS, "1:1")
    p.add_argument("--seconds", type=_seconds, default=30.0, help="simulated time (s)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="write the figure to this file (.png, .svg or .pdf)")
    p.add_argument("--record", default=None, help="replay a PhysioNet record (e.g. mitdb/100 "
                   "or a path to its .hea) instead of the patient model")
    p.add_argument("--table", action="store_true", help="also print the figures of normal "
                   "pumping and of the four timing errors (1:2, same rate)")
    add_verbosity_arguments(p, quiet="one line: the run, its inflations and gas in ejection",
                            verbose="also every inflation's start and end (ms)")
    return p


def _cell(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.1f}"


def figures_table(rows: dict[str, dict[str, float]], title: str) -> Table:
    """A rich table of the timing-card figures (mmHg) and stroke volumes (mL)."""
    t = Table(title=f"{title}: pressures mmHg, stroke volumes mL")
    t.add_column("run", no_wrap=True)
    for c in (*FIGURE_COLUMNS, "SV SYS", "SV ASYS"):
        t.add_column(c, justify="right")
    for name, fig in rows.items():
        t.add_row(name, *(_cell(fig.get(c)) for c in FIGURE_COLUMNS),
                  _cell(fig.get("SV_SYS_mL")), _cell(fig.get("SV_ASYS_mL")))
    return t


def _summary(out: Console, tr: ClosedLoopTrace) -> None:
    modes = ", ".join(f"{t / 1000:.1f}s {m.name}" for t, m in tr.mode_changes())
    mask = tr.alarm_mask.astype(np.int64)
    raised = np.flatnonzero(np.diff(mask, prepend=0) > 0)
    alarms = ", ".join(f"{i / 1000:.2f}s " + "+".join(
        a.name for a in Alarm if (int(mask[i]) & ~int(mask[i - 1] if i else 0)) >> a & 1)
        for i in raised) or "none"
    out.print(f"[bold]{tr.label}[/bold]: {tr.duration_ms / 1000:g} s simulated")
    out.print(f"  modes: {modes}")
    out.print(f"  alarms raised: {alarms}")
    ref = (f" of {int(tr.r_true.sum())} {'reference' if tr.replay else 'true'} beats"
           if tr.r_true.any() else " (no reference beats)")
    out.print(f"  inflations (drive): {len(tr.inflations())}; R waves detected: "
              f"{int(tr.r_detected.sum())}{ref}")
    if not tr.replay:
        vb = tr.balloon_volume_ml[tr.in_ejection]
        out.print(f"  balloon volume during true ejection: max {float(vb.max(initial=0.0)):.1f} "
                  f"mL, {int((vb > 0.0).sum())} ms with gas in the balloon")


def _run_simulation(a: argparse.Namespace) -> ClosedLoopTrace:
    ms = int(round(a.seconds * 1000))
    if a.record is not None:
        if a.fault is not None:
            raise SimulationError("--fault needs the patient model; it cannot act on a --record")
        return replay_record(a.record, mode=a.mode, ratio=a.ratio, seconds=a.seconds)
    cfg = LoopConfig(hr_bpm=a.hr, ratio=a.ratio, mode=a.mode, duration_ms=ms, seed=a.seed)
    if a.fault is None:
        return run_closed_loop(cfg)
    at = None if a.fault_at is None else int(round(a.fault_at * 1000))
    return run_fault(a.fault, cfg, at_ms=at)


def check_plot_path(text: str) -> Path:
    """Refuse (:class:`SimulationError`) a ``--plot`` file that cannot be written, before the
    simulation runs: a known figure extension, not a directory, and a directory that takes
    a new file (:func:`iabp.terminal.check_output_place`)."""
    path = Path(text)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise SimulationError(f"--plot {text}: the file name must end in .png, .svg or .pdf "
                              "(the figure's format)")
    try:
        check_output_place(path)
    except OutputPlaceError as exc:
        raise SimulationError(f"--plot {text}{exc}") from None
    return path


def write_plot(tr: ClosedLoopTrace, path: Path) -> Path:
    """Render ``tr`` to ``path`` whole or not at all (a scratch file renamed over it)."""
    from iabp.sim.plots import plot_trace  # matplotlib only when a figure is asked for

    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / f".{path.stem}.partial-{secrets.token_hex(4)}{path.suffix}"
    try:
        plot_trace(tr, scratch)
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return path


def simulate_main(argv: list[str]) -> int:
    """``iabp simulate``: run, print the figures, optionally plot. 0 ok, 2 bad usage,
    130 interrupted."""
    err = rich_console(stderr=True)
    try:
        return _simulate(argv)
    except KeyboardInterrupt:
        err.print("iabp simulate: interrupted", markup=False)
        return EXIT_INTERRUPTED


def _simulate(argv: list[str]) -> int:
    out, err = rich_console(), rich_console(stderr=True)
    try:
        a = _simulate_parser().parse_args(argv)
        plot = None if a.plot is None else check_plot_path(a.plot)
    except SimulationError as exc:
        err.print(f"iabp simulate: {exc}", markup=False)
        return 2
    except SystemExit as exc:  # --help
        return 0 if exc.code in (0, None) else 2
    talk = a.verbosity
    # every closed-loop run is computed first (a progress bar counts them), then printed
    compare = a.record is None and a.fault in TIMING_SHIFT_MS
    runs = 1 + compare + (TIMING_TABLE_RUNS if a.table else 0)
    with ProgressBar("iabp simulate: closed-loop runs", runs,
                     shown=talk >= Verbosity.NORMAL) as bar:
        bar.update(0)  # on the screen from the start, not after the first run
        try:
            tr = _run_simulation(a)
        except (SimulationError, RecordError) as exc:
            err.print(f"iabp simulate: {exc}", markup=False)
            return 2
        bar.advance()
        rows: dict[str, dict[str, float]] = {}
        if not tr.replay and compare:
            cfg = LoopConfig(hr_bpm=a.hr, ratio=a.ratio, mode=a.mode,
                             duration_ms=tr.duration_ms, seed=a.seed)
            rows[f"{cfg.mode.upper()} 1:{a.ratio}, normal"] = run_closed_loop(cfg).figures()
            bar.advance()
        if not tr.replay:
            rows[tr.label] = tr.figures()
        tab = timing_error_table(
            hr_bpm=a.hr, mode="pressure" if a.mode == "pressure" else "ecg", seed=a.seed,
            on_run=lambda _: bar.advance()) if a.table else None
    if talk >= Verbosity.NORMAL:
        _summary(out, tr)
        if talk >= Verbosity.VERBOSE:
            out.print("  each inflation (start-end, ms of simulated time): "
                      + (" ".join(f"{s}-{e}" for s, e in tr.inflations()) or "none"),
                      markup=False)
        if tr.replay:
            out.print(f"  source: {tr.source}")
            out.print("  figures: not available - a recording does not show the balloon's "
                      "effect")
        else:
            out.print(figures_table(rows, "Assistance figures (aortic root)"))
        if tab is not None:
            out.print(figures_table(tab, f"Timing errors, 1:2 at {a.hr:g} bpm"))
    written = None
    if plot is not None:
        try:
            written = write_plot(tr, plot)
        except OSError as exc:
            err.print(f"iabp simulate: cannot write the figure {plot}: {exc}", markup=False)
            return 2
        if talk >= Verbosity.NORMAL:
            out.print(f"  figure: {written}", markup=False)
    if talk is Verbosity.QUIET:
        out.print(verdict_line(tr, written), markup=False)
    return 0


def verdict_line(tr: ClosedLoopTrace, figure: Path | None = None) -> str:
    """``iabp simulate -q``: the run in one line (inflations, R waves, gas in ejection)."""
    line = (f"{tr.label}: {tr.duration_ms / 1000:g} s simulated, {len(tr.inflations())} "
            f"inflations, {int(tr.r_detected.sum())} R waves detected")
    if not tr.replay:
        line += (f", {int((tr.balloon_volume_ml[tr.in_ejection] > 0.0).sum())} ms with gas "
                 "in the balloon during true ejection")
    return line + (f"; figure {figure}" if figure is not None else "")


def _console_parser() -> _Parser:
    p = _Parser(prog="iabp console", description="Simulated console streaming protocol-v1 "
                "telemetry on a serial URL and obeying monitor commands.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial URL to open: pty path, socket://host:port (a "
                       "listener must be there), loop://")
    where.add_argument("--listen", metavar="HOST:PORT",
                       help="listen on this TCP address and stream to the monitor that "
                       "connects (iabp monitor socket://HOST:PORT), as a serial-to-LAN "
                       "adapter would")
    p.add_argument("--wait-seconds", type=_seconds, default=60.0,
                   help="with --listen: give up if no monitor connects within this (s)")
    _common(p, CONSOLE_FAULTS, "1:1")
    p.add_argument("--seconds", type=_seconds, default=60.0, help="console time to run (s)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--realtime", dest="realtime", action="store_true", default=True,
                      help="pace to 1 kHz wall-clock time (default)")
    pace.add_argument("--fast", dest="realtime", action="store_false",
                      help="run as fast as possible")
    return p


def _accept(address: str, wait_s: float, err: Console) -> AcceptedSocketPort:
    """``--listen``: wait up to ``wait_s`` for the monitor to connect; say where to connect."""
    deadline = time.monotonic() + wait_s
    return accept_console_port(
        address, timeout_s=0.0, write_timeout_s=WRITE_TIMEOUT_S,
        on_listening=lambda url: err.print(f"iabp console: listening, connect the monitor "
                                           f"to {url}", markup=False),
        give_up=lambda: time.monotonic() > deadline)


def console_main(argv: list[str]) -> int:
    """``iabp console``: 0 ran to the end, 1 lost the port, 2 bad usage or unopenable port."""
    out, err = rich_console(), rich_console(stderr=True)
    try:
        a = _console_parser().parse_args(argv)
        cfg = LoopConfig(hr_bpm=a.hr, ratio=a.ratio, mode=a.mode, seed=a.seed,
                         duration_ms=int(round(a.seconds * 1000)))
        at = DEFAULT_FAULT_AT_MS if a.fault_at is None else int(round(a.fault_at * 1000))
        port = None if a.listen is None else _accept(a.listen, a.wait_seconds, err)
        url = a.port if port is None else str(port.port)
        console = SimulatedConsole(url, cfg, fault=a.fault, fault_at_ms=at, port=port)
    except (SimulationError, PortError) as exc:
        err.print(f"iabp console: {exc}")
        return 2
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    try:
        with console:
            stats = console.run(a.seconds, realtime=a.realtime)
    except KeyboardInterrupt:
        stats = console.stats
    except IabpError as exc:
        err.print(f"iabp console: {exc}")
        return 1
    out.print(f"iabp console on {console.url}: {stats.ticks} ticks, {stats.records_sent} records, "
              f"{stats.bytes_sent} bytes sent, {stats.bytes_dropped} dropped, "
              f"{stats.commands_executed} monitor commands executed, final mode "
              f"{stats.final_mode.name}" + (f", fault {a.fault}" if a.fault else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(simulate_main(sys.argv[1:]))
