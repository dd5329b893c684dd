// livepush's status page: everything comes from the control API on the
// same origin (GET /v1/status, the event stream GET /v1/events, POST
// /v1/snapshot and the commands). No framework, no build step, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
let token = localStorage.getItem("livepush-token") || "";
let uptimeAt = null;          // [service uptime ms, Date.now()] of the last status
const series = [];            // [t ms, netSpeed kbps, videoBitrate kbps], one minute
const codes = [];             // newest first, at most 50
let snapUrl = null;

class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (r.status === 401) { askToken(); throw new Unauthorized("a token is needed"); }
  return r;
}

function askToken() {
  $("token-form").hidden = false;
  $("token").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  localStorage.setItem("livepush-token", token);
  $("token-form").hidden = true;
  start();
});

function kbps(v) { return v >= 1000 ? (v / 1000).toFixed(2) + " Mbit/s" : v + " kbit/s"; }

function wallTime(uptimeMs) {
  if (!uptimeAt) return "";
  const d = new Date(uptimeAt[1] - (uptimeAt[0] - uptimeMs));
  return d.toLocaleTimeString();
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min " + Math.floor(s % 60) + " s";
}

function showFigures(n) {
  $("f-video").textContent = kbps(n.videoBitrate);
  $("f-audio").textContent = kbps(n.audioBitrate);
  $("f-net").textContent = kbps(n.netSpeed);
  $("f-jitter").textContent = n.netJitter + " ms";
  $("f-fps").textContent = Number(n.videoFPS).toFixed(1) + " fps";
  $("f-size").textContent = n.videoWidth + "×" + n.videoHeight;
  $("f-gop").textContent = "every " + Number(n.videoGOP).toFixed(1) + " s";
}

function showStatus(s) {
  uptimeAt = [s.uptime_ms, Date.now()];
  const h = $("headline");
  h.textContent = s.headline;
  h.style.background = s.color;
  h.dataset.state = s.state;
  document.title = s.headline + " · livepush";
  $("sub").textContent = s.state + (s.config && s.config.url ? " · " + s.config.url : "");
  $("f-encoder").textContent = s.encoder || "–";
  $("f-camera").textContent = s.camera ? s.camera + (s.camera_open ? "" : " (not open)") : (s.camera_open ? "open" : "–");
  $("f-health").textContent = s.health.ok ? "healthy" : "unhealthy: " + s.health.reason;
  $("f-uptime").textContent = duration(s.uptime_s);
  if (s.netstatus) showFigures(s.netstatus);
  codes.length = 0;
  for (const c of s.last_codes.slice().reverse()) codes.push(c);
  showCodes();
}

function showCodes() {
  const body = $("codes");
  body.textContent = "";
  for (const c of codes.slice(0, 50)) {
    const tr = document.createElement("tr");
    tr.className = c.code < 0 ? "error" : (c.code >= 3000 || (c.code >= 1101 && c.code < 1200) ? "warn" : "");
    const cells = [wallTime(c.uptime_ms), String(c.code), c.message + (c.detail ? ": " + c.detail : "")];
    cells.forEach((t, i) => {
      const td = document.createElement("td");
      td.textContent = t;
      if (i === 1) td.className = "code";
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
}

function drawGraph() {
  const c = $("graph"), g = c.getContext("2d");
  const w = c.width, h = c.height, now = Date.now();
  g.clearRect(0, 0, w, h);
  while (series.length && series[0][0] < now - 60000) series.shift();
  const max = Math.max(100, ...series.map((p) => Math.max(p[1], p[2]))) * 1.15;
  g.strokeStyle = "#333";
  g.fillStyle = "#777";
  g.font = "10px sans-serif";
  for (const f of [0.5, 1]) {
    const y = h - f / 1.15 * h;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    g.fillText(Math.round(max / 1.15 * f) + " kbit/s", 4, y + 12);
  }
  const line = (k, color) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    series.forEach((p, i) => {
      const x = w - (now - p[0]) / 60000 * w, y = h - p[k] / max * h;
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  };
  line(1, "#4af");
  line(2, "#fc4");
}

let refreshing = null;
function refreshSoon() {
  if (refreshing) return;
  refreshing = setTimeout(async () => { refreshing = null; await refresh(); }, 150);
}

async function refresh() {
  try {
    const r = await api("GET", "/v1/status");
    if (r.ok) showStatus(await r.json());
  } catch (e) {
    if (!(e instanceof Unauthorized)) $("sub").textContent = "no answer from the box: " + e.message;
  }
}

async function events() {
  for (;;) {
    try {
      const r = await api("GET", "/v1/events");
      if (!r.ok || !r.body) throw new Error("events: HTTP " + r.status);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of chunk.split("\n")) {
            if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)));
          }
        }
      }
    } catch (e) {
      if (e instanceof Unauthorized) return;
    }
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

function onEvent(ev) {
  if (ev.event === "netstatus") {
    showFigures(ev.info);
    series.push([Date.now(), ev.info.netSpeed, ev.info.videoBitrate]);
    drawGraph();
    if (uptimeAt) $("f-uptime").textContent = duration((uptimeAt[0] + Date.now() - uptimeAt[1]) / 1000);
  } else if (ev.event === "statechange") {
    codes.unshift({ code: ev.code, message: ev.message, detail: ev.detail, uptime_ms: ev.uptime_ms });
    if (codes.length > 50) codes.pop();
    showCodes();
    refreshSoon();
  }
}

async function snapshot(width) {
  const r = await api("POST", "/v1/snapshot", width ? { width } : {});
  if (!r.ok) {
    const e = await r.json().catch(() => null);
    throw new Error(e && e.error ? e.error.message : "HTTP " + r.status);
  }
  return r.blob();
}

async function refreshPicture() {
  try {
    const blob = await snapshot(640);
    const url = URL.createObjectURL(blob);
    $("snap").src = url;
    if (snapUrl) URL.revokeObjectURL(snapUrl);
    snapUrl = url;
    $("snap-note").textContent = "picture of " + new Date().toLocaleTimeString();
  } catch (e) {
    if (!(e instanceof Unauthorized)) $("snap-note").textContent = "no picture: " + e.message;
  }
}

async function command(cmd) {
  const msg = $("msg");
  msg.textContent = cmd + "…";
  try {
    if (cmd === "snapshot") {
      const blob = await snapshot(0);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "livepush-" + new Date().toISOString().replace(/[:.]/g, "-") + ".jpg";
      a.click();
      msg.textContent = "snapshot taken";
      return;
    }
    const r = await api("POST", "/v1/" + cmd, {});
    const j = await r.json().catch(() => ({}));
    msg.textContent = r.ok
      ? cmd + ": " + (j.changed === false ? "already so" : "done") + (j.camera ? " (" + j.camera + ")" : "") + (j.on !== undefined ? (j.on ? " (on)" : " (off)") : "")
      : cmd + " refused: " + (j.error ? j.error.message : "HTTP " + r.status);
  } catch (e) {
    msg.textContent = cmd + " failed: " + e.message;
  }
  refreshSoon();
}

for (const b of document.querySelectorAll("button[data-cmd]")) {
  b.addEventListener("click", () => command(b.dataset.cmd));
}

let started = false;
function start() {
  refresh();
  refreshPicture();
  events();
  if (started) return;
  started = true;
  setInterval(refresh, 5000);
  setInterval(refreshPicture, 4000);
  setInterval(drawGraph, 1000);
}
start();
