"""Speed of the closed loop: wall-clock ms per simulated second, one core.

Run from the repository root::

    python -m benchmarks.bench_closed_loop            # print
    python -m benchmarks.bench_closed_loop --write    # also write benchmarks/results/closed_loop.md

Timed (ECG trigger, sinus 80 bpm, 40 mL balloon, median of ``--repeats``):

* ``run_closed_loop`` 1:1 and 1:2 with every channel recorded, and pressure trigger 1:1;
* the parts of one tick, each alone over the same number of ticks: ``Patient.step``,
  ``RWaveDetector.push``, ``PressureTriggerDetector.push``, ``Controller.step`` (the spec's
  step compiled to Python plus the ``transitions`` Machine);
* the simulated console (:class:`iabp.sim.console.SimulatedConsole`, fast mode) sending
  protocol-v1 telemetry to a local TCP sink: what ``--realtime`` has to fit into 1000 ms
  per simulated second.

Both wall and process CPU time are given (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from iabp.controller.controller import Controller, ControllerInputs
from iabp.controller.triggers import PressureTriggerDetector, RWaveDetector
from iabp.sim.closed_loop import LoopConfig, run_closed_loop
from iabp.sim.console import SimulatedConsole
from iabp.sim.patient.model import Patient
from iabp.sim.patient.params import PatientParams
from iabp.spec.clock import TICK_HZ
from iabp.spec.modes import OperatorCommand

Timing = tuple[float, float]  #: (wall s, CPU s)


def _timed(fn: Callable[[], None]) -> Timing:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _loop(mode: str, ratio: int, ms: int) -> Callable[[], None]:
    def go() -> None:
        run_closed_loop(LoopConfig(mode=mode, ratio=ratio, duration_ms=ms))
    return go


def _parts(ms: int) -> dict[str, Callable[[], None]]:
    tr = run_closed_loop(LoopConfig(duration_ms=ms))  # realistic inputs for each part alone
    ecg, abp = tr.ecg_mv.tolist(), tr.abp_mmhg.tolist()
    drive = tr.drive_cmd.tolist()
    ins = [ControllerInputs(r_wave=r, upstroke=u, notch=n, activity=r or u,
                            op=OperatorCommand.START_ECG if i == 1000 else OperatorCommand.NONE)
           for i, (r, u, n) in enumerate(zip(tr.r_detected.tolist(), tr.upstroke.tolist(),
                                             tr.notch.tolist(), strict=True))]

    def patient() -> None:
        p = Patient(PatientParams(abp_delay_ms=70))
        for c in drive:
            p.step(c)

    def r_det() -> None:
        d = RWaveDetector(TICK_HZ)
        for x in ecg:
            d.push(x)

    def p_det() -> None:
        d = PressureTriggerDetector(TICK_HZ)
        for x in abp:
            d.push(x)

    def controller() -> None:
        c = Controller()
        for i in ins:
            c.step(i)

    return {"`Patient.step`": patient, "`RWaveDetector.push`": r_det,
            "`PressureTriggerDetector.push`": p_det, "`Controller.step` (verified)": controller}


def _sink() -> tuple[str, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def drain() -> None:
        conn, _ = server.accept()
        with conn, server:
            while conn.recv(1 << 16):
                pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}", t


def _console(ms: int) -> Callable[[], None]:
    def go() -> None:
        url, t = _sink()
        with SimulatedConsole(url, LoopConfig(duration_ms=ms)) as c:
            c.run(ms / 1000.0, realtime=False)
        t.join(5.0)
    return go


def _row(name: str, runs: list[Timing], ms: int) -> str:
    wall = statistics.median(w for w, _ in runs) / (ms / 1000.0) * 1000.0
    cpu = statistics.median(c for _, c in runs) / (ms / 1000.0) * 1000.0
    return f"| {name} | {wall:.0f} | {cpu:.0f} | {1000.0 / wall:.1f}x |"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per run")
    ap.add_argument("--write", action="store_true",
                    help="write benchmarks/results/closed_loop.md")
    a = ap.parse_args()
    ms = int(a.seconds * 1000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cases: dict[str, Callable[[], None]] = {
        "`run_closed_loop` ECG 1:1 (all channels recorded)": _loop("ecg", 1, ms),
        "`run_closed_loop` ECG 1:2": _loop("ecg", 2, ms),
        "`run_closed_loop` pressure 1:1": _loop("pressure", 1, ms),
        **_parts(ms),
        "`SimulatedConsole` fast, telemetry to a TCP sink": _console(ms),
    }
    rows = [_row(name, [_timed(fn) for _ in range(a.repeats)], ms) for name, fn in cases.items()]
    lines = [
        "# Closed-loop speed",
        "",
        f"Python {platform.python_version()} on {platform.machine()}, one core; load average "
        f"at start {load:.2f} (shared machine). {a.seconds:g} simulated s per run, median of "
        f"{a.repeats} repeats. Sinus 80 bpm, 40 mL balloon. Real time needs under 1000 ms per "
        "simulated second. ms per simulated second = us per 1 ms tick.",
        "",
        "| path | wall ms / sim s | CPU ms / sim s | faster than real time (wall) |",
        "|---|---|---|---|",
        *rows,
        "",
        "The parts are timed alone, each over the inputs a closed-loop run gave it; the loop "
        "costs a little more than their sum (recording, fault hooks, sensors, input objects).",
        "",
        "Reproduce: `python -m benchmarks.bench_closed_loop --write` from the repository root.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        out = Path(__file__).resolve().parent / "results" / "closed_loop.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    main()
