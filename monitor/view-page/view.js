// The live view: polls /state (this server only) and draws the monitor's feed.
"use strict";

const POLL_MS = 250;
const STALE_S = 1.5; // no datagram for this long: the monitor is not sending
const COLOURS = { ecg: "#00c850", abp: "#dc2828", gas: "#286ee6",
  window: "rgba(255, 196, 0, 0.28)", inflate: "#e6e6e6", deflate: "#8a8a8a",
  grid: "#222a31", text: "#aab4be" };
const PANELS = [
  { key: "ecg_mv", label: "ECG", unit: "mV", colour: COLOURS.ecg, minSpan: 1.0 },
  { key: "arterial_mmhg", label: "Arterial", unit: "mmHg", colour: COLOURS.abp, minSpan: 40 },
  { key: "balloon_mmhg", label: "Balloon gas line", unit: "mmHg", colour: COLOURS.gas,
    minSpan: 40 },
];
const LEFT = 64, RIGHT = 12, TOP = 18, BOTTOM = 26, GAP = 14;

function range(values, minSpan) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v === null) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, minSpan];
  const mid = (lo + hi) / 2, half = Math.max(hi - lo, minSpan) / 2 * 1.1;
  return [mid - half, mid + half];
}

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

function drawTraces(s) {
  const { ctx, w, h } = setup(document.getElementById("traces"));
  const t = s.samples.t_ms;
  const t1 = s.t_ms === null ? 0 : s.t_ms, t0 = t1 - s.history_ms;
  const plotW = w - LEFT - RIGHT;
  const x = (ms) => LEFT + (ms - t0) / (t1 - t0) * plotW;
  const panelH = (h - TOP - BOTTOM - GAP * (PANELS.length - 1)) / PANELS.length;
  ctx.font = "12px sans-serif";
  // judged ejection windows, across all panels
  ctx.fillStyle = COLOURS.window;
  for (const [a, b] of s.windows) {
    const xa = Math.max(LEFT, x(a)), xb = Math.min(w - RIGHT, x(b));
    if (xb > xa) ctx.fillRect(xa, TOP, xb - xa, h - TOP - BOTTOM);
  }
  PANELS.forEach((p, i) => {
    const top = TOP + i * (panelH + GAP);
    const values = s.samples[p.key];
    const [lo, hi] = range(values, p.minSpan);
    const y = (v) => top + panelH - (v - lo) / (hi - lo) * panelH;
    ctx.strokeStyle = COLOURS.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(LEFT, top, plotW, panelH);
    ctx.fillStyle = COLOURS.text;
    ctx.fillText(`${p.label} (${p.unit})`, LEFT + 6, top + 14);
    ctx.fillText(hi.toFixed(p.unit === "mV" ? 1 : 0), 6, top + 12);
    ctx.fillText(lo.toFixed(p.unit === "mV" ? 1 : 0), 6, top + panelH);
    ctx.strokeStyle = p.colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let pen = false;
    for (let k = 0; k < t.length; k++) {
      const v = values[k];
      if (v === null || t[k] < t0) { pen = false; continue; }
      if (pen) ctx.lineTo(x(t[k]), y(v)); else ctx.moveTo(x(t[k]), y(v));
      pen = true;
    }
    ctx.stroke();
  });
  // inflate / deflate commands
  ctx.lineWidth = 1;
  for (const [ms, up] of s.marks) {
    if (ms < t0) continue;
    const xm = x(ms);
    ctx.strokeStyle = up ? COLOURS.inflate : COLOURS.deflate;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(xm, TOP);
    ctx.lineTo(xm, h - BOTTOM);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = up ? COLOURS.inflate : COLOURS.deflate;
    ctx.fillText(up ? "I" : "D", xm - 3, TOP - 5);
  }
  // time axis: seconds of telemetry
  ctx.fillStyle = COLOURS.text;
  for (let ms = Math.ceil(t0 / 1000) * 1000; ms <= t1; ms += 1000) {
    if (ms < 0) continue;
    ctx.fillText(`${ms / 1000} s`, x(ms) - 8, h - 8);
  }
}

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function drawStatus(s) {
  const st = s.status;
  const stale = s.feed_age_s === null || s.feed_age_s > STALE_S;
  const pill = document.getElementById("state");
  const safe = Boolean(st && st.safe_state);
  pill.className = "pill" + (safe ? " safe" : stale ? " stale" : "");
  pill.textContent = safe ? "SAFE STATE" : stale ? "NO FEED" : "watching";
  document.getElementById("banner").className = safe ? "banner" : "banner hidden";
  if (st) text("line", st.line);
  text("trip", s.trip ? s.trip.message + (s.trip.latched ? "" : " (acknowledged)")
    : "none this session");
  const list = document.getElementById("rules");
  list.replaceChildren(...(s.rules || []).map(([id, state, note]) => {
    const li = document.createElement("li");
    li.className = state.replace(" ", "-");
    li.textContent = state === "ok" ? id : `${id}: ${state}`;
    if (note) li.title = note;
    return li;
  }));
  text("feed", `${s.received} status datagrams` +
    (s.feed_age_s === null ? ", none yet" : `, the last ${s.feed_age_s.toFixed(1)} s ago`) +
    (s.lost ? `, ${s.lost} lost on the way` : "") +
    (s.rejected ? `, ${s.rejected} ignored` : "") +
    (s.send_errors ? `, ${s.send_errors} lost at the monitor` : ""));
}

async function poll() {
  try {
    const response = await fetch("/state", { cache: "no-store" });
    const s = await response.json();
    drawStatus(s);
    drawTraces(s);
  } catch (err) {
    const pill = document.getElementById("state");
    pill.className = "pill stale";
    pill.textContent = "VIEW STOPPED";
  }
}

poll();
setInterval(poll, POLL_MS);
