"""Speed of the simulated patient: simulated seconds per wall-clock second, one core.

Run from the repository root::

    python -m benchmarks.bench_patient            # print
    python -m benchmarks.bench_patient --write    # also write benchmarks/results/patient.md

Two paths are timed, both with the balloon pumping 1:1 (oracle timing, 40 mL, ECG on):

* ``Patient.run``: one full simulated hour, in 60 s blocks, every channel recorded;
* ``Patient.step``: one call per 1 ms tick as a closed-loop controller would make it,
  over 5 simulated minutes, extrapolated (the command comes from a precomputed list,
  so the controller's own cost is not included).

Each is repeated and the median reported; both wall time and process CPU time are
given, since the machine may be shared (load average printed alongside).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from iabp.sim.patient.figures import ideal_inflate_commands
from iabp.sim.patient.model import Patient
from iabp.sim.patient.params import PatientParams

TARGET_X = 200.0  #: required simulated-to-real time ratio
BLOCK_MS = 60000


def _timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    w0, c0 = time.perf_counter(), time.process_time()
    sim_ms = fn()
    return time.perf_counter() - w0, time.process_time() - c0, sim_ms


def bench_run(sim_ms: int = 3_600_000) -> tuple[float, float, int]:
    """Simulate ``sim_ms`` with ``Patient.run`` in blocks; returns (wall s, CPU s, sim ms)."""
    pat = Patient(PatientParams(), seed=1)

    def go() -> int:
        done = 0
        while done < sim_ms:
            n = min(BLOCK_MS, sim_ms - done)
            r = pat.upcoming_r_peaks_ms(done + n + 3000)
            cmd = ideal_inflate_commands(r, done, n, pat.params, ratio=1)
            pat.run(n, cmd)
            done += n
        return done

    return _timed(go)


def bench_step(sim_ms: int = 300_000) -> tuple[float, float, int]:
    """Simulate ``sim_ms`` one ``Patient.step`` per tick; returns (wall s, CPU s, sim ms)."""
    pat = Patient(PatientParams(), seed=1)
    cmd = ideal_inflate_commands(pat.upcoming_r_peaks_ms(sim_ms + 3000), 0, sim_ms,
                                 pat.params, ratio=1).tolist()

    def go() -> int:
        step = pat.step
        for c in cmd:
            step(c)
        return sim_ms

    return _timed(go)


def _median_ratio(runs: list[tuple[float, float, int]]) -> tuple[float, float]:
    wall = statistics.median(s / 1000.0 / w for w, _, s in runs)
    cpu = statistics.median(s / 1000.0 / c for _, c, s in runs)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run-ms", type=int, default=3_600_000, help="simulated ms for Patient.run")
    ap.add_argument("--step-ms", type=int, default=300_000, help="simulated ms for Patient.step")
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/patient.md")
    a = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    runs = [bench_run(a.run_ms) for _ in range(a.repeats)]
    steps = [bench_step(a.step_ms) for _ in range(a.repeats)]
    rw, rc = _median_ratio(runs)
    sw, sc = _median_ratio(steps)
    lines = [
        "# Patient model speed",
        "",
        f"Python {platform.python_version()} on {platform.machine()}, one core; "
        f"load average at start {load:.2f} (shared machine). Median of {a.repeats} repeats. "
        "1:1 pumping, 40 mL balloon, oracle timing, ECG rendered. Target: "
        f"{TARGET_X:.0f}x real time.",
        "",
        "| path | simulated | wall ratio (sim s / wall s) | CPU ratio (sim s / CPU s) | target met |",
        "|---|---|---|---|---|",
        f"| `Patient.run` (60 s blocks, all channels recorded) | {a.run_ms / 3.6e6:g} h | "
        f"{rw:.0f}x | {rc:.0f}x | {'yes' if rw >= TARGET_X else 'NO'} |",
        f"| `Patient.step` (one call per tick) | {a.step_ms / 60000:g} min, extrapolated | "
        f"{sw:.0f}x | {sc:.0f}x | {'yes' if sw >= TARGET_X else 'NO'} |",
        "",
        "Per-repeat wall seconds: run " + ", ".join(f"{w:.1f}" for w, _, _ in runs)
        + "; step " + ", ".join(f"{w:.1f}" for w, _, _ in steps) + ".",
        "",
        "Reproduce: `python -m benchmarks.bench_patient --write` from the repository root.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.write:
        out = Path(__file__).resolve().parent / "results" / "patient.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    main()
