"""Figures of a closed-loop run as a clinician reads an IABP console screen.

Panels, top to bottom, on one time axis (s):

1. **ECG** (mV) with the console's detected R waves and, in simulation, the true R peaks;
   a lead-off stretch is labelled.
2. **Arterial pressure** (mmHg): the aortic root pressure of the patient model, with the
   augmented diastoles coloured, each beat's SYS / AUG / ADIA / DIA / ASYS point marked,
   the true ejection (aortic valve open) shaded, and the measured pressure (catheter
   lumen, ``abp_delay_ms`` later) in grey. In a replay this is the *recorded* pressure and
   the balloon's effect is absent: the figure says so.
3. **Balloon**: helium line pressure (mmHg) and balloon volume (mL); volume present
   during ejection is drawn red.
4. **Console**: pumping mode as coloured bands, inflate command (and the drive command
   when a faulty console changed it), alarms as they are raised.

Inflation intervals of the drive are shaded across every panel. Operator keys and fault
onsets are dashed vertical lines. Rendering uses matplotlib's Agg canvas directly (no
pyplot, no global backend switch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from iabp.sim.closed_loop import ClosedLoopTrace, LoopConfig, run_closed_loop
from iabp.sim.faults import Fault, figures_markdown, run_fault
from iabp.spec.modes import Alarm, Mode

MODE_COLOURS: dict[Mode, str] = {
    Mode.STANDBY: "#bdbdbd", Mode.ECG_TRIGGER: "#2e7d32", Mode.PRESSURE_TRIGGER: "#1565c0",
    Mode.INTERNAL: "#ef6c00", Mode.HALTED: "#c62828",
}
INFLATE_SHADE = "#90caf9"
EJECTION_SHADE = "#ffcdd2"


_POINT_STYLE = {"SYS": ("v", "#000000"), "ASYS": ("v", "#6a1b9a"), "AUG": ("^", "#1565c0"),
                "ADIA": ("o", "#1565c0"), "DIA": ("o", "#000000")}


def _edges(flags: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


def _beat_points(tr: ClosedLoopTrace, lo: int, hi: int) -> dict[str, list[tuple[int, float]]]:
    """Per-beat timing-card points (tick, mmHg) on the aortic root pressure within [lo, hi)."""
    p = tr.aortic_root_mmhg
    pts: dict[str, list[tuple[int, float]]] = {k: [] for k in _POINT_STYLE}
    ej = _edges(tr.in_ejection)
    infl = _edges(tr.drive_cmd)
    starts = np.array([a for a, _ in infl], dtype=np.int64)
    for i in range(1, len(ej) - 1):
        c0, (o1, c1), o2 = ej[i - 1][1], ej[i], ej[i + 1][0]
        if not lo <= o1 < hi:
            continue
        assisted_before = bool(np.any((starts >= c0 - 150) & (starts < o1)))
        k = o1 + int(np.argmax(p[o1:c1 + 1]))
        pts["ASYS" if assisted_before else "SYS"].append((k, float(p[k])))
        j = np.flatnonzero((starts >= c1 - 150) & (starts < o2))
        if j.size:
            a, b = infl[int(j[0])]
            k = a + int(np.argmax(p[a:max(b, a + 1)]))
            pts["AUG"].append((k, float(p[k])))
            m = k + int(np.argmin(p[k:o2 + 1]))
            pts["ADIA"].append((m, float(p[m])))
        else:
            m = c1 + int(np.argmin(p[c1:o2 + 1]))
            pts["DIA"].append((m, float(p[m])))
    return pts


def _shade(ax: Axes, spans: Sequence[tuple[int, int]], lo: int, hi: int, colour: str,
           label: str | None = None) -> None:
    first = True
    for a, b in spans:
        if b <= lo or a >= hi:
            continue
        ax.axvspan(max(a, lo) / 1000.0, min(b, hi) / 1000.0, color=colour, alpha=0.35, lw=0,
                   label=label if first else None)
        first = False


def _ecg_panel(ax: Axes, tr: ClosedLoopTrace, lo: int, hi: int) -> None:
    t = tr.t_ms[lo:hi] / 1000.0
    ecg = tr.ecg_mv[lo:hi]
    ax.plot(t, ecg, color="#1b5e20", lw=0.8)
    det = np.flatnonzero(tr.r_detected[lo:hi]) + lo
    top = float(np.nanmax(ecg)) if np.isfinite(ecg).any() else 1.0
    ax.plot(det / 1000.0, np.full(det.size, top * 1.15), "v", color="#d81b60", ms=5,
            label="R detected (console)")
    true = np.flatnonzero(tr.r_true[lo:hi]) + lo
    ax.plot(true / 1000.0, np.full(true.size, top * 1.32), "|", color="#555555", ms=8,
            label="reference beats" if tr.replay else "true R peak (model)")
    off = _edges(~np.isfinite(tr.ecg_mv))
    for a, b in off:
        if b > lo and a < hi:
            ax.text((max(a, lo) + min(b, hi)) / 2000.0, 0.0, "LEAD OFF", ha="center",
                    color="#c62828", fontsize=9, fontweight="bold")
    ax.set_ylabel("ECG (mV)")
    ax.legend(loc="upper right", fontsize=7, ncol=2, framealpha=0.8)


def _pressure_panel(ax: Axes, tr: ClosedLoopTrace, lo: int, hi: int) -> None:
    t = tr.t_ms[lo:hi] / 1000.0
    if tr.replay and not np.isfinite(tr.abp_mmhg[lo:hi]).any():
        ax.text(0.5, 0.5, "this record has no arterial pressure; the shading is the "
                "controller's command only", transform=ax.transAxes, ha="center", fontsize=9)
        ax.set_yticks([])
        return
    if tr.replay:
        ax.plot(t, tr.abp_mmhg[lo:hi], color="black", lw=0.9, label="recorded arterial pressure")
        for flags, marker, colour, name in ((tr.upstroke, "^", "#2e7d32", "upstroke detected"),
                                            (tr.notch, "o", "#1565c0", "notch detected")):
            k = np.flatnonzero(flags[lo:hi]) + lo
            if k.size:
                ax.plot(k / 1000.0, tr.abp_mmhg[k], marker, color=colour, ms=4, ls="none",
                        label=name)
        ax.text(0.01, 0.04, "recording: the balloon's effect is NOT in this pressure; the "
                "shading is the controller's command only", transform=ax.transAxes,
                fontsize=8, color="#c62828")
        ax.set_ylabel("ABP (mmHg)")
        ax.legend(loc="upper right", fontsize=7)
        return
    _shade(ax, _edges(tr.in_ejection), lo, hi, EJECTION_SHADE, "true ejection (valve open)")
    p = tr.aortic_root_mmhg
    ax.plot(t, tr.abp_mmhg[lo:hi], color="#9e9e9e", lw=0.7,
            label=f"measured ABP (lumen, +{tr.abp_delay_ms} ms)")
    ax.plot(t, p[lo:hi], color="black", lw=1.0, label="aortic root pressure")
    aug = np.where(tr.drive_cmd, p, np.nan)
    ax.plot(t, aug[lo:hi], color="#1565c0", lw=1.8, label="augmented (balloon inflated)")
    means = []
    for name, pts in _beat_points(tr, lo, hi).items():
        if pts:
            marker, colour = _POINT_STYLE[name]
            ax.plot([k / 1000.0 for k, _ in pts], [v for _, v in pts], marker, color=colour,
                    ms=5, ls="none", label=name)
            means.append(f"{name} {np.mean([v for _, v in pts]):.0f}")
    if means:
        ax.text(0.01, 0.03, "mean of marked beats (mmHg): " + "  ".join(means),
                transform=ax.transAxes, fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    ax.set_ylabel("pressure (mmHg)")
    ax.legend(loc="upper right", fontsize=7, ncol=4, framealpha=0.85)


def _balloon_panel(ax: Axes, tr: ClosedLoopTrace, lo: int, hi: int) -> None:
    t = tr.t_ms[lo:hi] / 1000.0
    if tr.replay:
        ax.text(0.5, 0.5, "no balloon: a recording cannot show the balloon's gas or volume",
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
        ax.set_yticks([])
        return
    ax.plot(t, tr.gas_pressure_mmhg[lo:hi], color="#4a148c", lw=0.9, label="helium line pressure")
    ax.set_ylabel("gas (mmHg)")
    vol = ax.twinx()
    vb = tr.balloon_volume_ml[lo:hi]
    vol.plot(t, vb, color="#00838f", lw=0.8, alpha=0.8, label="balloon volume")
    bad = np.where(tr.in_ejection[lo:hi] & (vb > 0.0), vb, np.nan)
    vol.plot(t, bad, color="#d50000", lw=2.2, label="volume during ejection")
    vol.set_ylabel("volume (mL)")
    top = float(np.nanmax(vb)) if np.isfinite(vb).any() else 0.0
    vol.set_ylim(-2.0, 1.4 * max(top, 10.0))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = vol.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=7, ncol=3, framealpha=0.85)


def _console_panel(ax: Axes, tr: ClosedLoopTrace, lo: int, hi: int) -> None:
    changes = [*tr.mode_changes(), (tr.duration_ms, Mode.STANDBY)]
    for (a, m), (b, _) in zip(changes[:-1], changes[1:], strict=True):
        if b > lo and a < hi:
            x0, x1 = max(a, lo) / 1000.0, min(b, hi) / 1000.0
            ax.axvspan(x0, x1, ymin=0.0, ymax=0.3, color=MODE_COLOURS[m], alpha=0.9, lw=0)
            if b - a > 0.04 * (hi - lo):
                ax.text(x0 + 0.02, 0.05, m.name, fontsize=7, color="white", fontweight="bold")
    t = tr.t_ms[lo:hi] / 1000.0
    ax.step(t, 0.4 + 0.5 * tr.inflate_cmd[lo:hi], where="post", color="#0d47a1", lw=1.0,
            label="controller inflate")
    if not np.array_equal(tr.inflate_cmd, tr.drive_cmd):
        ax.step(t, 0.42 + 0.5 * tr.drive_cmd[lo:hi], where="post", color="#d50000", lw=1.0,
                ls="--", label="drive (faulty console)")
    mask = tr.alarm_mask.astype(np.int64)
    raised = np.flatnonzero(np.diff(mask, prepend=0) > 0)
    for i in raised:
        if lo <= i < hi:
            new = int(mask[i]) & ~(int(mask[i - 1]) if i else 0)
            names = ", ".join(a.name for a in Alarm if new >> int(a) & 1)
            ax.annotate(f"ALARM {names}", (i / 1000.0, 0.95), fontsize=7, color="#c62828",
                        fontweight="bold", va="top")
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("console")
    ax.legend(loc="center right", fontsize=7)


def _notes(axes: Sequence[Axes], tr: ClosedLoopTrace, lo: int, hi: int) -> None:
    """Operator keys and fault onsets: dashed lines, labels stacked when they are close."""
    last_x, row = -1e9, 0
    for t, text in tr.notes:
        if not (lo <= t < hi and text):
            continue
        for ax in axes:
            ax.axvline(t / 1000.0, color="#424242", ls="--", lw=0.8)
        row = row + 1 if t - last_x < 0.12 * (hi - lo) else 0
        last_x = t
        axes[0].annotate(text, (t / 1000.0, 0.97 - 0.13 * (row % 3)),
                         xycoords=("data", "axes fraction"), fontsize=8, va="top",
                         xytext=(3, 0), textcoords="offset points",
                         bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 1})


def _headroom(ax: Axes, frac: float) -> None:
    """Raise the top of ``ax`` by ``frac`` of its span, so the legend sits above the traces."""
    y0, y1 = ax.get_ylim()
    ax.set_ylim(y0, y1 + frac * (y1 - y0))


def plot_trace(tr: ClosedLoopTrace, path: str | Path, *, t0_ms: int | None = None,
               t1_ms: int | None = None, title: str | None = None) -> Path:
    """Render ``tr`` between ``t0_ms`` and ``t1_ms`` (default: all) to a PNG at ``path``."""
    lo = max(0, t0_ms or 0)
    hi = min(tr.duration_ms, t1_ms if t1_ms is not None else tr.duration_ms)
    fig = Figure(figsize=(13, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(4, 1, sharex=True, height_ratios=[2.0, 3.0, 2.0, 1.1])
    _ecg_panel(axes[0], tr, lo, hi)
    _pressure_panel(axes[1], tr, lo, hi)
    _balloon_panel(axes[2], tr, lo, hi)
    _console_panel(axes[3], tr, lo, hi)
    for ax in axes[:3]:
        _headroom(ax, 0.3)
    y0, y1 = axes[1].get_ylim()
    axes[1].set_ylim(y0 - 0.08 * (y1 - y0), y1)  # room for the figures line
    spans = tr.inflations()
    for ax in axes[:3]:
        _shade(ax, spans, lo, hi, INFLATE_SHADE)
    _notes(axes, tr, lo, hi)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(lo / 1000.0, hi / 1000.0)
    head = title or tr.label
    if tr.replay:
        head += "  [REPLAY of recorded data]"
    fig.suptitle(head, fontsize=12, fontweight="bold")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


README_RUNS: tuple[tuple[str, int, Fault | None], ...] = (
    ("normal_1to1", 1, None), ("normal_1to2", 2, None),
    ("early_inflation", 2, Fault.EARLY_INFLATION), ("late_inflation", 2, Fault.LATE_INFLATION),
    ("early_deflation", 2, Fault.EARLY_DEFLATION), ("late_deflation", 2, Fault.LATE_DEFLATION),
)
README_RUN_MS = 16_000  #: each README run; the figure shows its last ``README_WINDOW_MS``
README_WINDOW_MS = 8_000


def make_readme_figures(out_dir: str | Path = "docs/img", *, hr_bpm: float = 80.0,
                        seed: int = 0) -> str:
    """Render normal 1:1, normal 1:2 and the four timing errors (ECG trigger, ``hr_bpm``) to
    ``out_dir/sim_<name>.png``; write and return the figures table as Markdown
    (``out_dir/figures.md``)."""
    out = Path(out_dir)
    table: dict[str, dict[str, float]] = {}
    for name, ratio, fault in README_RUNS:
        cfg = LoopConfig(hr_bpm=hr_bpm, ratio=ratio, mode="ecg", duration_ms=README_RUN_MS,
                         seed=seed)
        tr = run_fault(fault, cfg) if fault else run_closed_loop(cfg, label=f"ECG 1:{ratio}, normal")
        table[f"1:{ratio} {fault or 'normal'}"] = tr.figures()
        plot_trace(tr, out / f"sim_{name}.png", t0_ms=README_RUN_MS - README_WINDOW_MS)
    md = figures_markdown(table, caption=(
        f"Closed loop (patient model + detectors + verified controller), ECG trigger, sinus "
        f"{hr_bpm:g} bpm, 40 mL balloon; aortic root pressure, means over the beats after the "
        "first inflation of a 16 s run. Timing errors are forced past the controller by a "
        "faulty drive (sim/faults.py). 1:1 has no unassisted beat, so no SYS or DIA."))
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.md").write_text(md)
    return md
