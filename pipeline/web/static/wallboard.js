// The wallboard: reads /api/wallboard for the layout, then keeps the latest statistic records
// from the server push (/api/stream, Server-Sent Events) and redraws once a second (times tick).
"use strict";

const STATUS = {
  // label and symbol: status is never told by colour alone
  LoggedOut: ["Logged out", "○"], NotMonitored: ["No channel", "○"], Active: ["Logged in", "◇"],
  Available: ["Ready", "✓"], Delivering: ["Offered", "➜"], Blocked: ["Not ready", "‖"],
  HandlingInternal: ["Internal", "●"], HandlingOutbound: ["Outbound", "●"], HandlingInbound: ["Handling", "●"],
};
const values = new Map(); // "Statistic|ObjectType|ObjectID" -> record
let layout = { groups: {}, media: [], statistics: [] };
let skew = 0; // server clock - browser clock (ms), measured when the layout is read

const $ = (id) => document.getElementById(id);
const key = (s, t, o) => `${s}|${t}|${o}`;
const rec = (s, t, o) => values.get(key(s, t, o));
const val = (s, t, o) => { const r = rec(s, t, o); return r && r.Value != null ? r.Value : null; };
const esc = (x) => String(x).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const num = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en"));

function dur(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function objects(type, statistic) {
  const out = new Set();
  for (const r of values.values()) if (r.ObjectType === type && (!statistic || r.Statistic === statistic)) out.add(r.ObjectID);
  return [...out].sort();
}

function kpi(label, value) {
  return `<div class="kpi"><div class="v">${value}</div><div class="l">${esc(label)}</div></div>`;
}

function drawTotals() {
  const t = objects("Tenant")[0];
  const agents = objects("Agent", "Agent_Current_State_Reasons").map((a) => rec("Agent_Current_State_Reasons", "Agent", a));
  const inQueue = objects("Queue", "Queue_Depth").reduce((n, q) => n + (val("Queue_Depth", "Queue", q) || 0), 0);
  const loggedIn = agents.filter((r) => r && r.State && r.State.Status !== "LoggedOut").length;
  $("totals").innerHTML = [
    kpi("Agents logged in", num(loggedIn)),
    kpi("Ready channels", num(t && val("Agents_Available", "Tenant", t))),
    kpi("Not-ready channels", num(t && val("Agents_Not_Ready", "Tenant", t))),
    kpi("Agents in DND", num(t && val("Agents_In_DND", "Tenant", t))),
    kpi("Interactions in hand", num(t && val("Interactions_In_Hand", "Tenant", t))),
    kpi("Waiting in queues", num(inQueue)),
    kpi("Handled today", num(t && val("Handled", "Tenant", t))),
    kpi("Avg handle time", dur(t && val("Average_Handle_Time", "Tenant", t))),
  ].join("");
}

function drawQueues() {
  const queues = objects("Queue");
  $("queues").innerHTML = queues.length ? queues.map((q) => {
    const depth = val("Queue_Depth", "Queue", q) || 0;
    const oldest = val("Oldest_Waiting", "Queue", q);
    const alert = depth > 0 && oldest > 60;
    return `<div class="tile${alert ? " alert" : ""}" data-queue="${esc(q)}"><h3>${esc(q)}<span class="sub">queue</span></h3>
      <div class="qrow"><div><div class="big">${num(depth)}</div><div class="lab">waiting</div></div>
      <div><div class="big${alert ? " warn" : ""}">${depth ? dur(oldest) : "–"}</div><div class="lab">oldest waiting${alert ? " (over 1 min)" : ""}</div></div>
      <div><div class="big">${num(val("Queue_Entered", "Queue", q))}</div><div class="lab">entered today</div></div>
      <div><div class="big">${num(val("Queue_Abandoned", "Queue", q))}</div><div class="lab">abandoned</div></div></div></div>`;
  }).join("") : `<div class="empty">no queue activity yet</div>`;
}

function drawGroups() {
  const groups = Object.keys(layout.groups).length ? Object.keys(layout.groups) : objects("GroupAgents");
  $("groups").innerHTML = groups.length ? groups.map((g) => {
    const rows = layout.media.map((m) => `<tr><td>${esc(m)}</td><td>${num(val("Agents_Available_" + m, "GroupAgents", g))}</td>
      <td>${num(val("Agents_Routable_" + m, "GroupAgents", g))}</td><td>${num(val("Agents_Not_Ready_" + m, "GroupAgents", g))}</td></tr>`).join("");
    return `<div class="tile" data-group="${esc(g)}"><h3>${esc(g)}<span class="sub">${(layout.groups[g] || []).length} agents</span></h3>
      <table class="g"><tr><th>channels</th><th>ready</th><th>routable</th><th>not ready</th></tr>
      <tr><td><b>all media</b></td><td><b>${num(val("Agents_Available", "GroupAgents", g))}</b></td><td><b>${num(val("Agents_Routable", "GroupAgents", g))}</b></td>
      <td><b>${num(val("Agents_Not_Ready", "GroupAgents", g))}</b></td></tr>${rows}</table>
      <div class="gfoot"><span>handled today <b>${num(val("Handled", "GroupAgents", g))}</b></span>
      <span>AHT <b>${dur(val("Average_Handle_Time", "GroupAgents", g))}</b></span>
      <span>agents in DND <b>${num(val("Agents_In_DND", "GroupAgents", g))}</b></span></div></div>`;
  }).join("") : `<div class="empty">no groups configured</div>`;
}

function groupOf(agent) {
  for (const [g, members] of Object.entries(layout.groups)) if (members.includes(agent)) return g;
  return "";
}

function drawAgents() {
  const now = Date.now() + skew;
  const agents = objects("Agent", "Agent_Current_State_Reasons");
  $("agents").innerHTML = agents.length ? agents.map((a) => {
    const r = rec("Agent_Current_State_Reasons", "Agent", a);
    const s = (r && r.State) || { Status: "LoggedOut", Media: {} };
    const [label, sym] = STATUS[s.Status] || [s.Status, "?"];
    const since = s.Since ? (now - Date.parse(s.Since)) / 1000 : null;
    const reason = s.Reason ? Object.values(s.Reason).join(", ") : "";
    const chips = Object.entries(s.Media || {}).map(([m, st]) => {
      const [l, y] = STATUS[st] || [st, "?"];
      return `<span class="chip c-${esc(st)}" title="${esc(m)}: ${esc(l)}">${y} ${esc(m)}: ${esc(l)}</span>`;
    }).join("");
    return `<div class="agent s-${esc(s.Status)}" data-agent="${esc(a)}" data-status="${esc(s.Status)}">
      <div class="top"><span class="id">${esc(a)}</span>${s.DoNotDisturb ? '<span class="dnd" title="do not disturb">⊘ DND</span>' : ""}<span class="grp">${esc(groupOf(a))}</span></div>
      <div class="st c-${esc(s.Status)}">${sym} <span class="label">${esc(label)}</span><span class="time" title="time in state">${dur(since)}</span></div>
      <div class="reason">${reason ? "reason: " + esc(reason) : ""}</div>
      <div class="media">${chips}</div></div>`;
  }).join("") : `<div class="empty">waiting for agents…</div>`;
}

function draw() {
  $("clock").textContent = new Date(Date.now() + skew).toISOString().slice(11, 19) + " UTC";
  drawTotals(); drawQueues(); drawGroups(); drawAgents();
}

function take(records) {
  for (const r of records) {
    values.set(key(r.Statistic, r.ObjectType, r.ObjectID), r);
  }
}

function connect() {
  const qs = layout.statistics.map((s) => "statistic=" + encodeURIComponent(s)).join("&");
  const es = new EventSource("/api/stream" + (qs ? "?" + qs : ""));
  const conn = $("conn");
  es.addEventListener("snapshot", (e) => { values.clear(); take(JSON.parse(e.data)); draw(); });
  es.addEventListener("update", (e) => { take(JSON.parse(e.data)); draw(); });
  es.onopen = () => { conn.textContent = "● live"; conn.className = "conn up"; };
  es.onerror = () => { conn.textContent = "○ reconnecting…"; conn.className = "conn down"; };
}

async function start() {
  $("legend").innerHTML = ["Available", "Delivering", "Blocked", "HandlingInbound", "LoggedOut"]
    .map((s) => `<span class="legend-item c-${s}">${STATUS[s][1]} ${STATUS[s][0]}</span>`).join("") + '<span class="legend-item"><span class="dnd">⊘ DND</span></span>';
  try {
    layout = await (await fetch("/api/wallboard")).json();
    if (layout.now) skew = Date.parse(layout.now) - Date.now();
  } catch (e) { /* defaults */ }
  connect();
  draw();
  setInterval(draw, 1000);
}
start();
