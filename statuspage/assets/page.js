// hellomgr's status page: polls /status.json once a second and redraws
// in place. Read-only: it sends nothing but GETs of that JSON.
"use strict";

const POLL_MS = 1000;
const WINDOW_MS = 5 * 60 * 1000; // what the charts hold
const $ = (id) => document.getElementById(id);

// What tests and benches read (window.statusPage): when the first data
// was drawn (ms since navigation start), how many polls were drawn, and
// the time of the last one.
const statusPage = { firstRenderMs: null, renders: 0, lastUpdate: null };
window.statusPage = statusPage;

const ports = new Map(); // port -> {row, cells, hist, prev}
const totals = { t: [], cpu: [], rss: [] };
let shownPorts = "";

// PER-PORT REQUEST METRICS (issue "every instance monitored"): the
// requests per second and the share of 5xx answers of a port, when the
// status JSON carries them (statuspage/view.go, portView), else null.
// The two columns appear as soon as one port has them.
function requestFigures(p) {
  if (typeof p.requests_per_second !== "number") return null;
  return { rps: p.requests_per_second, share5xx: typeof p.share_5xx === "number" ? p.share_5xx : null };
}

function fmtUptime(s) {
  if (!(s > 0)) return "-";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, sec = s % 60;
  if (d) return d + "d" + h + "h";
  if (h) return h + "h" + m + "m";
  if (m) return m + "m" + sec + "s";
  return sec + "s";
}
const fmtMiB = (b) => (b > 0 ? (b / 1048576).toFixed(1) + " MiB" : "-");
const fmtPct = (x) => (x == null ? "-" : (x * 100).toFixed(1) + "%");

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// rowHTML is one port's row; the cells are found again by their order.
function rowHTML(port) {
  return '<tr data-port="' + port + '"><td class="port">' + port + '</td><td class="state"><span></span></td>' +
    '<td class="pid"></td><td class="uptime"></td><td class="restarts"></td><td class="rss"></td><td class="cpu"></td>' +
    '<td class="req rps"></td><td class="req share5xx"></td>' +
    '<td><canvas class="spark" width="120" height="22"></canvas></td><td><canvas class="spark" width="120" height="22"></canvas></td></tr>';
}

// build makes one row per port, all at once (one parse, not 256).
function build(list) {
  const body = $("rows");
  body.innerHTML = list.map((p) => rowHTML(p.port)).join("");
  const old = new Map(ports);
  ports.clear();
  for (const tr of body.rows) {
    const port = Number(tr.dataset.port);
    const c = tr.cells, canvases = tr.querySelectorAll("canvas");
    const kept = old.get(port);
    ports.set(port, {
      row: tr, state: c[1].firstChild, pid: c[2], uptime: c[3], restarts: c[4], rss: c[5], cpu: c[6],
      rps: c[7], share5xx: c[8], cpuChart: canvases[0], rssChart: canvases[1],
      hist: kept ? kept.hist : { t: [], cpu: [], rss: [] }, prev: kept ? kept.prev : null,
    });
  }
  shownPorts = list.map((p) => p.port).join(",");
}

// sample adds one poll to a history and drops what is older than the window.
function sample(hist, t, cpu, rss) {
  hist.t.push(t); hist.cpu.push(cpu); hist.rss.push(rss);
  while (hist.t.length && hist.t[0] < t - WINDOW_MS) {
    hist.t.shift(); hist.cpu.shift(); hist.rss.shift();
  }
}

// cpuRate is the share of a core the port's process used since the last
// poll; null at its first poll or when the process changed.
function cpuRate(entry, p, t) {
  const prev = entry.prev;
  entry.prev = { pid: p.pid, cpu: p.cpu_seconds, t };
  if (!prev || prev.pid !== p.pid || !p.pid || t <= prev.t) return null;
  return Math.max(0, (p.cpu_seconds - prev.cpu) / ((t - prev.t) / 1000));
}

// drawChart draws values (null: no process) over the time the page has
// watched, from 30 s up to the 5-minute window, newest on the right; the
// scale runs from 0 to the largest value (at least floor).
function drawChart(canvas, hist, values, t, floor) {
  // One point draws no line: the first render leaves the canvases
  // untouched, which saves it a 2D context for each of them.
  if (hist.t.length < 2) return;
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const span = Math.min(WINDOW_MS, Math.max(30000, t - hist.t[0]));
  let top = floor || 0;
  for (const v of values) if (v != null && v > top) top = v;
  if (!(top > 0)) top = 1;
  top *= 1.15;
  const x = (i) => w - ((t - hist.t[i]) / span) * w;
  const y = (v) => h - 1 - (v / top) * (h - 2);
  ctx.fillStyle = "rgba(56, 103, 214, 0.15)";
  ctx.strokeStyle = "#3867d6";
  ctx.lineWidth = 1.5;
  let i = 0;
  while (i < values.length) {
    if (values[i] == null) { i++; continue; }
    const first = i;
    ctx.beginPath();
    ctx.moveTo(x(i), y(values[i]));
    for (i++; i < values.length && values[i] != null; i++) ctx.lineTo(x(i), y(values[i]));
    const lastX = x(i - 1);
    ctx.stroke();
    ctx.lineTo(lastX, h);
    ctx.lineTo(x(first), h);
    ctx.closePath();
    ctx.fill();
  }
}

