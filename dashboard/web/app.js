// The dashboard: renders /api/state and keeps it live from /api/events
// (Server-Sent Events). Every log event re-reads the state (at most one read
// in flight, one more queued), so what is shown is always the daemon's own
// projection; the page never reloads. A reconnecting stream resumes after
// the last event seen (Last-Event-ID); events seen already are ignored, and
// a "reset" (the events missed are no longer kept) re-reads the state.
"use strict";

window.noodleDashboard = { loadedAt: Date.now(), events: 0, states: 0, resets: 0, lastSeq: 0, weights: {} };
const dash = window.noodleDashboard;
const kMaxEvents = 200;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fill(tableId, rows) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren(...rows);
}

function when(ns) { return ns ? new Date(ns / 1e6).toLocaleTimeString() : ""; }

function weightCell(w) {
  const bar = el("span", { class: "bar" }, el("span", { style: "width:" + w + "%" }));
  return el("td", { class: "weight" }, w + "%", bar);
}

// Weights each upgrade has been shown at, in order (states are read one at a
// time, so in log order; an event's weight is as of the end of its round).
function sawWeight(id, w) {
  const seen = dash.weights[id] || (dash.weights[id] = []);
  if (seen[seen.length - 1] !== w) seen.push(w);
}

function upgradeRow(u) {
  sawWeight(u.id, u.weight);
  const steps = el("td", { class: "steps" }, ...u.steps.map((s, i) =>
    el("span", { class: "step " + s.state, title: (i + 1) + ": " + s.action + (s.weight ? " " + s.weight + "%" : "") +
      " " + s.state })));
  const health = u.healthy ? "healthy" : u.unhealthy_checks + " failed checks";
  return el("tr", { class: "upgrade", "data-id": u.id, "data-phase": u.phase, "data-weight": u.weight },
    el("td", {}, el("code", {}, u.id)), el("td", {}, u.component), el("td", {}, u.from + " → " + u.to),
    el("td", {}, u.strategy), el("td", { class: "phase phase-" + u.phase }, u.phase), weightCell(u.weight),
    el("td", { class: "weights-seen" }, dash.weights[u.id].join(" → ")), steps, el("td", { class: "health" }, health));
}

function render(s) {
  dash.states++;
  dash.state = s;
  document.getElementById("seq").textContent = "seq " + s.seq;
  const audit = document.getElementById("audit");
  audit.textContent = s.audit.verified_at_start ? "audit: chain verified at start" : "audit: not verified";
  audit.className = "audit " + (s.audit.verified_at_start ? "ok" : "bad");
  audit.title = s.audit.detail;
  fill("upgrades", s.upgrades.map(upgradeRow));
  document.getElementById("no-upgrades").hidden = s.upgrades.length > 0;
  fill("components", s.components.map(c => el("tr", { class: "component", "data-name": c.name },
    el("td", {}, c.name), el("td", { class: "version" }, c.version), el("td", {}, c.type),
    el("td", {}, c.dependencies.map(d => d.name + " " + d.range).join(", ")), el("td", {}, c.instances.join(", ")))));
  fill("recent", s.recent.map(r => el("tr", { class: "history", "data-id": r.id, "data-phase": r.phase },
    el("td", {}, el("code", {}, r.id)), el("td", {}, r.component), el("td", {}, r.from + " → " + r.to),
    el("td", { class: "phase phase-" + r.phase }, r.phase), el("td", {}, when(r.finished_ns)),
    el("td", {}, r.reason))));
  fill("points", s.rollback_points.map(p => el("tr", {}, el("td", {}, p.name), el("td", {}, p.seq))));
}

let reading = false, again = false;
async function refresh() {
  if (reading) { again = true; return; }
  reading = true;
  try {
    const r = await fetch("/api/state", { cache: "no-store" });
    if (r.ok) render(await r.json());
  } catch (e) {
    console.warn("state:", e);
  } finally {
    reading = false;
    if (again) { again = false; refresh(); }
  }
}

function logEvent(ev) {
  if (ev.seq <= dash.lastSeq) return false;  // a resumed stream may repeat one
  dash.lastSeq = ev.seq;
  dash.events++;
  const list = document.getElementById("events");
  let text = "#" + ev.seq + " " + ev.type;
  if (ev.component) text += " " + ev.component;
  if (ev.phase) text += " " + ev.phase;
  if (ev.weight !== undefined) text += " " + ev.weight + "%";
  list.prepend(el("li", { "data-seq": ev.seq }, text));
  while (list.children.length > kMaxEvents) list.lastChild.remove();
  return true;
}

// Events up to seq were missed and cannot be sent again: the state is read
// anew and the list marks the gap. seq is the daemon's last: taken as is
// (a daemon started on a new log counts from lower).
function reset(seq) {
  dash.resets++;
  dash.lastSeq = seq;
  document.getElementById("events").prepend(el("li", { class: "gap" }, "… events missed up to #" + seq));
  refresh();
}

function connect() {
  const conn = document.getElementById("conn");
  // A new EventSource (after a refusal) names where to resume itself; a
  // reconnecting one sends Last-Event-ID.
  const source = new EventSource("/api/events" + (dash.lastSeq ? "?last_event_id=" + dash.lastSeq : ""));
  let opened = false;
  // The first opening reads the state again (events may have come between
  // the page's first read and the stream); later ones resume.
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn up"; if (!opened) refresh(); opened = true; };
  source.onerror = () => {
    conn.textContent = "reconnecting"; conn.className = "conn down";
    // Refused (e.g. too many streams) or gone: EventSource gives up; retry later.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  };
  source.addEventListener("log", m => { if (logEvent(JSON.parse(m.data))) refresh(); });
  source.addEventListener("reset", m => reset(JSON.parse(m.data).seq));
}

refresh();
connect();
