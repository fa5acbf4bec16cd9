"""Plots of the signals around each violation found by ``iabp check --plot DIR``, and
around each trip in an audit log's black box (``iabp log plot``).

matplotlib is imported inside :func:`plot_window` only (``iabp check`` without
``--plot`` never loads it).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from iabp.monitor.check_model import PlotWindow


def window_file_name(number: int, win: PlotWindow) -> str:
    """``NNN_RULE_CENTREms.png``: the file of the ``number``-th (1-based) window."""
    rule = re.sub(r"[^A-Za-z0-9-]+", "_", win.violation.rule_id)
    return f"{number:03d}_{rule}_{win.centre_ms}ms.png"


def plot_windows(windows: Sequence[PlotWindow], out_dir: str | Path) -> list[Path]:
    """One PNG per window in ``out_dir`` (created), see :func:`plot_window`. Returns the
    files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [plot_window(win, out / window_file_name(i + 1, win)) for i, win in enumerate(windows)]


def plot_window(win: PlotWindow, path: str | Path) -> Path:
    """Draw one window to ``path`` (PNG, SVG or PDF by its extension): ECG, arterial and
    balloon pressure, the inflate command and the monitor's own beats (if the window has
    any), +/-2 s of console time around the violation (a red line). Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [(x - win.centre_ms) / 1000.0 for x in win.t_ms]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 7))
    ax_ecg, ax_art, ax_gas, ax_cmd = axes
    ax_ecg.plot(t, [x / 1000.0 for x in win.ecg_uv], lw=0.8, color="k")
    beats = [x for x, b in zip(t, win.beat, strict=True) if b]
    for b in beats:
        ax_ecg.axvline(b, color="tab:green", lw=0.8, ls=":")
    ax_ecg.set_ylabel("ECG (mV)\n: own beats" if beats else "ECG (mV)")
    ax_art.plot(t, [x / 10.0 for x in win.arterial_x10], lw=0.8, color="tab:red")
    ax_art.set_ylabel("arterial\n(mmHg)")
    ax_gas.plot(t, [x / 10.0 for x in win.balloon_x10], lw=0.8, color="tab:blue")
    ax_gas.set_ylabel("balloon gas\n(mmHg)")
    ax_cmd.step(t, [1 if x else 0 for x in win.inflate], where="post", color="tab:orange",
                label="inflate command")
    if beats:
        ax_cmd.plot(beats, [1.1] * len(beats), "v", color="tab:green", label="monitor's beats")
    ax_cmd.set_ylim(-0.1, 1.3)
    ax_cmd.set_yticks([0, 1], ["deflate", "inflate"])
    ax_cmd.legend(loc="upper right", fontsize=7)
    ax_cmd.set_xlabel(f"s of console time from {win.centre_ms} ms")
    for ax in axes:
        ax.axvline(0.0, color="red", lw=1.0)
        ax.grid(alpha=0.3)
    v = win.violation
    sentence = textwrap.fill(v.message[:400], 150)  # a long sentence on lines, not cut
    fig.suptitle(f"{v.rule_id} at console {win.centre_ms} ms\n{sentence}", fontsize=8)
    try:
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return Path(path)
