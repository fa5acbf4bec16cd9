"""PNG plots of the signals around each violation found by ``iabp check --plot DIR``.

matplotlib is imported inside :func:`plot_windows` only (``iabp check`` without
``--plot`` never loads it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from iabp.monitor.check_model import PlotWindow


def _name(i: int, win: PlotWindow) -> str:
    rule = re.sub(r"[^A-Za-z0-9-]+", "_", win.violation.rule_id)
    return f"{i + 1:03d}_{rule}_{win.centre_ms}ms.png"


def plot_windows(windows: Sequence[PlotWindow], out_dir: str | Path) -> list[Path]:
    """One PNG per window in ``out_dir`` (created): ECG, arterial and balloon pressure, the
    inflate command and the monitor's own beats, +/-2 s of console time around the
    violation (a red line). Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, win in enumerate(windows):
        t = [(x - win.centre_ms) / 1000.0 for x in win.t_ms]
        fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 7))
        ax_ecg, ax_art, ax_gas, ax_cmd = axes
        ax_ecg.plot(t, [x / 1000.0 for x in win.ecg_uv], lw=0.8, color="k")
        beats = [x for x, b in zip(t, win.beat, strict=True) if b]
        for b in beats:
            ax_ecg.axvline(b, color="tab:green", lw=0.8, ls=":")
        ax_ecg.set_ylabel("ECG (mV)\n: own beats")
        ax_art.plot(t, [x / 10.0 for x in win.arterial_x10], lw=0.8, color="tab:red")
        ax_art.set_ylabel("arterial\n(mmHg)")
        ax_gas.plot(t, [x / 10.0 for x in win.balloon_x10], lw=0.8, color="tab:blue")
        ax_gas.set_ylabel("balloon gas\n(mmHg)")
        ax_cmd.step(t, [1 if x else 0 for x in win.inflate], where="post", color="tab:orange",
                    label="inflate command")
        ax_cmd.plot(beats, [1.1] * len(beats), "v", color="tab:green", label="monitor's beats")
        ax_cmd.set_ylim(-0.1, 1.3)
        ax_cmd.set_yticks([0, 1], ["deflate", "inflate"])
        ax_cmd.legend(loc="upper right", fontsize=7)
        ax_cmd.set_xlabel(f"s of console time from {win.centre_ms} ms")
        for ax in axes:
            ax.axvline(0.0, color="red", lw=1.0)
            ax.grid(alpha=0.3)
        v = win.violation
        fig.suptitle(f"{v.rule_id} at console {win.centre_ms} ms\n{v.message}"[:300], fontsize=8)
        path = out / _name(i, win)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