function renderPort(p, t) {
  const e = ports.get(p.port);
  const running = p.pid > 0;
  const rate = cpuRate(e, p, t);
  sample(e.hist, t, rate, running ? p.rss_bytes : null);
  e.row.dataset.state = p.state;
  setText(e.state, p.state);
  e.state.className = "s-" + p.state;
  setText(e.pid, running ? String(p.pid) : "-");
  setText(e.uptime, running ? fmtUptime(p.uptime_seconds) : "-");
  setText(e.restarts, String(p.restarts));
  setText(e.rss, running ? fmtMiB(p.rss_bytes) : "-");
  setText(e.cpu, running ? fmtPct(rate) : "-");
  e.cpu.title = running ? p.cpu_seconds.toFixed(2) + " s in all" : "";
  const req = requestFigures(p);
  setText(e.rps, req ? req.rps.toFixed(1) : "-");
  setText(e.share5xx, req ? fmtPct(req.share5xx) : "-");
  drawChart(e.cpuChart, e.hist, e.hist.cpu, t, 0.05);
  drawChart(e.rssChart, e.hist, e.hist.rss, t, 0);
  return { rate, req };
}

function renderSummary(list, t, cpu, rss) {
  const counts = {};
  for (const p of list) counts[p.state] = (counts[p.state] || 0) + 1;
  $("states").innerHTML = Object.keys(counts).sort().map((s) =>
    '<span class="chip s-' + s + '" data-state="' + s + '">' + counts[s] + " " + s + "</span>").join("");
  sample(totals, t, cpu, rss);
  setText($("cpu-total"), fmtPct(cpu));
  setText($("rss-total"), fmtMiB(rss));
  drawChart($("cpu-chart"), totals, totals.cpu, t, 0.05);
  drawChart($("rss-chart"), totals, totals.rss, t, 0);
}

function renderRollout(r) {
  const box = $("rollout");
  const cur = r.current, last = r.last;
  const shown = cur || last;
  box.hidden = !shown;
  if (!shown) return;
  const total = shown.steps.length;
  let title;
  if (cur) {
    title = "Rollout #" + cur.number + " in progress: " + cur.replaced + " of " + total + " ports replaced";
  } else {
    title = "Last rollout #" + last.number + " " + last.result + " in " + (last.duration_ms / 1000).toFixed(1) +
      " s: " + last.replaced + " of " + total + " ports replaced";
  }
  box.dataset.active = cur ? "true" : "false";
  setText($("rollout-title"), title);
  $("rollout-steps").innerHTML = shown.steps.map((s) =>
    '<span class="step ' + s.step + '" title="' + s.port + ": " + s.step + '">' + s.port + "</span>").join("");
}

function render(data) {
  const t = data.time;
  const list = data.ports || [];
  if (list.map((p) => p.port).join(",") !== shownPorts) build(list);
  let cpu = 0, rss = 0, anyRequests = false;
  for (const p of list) {
    const { rate, req } = renderPort(p, t);
    if (rate != null) cpu += rate;
    if (p.pid > 0) rss += p.rss_bytes;
    if (req) anyRequests = true;
  }
  $("ports").classList.toggle("has-requests", anyRequests);
  renderSummary(list, t, cpu, rss);
  renderRollout(data.rollouts);
  const m = data.manager;
  setText($("manager"), "manager pid " + m.pid + (m.version ? ", " + m.version : "") +
    (m.upgrades ? ", upgraded " + m.upgrades + "×" : "") + ", " + list.length + " ports");
  setText($("updated"), "updated " + new Date(t).toLocaleTimeString());
  $("error").hidden = true;
  statusPage.renders++;
  statusPage.lastUpdate = t;
  if (statusPage.firstRenderMs == null) statusPage.firstRenderMs = performance.now();
}

async function poll() {
  try {
    const resp = await fetch("/status.json", { cache: "no-store" });
    if (!resp.ok) throw new Error("status.json: " + resp.status + " " + resp.statusText);
    render(await resp.json());
  } catch (err) {
    const e = $("error");
    e.textContent = "The manager does not answer (" + err.message + "); retrying every second.";
    e.hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

// The page comes with the first status in it (statuspage.go, index), so
// the first render waits for no request; the polls follow.
const initial = document.getElementById("initial");
if (initial) {
  render(JSON.parse(initial.textContent));
  setTimeout(poll, POLL_MS);
} else {
  poll();
}
