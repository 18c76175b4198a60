// The linqbot dashboard: a snapshot from api/state, then live events over the api/events WebSocket.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const auth = token ? "?token=" + encodeURIComponent(token) : "";
const WINDOW_S = 300, BUCKET_S = 10;
let events = [];
let refreshTimer = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function badge(text, kind) { return el("span", { class: "badge " + (kind || text) }, text); }

function bar(used, limit) {
  const share = limit ? Math.min(1, used / limit) : 0;
  const wrap = el("div", {}, el("div", { class: "bar" + (share >= 1 ? " full" : "") }, el("span", { style: `width:${share * 100}%` })),
    el("div", { class: "bar-label" }, `${used} / ${limit}`));
  return wrap;
}

function fill(tableId, rows, emptyId) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
  if (emptyId) $(emptyId).classList.toggle("hidden", rows.length > 0);
}

function time(seconds) { return new Date(seconds * 1000).toLocaleTimeString(); }

function eventRow(event, fresh) {
  const row = el("tr", { "data-event-id": event.event_id },
    el("td", {}, time(event.at)), el("td", {}, event.type), el("td", {}, event.from || "–"),
    el("td", { title: event.handler || "" }, (event.handler || "–").split(".").pop()),
    el("td", {}, badge(event.outcome)), el("td", {}, event.ms));
  if (fresh) row.classList.add("new");
  return row;
}

function renderEvents(freshId) {
  fill("events", events.slice().reverse().slice(0, 100).map((e) => eventRow(e, e.event_id === freshId)), "events-empty");
  $("stat-events").textContent = events.length;
  drawRate();
}

function drawRate() {
  const svg = $("rate-chart"), now = Date.now() / 1000, slots = WINDOW_S / BUCKET_S;
  const counts = new Array(slots).fill(0);
  for (const e of events) {
    const age = now - e.at;
    if (age >= 0 && age < WINDOW_S) counts[slots - 1 - Math.floor(age / BUCKET_S)] += 1;
  }
  const top = Math.max(1, ...counts), width = 600 / slots;
  const bars = counts.map((count, i) => {
    const height = (count / top) * 100;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("x", i * width + 1); rect.setAttribute("width", width - 2);
    rect.setAttribute("y", 110 - height); rect.setAttribute("height", height);
    rect.setAttribute("fill", "#0a84ff"); rect.setAttribute("rx", 2);
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${count} event(s)`; rect.append(title);
    return rect;
  });
  const axis = document.createElementNS("http://www.w3.org/2000/svg", "line");
  axis.setAttribute("x1", 0); axis.setAttribute("x2", 600); axis.setAttribute("y1", 110); axis.setAttribute("y2", 110);
  axis.setAttribute("stroke", "#ccc");
  svg.replaceChildren(axis, ...bars);
  svg.dataset.total = counts.reduce((a, b) => a + b, 0);
}

function drawGates(gates) {
  const svg = $("gate-chart"), entries = Object.entries(gates);
  const top = Math.max(1, ...entries.map(([, v]) => v)), rowHeight = 18;
  svg.setAttribute("viewBox", `0 0 300 ${Math.max(1, entries.length) * rowHeight}`);
  svg.style.height = `${Math.max(1, entries.length) * rowHeight}px`;
  const nodes = [];
  entries.forEach(([label, value], i) => {
    const ns = "http://www.w3.org/2000/svg";
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", 0); text.setAttribute("y", i * rowHeight + 13); text.setAttribute("font-size", 11);
    text.textContent = `${label} (${value})`;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", 170); rect.setAttribute("y", i * rowHeight + 4); rect.setAttribute("height", 10);
    rect.setAttribute("width", (value / top) * 125); rect.setAttribute("fill", label.startsWith("all") ? "#30d158" : "#ff9f0a");
    nodes.push(text, rect);
  });
  svg.replaceChildren(...nodes);
}

function renderState(state) {
  fill("chats", state.chats.map((chat) => el("tr", { "data-chat-id": chat.id },
    el("td", { title: chat.id }, chat.group ? "group " + chat.id.slice(0, 8) : chat.who),
    el("td", {}, badge(chat.health)),
    el("td", {}, chat.opted_out ? badge("yes") : "no"),
    el("td", {}, chat.pacing ? bar(chat.pacing.used, chat.pacing.limit) : "–"),
    el("td", {}, chat.events))), "chats-empty");
  fill("lines", state.lines.map((line) => el("tr", {},
    el("td", {}, line.line), el("td", {}, badge(line.reputation)),
    el("td", {}, line.budget ? bar(line.budget.used, line.budget.limit) : "–"))));
  const jobs = state.jobs || [];
  fill("jobs", jobs.map((job) => el("tr", {}, el("td", {}, job.name), el("td", {}, job.trigger),
    el("td", {}, job.next_run ? new Date(job.next_run).toLocaleString() : "paused"))), "jobs-empty");
  const campaigns = state.campaigns || [];
  $("campaigns").replaceChildren(...campaigns.map((c) => {
    const counts = c.counts, total = Object.values(counts).reduce((a, b) => a + b, 0);
    const done = counts.sent + counts.skipped + counts.failed;
    return el("div", { class: "campaign" }, el("strong", {}, c.id), " ", c.finished ? badge("finished", "ok") : "",
      bar(done, total), el("div", { class: "bar-label" }, `sent ${counts.sent} · skipped ${counts.skipped} · failed ${counts.failed}`));
  }));
  $("campaigns-empty").classList.toggle("hidden", campaigns.length > 0);
  $("stat-pending").textContent = state.metrics.pending;
  $("stat-dedup").textContent = state.metrics.dedup_hits;
  $("stat-429").textContent = state.metrics.rate_limited;
  drawGates(state.metrics.gates);
}

async function refresh() {
  const response = await fetch("api/state" + auth);
  if (response.ok) renderState(await response.json());
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${location.pathname.replace(/[^/]*$/, "")}api/events${auth}`);
  socket.onopen = () => { $("connection").textContent = "live"; $("connection").className = "badge ok"; };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.kind === "hello") {
      events = data.state.events;
      renderEvents();
      renderState(data.state);
    } else if (data.kind === "event") {
      events.push(data.event);
      if (events.length > 500) events.shift();
      renderEvents(data.event.event_id);
      refreshSoon();
    }
  };
  socket.onclose = () => {
    $("connection").textContent = "disconnected"; $("connection").className = "badge off";
    setTimeout(connect, 2000);
  };
}

connect();
setInterval(() => { drawRate(); refresh(); }, 5000);
