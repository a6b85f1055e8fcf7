// The dashboard: the admin API's listings, live through /admin/events.
// Every value from the server is set with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "ivr-gateway-admin-token";
const state = { page: "calls", cursors: {}, filters: {}, loaded: {}, streaming: false };

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) { askForToken(); throw new Error("unauthorized"); }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!response.ok) {
    const message = body && typeof body === "object" ? Object.values(body).join("; ") : String(body);
    throw new Error(response.status + ": " + message);
  }
  return body;
}

function askForToken(message) {
  document.getElementById("login").hidden = false;
  for (const section of document.querySelectorAll("main > section")) section.hidden = true;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("token").focus();
  setLive("token needed");
}

function setLive(text) { document.getElementById("live").textContent = text; }

function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "" : String(value);
  row.appendChild(td);
  return td;
}

function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleTimeString() + " " + date.toLocaleDateString();
}

function button(label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", action);
  return b;
}

const renderers = {
  calls(call) {
    const row = document.createElement("tr");
    row.dataset.id = call.id;
    for (const value of [call.id, time(call.created_at), call.method, call.from, call.to, call.outcome, call.status,
      call.store, call.sms_id ? "queued" : (call.sms_skipped || "")]) cell(row, value);
    row.classList.add("outcome-" + call.outcome);
    return row;
  },
  sms(sms) {
    const row = document.createElement("tr");
    row.dataset.id = sms.id;
    for (const value of [time(sms.created_at), sms.from, sms.to, sms.body, sms.status, sms.attempts, sms.last_error]) cell(row, value);
    const actions = cell(row, "");
    if (sms.status === "failed") {
      actions.appendChild(button("Retry", async () => {
        try { await api("/admin/sms/" + sms.id + "/retry", { method: "POST" }); setLive("SMS re-queued"); }
        catch (error) { setLive(error.message); }
      }));
    }
    return row;
  },
  threads(thread) {
    const row = document.createElement("tr");
    row.dataset.id = thread.id;
    row.tabIndex = 0;
    for (const value of [thread.id, thread.customer_phone || thread.customer_id, thread.business_name, thread.channel,
      thread.status, thread.window_open ? "open" : "closed", time(thread.last_message_at)]) cell(row, value);
    const open = () => showThread(thread.id);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    return row;
  },
  deliveries(delivery) {
    const row = document.createElement("tr");
    row.dataset.id = delivery.id;
    for (const value of [time(delivery.created_at), delivery.target, delivery.event_type, delivery.url, delivery.status,
      delivery.attempts, delivery.last_error]) cell(row, value);
    cell(row, "").appendChild(button("Redeliver", async () => {
      try { await api("/admin/deliveries/" + delivery.id + "/redeliver", { method: "POST" }); setLive("delivery re-queued"); }
      catch (error) { setLive(error.message); }
    }));
    return row;
  },
  simulations(simulation) {
    const row = document.createElement("tr");
    row.dataset.id = simulation.id;
    for (const value of [simulation.id, time(simulation.created_at), simulation.url, simulation.from, simulation.to,
      simulation.ended]) cell(row, value);
    return row;
  },
  infobip(launch) {
    const row = document.createElement("tr");
    row.dataset.id = launch.bulk_id;
    row.tabIndex = 0;
    for (const value of [launch.bulk_id, launch.account, time(launch.created_at), launch.calls, launch.pending,
      launch.delivered, launch.undeliverable, launch.expired, launch.rejected, launch.reports_delivered]) cell(row, value);
    const open = () => showLaunch(launch.bulk_id);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    return row;
  },
  smartflo(ivr) {
    const row = document.createElement("tr");
    row.dataset.id = ivr.id;
    const menu = (ivr.ivr_menu || []).map((item) => item.option + " → " + item.destination_type + " " + item.destination_id).join(", ");
    for (const value of [ivr.id, ivr.name, ivr.recording, ivr.timeout + " s", menu]) cell(row, value);
    return row;
  },
};

const sources = {
  calls: "/admin/calls", sms: "/admin/sms", threads: "/admin/threads", deliveries: "/admin/deliveries",
  simulations: "/admin/simulations", smartflo: "/admin/smartflo/ivrs", infobip: "/admin/infobip/launches",
};

function tbody(name) { return document.querySelector("#" + name + " tbody"); }

async function load(name, more) {
  const query = new URLSearchParams(state.filters[name] || {});
  query.set("limit", "50");
  if (more && state.cursors[name]) query.set("cursor", state.cursors[name]);
  try {
    const page = await api(sources[name] + "?" + query);
    const body = tbody(name);
    if (!more) body.replaceChildren();
    for (const item of page.items) body.appendChild(renderers[name](item));
    state.cursors[name] = page.next_cursor || null;
    const moreButton = document.querySelector(".more[data-list='" + name + "']");
    if (moreButton) moreButton.hidden = !page.next_cursor;
    state.loaded[name] = true;
  } catch (error) {
    if (error.message !== "unauthorized") setLive(error.message);
  }
}

/// A live item: replaces its row if shown, else goes on top of an unfiltered list.
function upsert(name, item) {
  if (!state.loaded[name]) return;
  const body = tbody(name);
  const row = renderers[name](item);
  const existing = body.querySelector("tr[data-id='" + CSS.escape(String(item.id)) + "']");
  if (existing) existing.replaceWith(row);
  else if (Object.keys(state.filters[name] || {}).length === 0) body.prepend(row);
}

async function showThread(id) {
  const thread = await api("/admin/threads/" + id);
  const box = document.getElementById("thread");
  box.replaceChildren();
  const title = document.createElement("h3");
  title.textContent = "Thread " + thread.id + " · " + (thread.customer_phone || thread.customer_id) + " · " + thread.business_name;
  box.appendChild(title);
  const list = document.createElement("ol");
  list.className = "messages";
  for (const message of thread.messages) {
    const item = document.createElement("li");
    item.className = "from-" + message.sender + (message.internal ? " internal" : "");
    const who = document.createElement("strong");
    who.textContent = message.sender + (message.internal ? " (internal)" : "") + " · " + time(message.created_at);
    const text = document.createElement("p");
    text.textContent = message.body;
    item.append(who, text);
    list.appendChild(item);
  }
  box.appendChild(list);
  state.openThread = thread.id;
}

/// A launch's calls, each with how it ended and what it played.
async function showLaunch(bulkId) {
  const calls = await api("/admin/infobip/calls?limit=100&bulk_id=" + encodeURIComponent(bulkId));
  const box = document.getElementById("launch");
  box.replaceChildren();
  const title = document.createElement("h3");
  title.textContent = "Launch " + bulkId;
  box.appendChild(title);
  const list = document.createElement("ol");
  list.className = "calls";
  for (const call of calls.items) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = call.to + " · " + call.status + " · " + call.attempts + " call(s)" + (call.last_error ? " · " + call.last_error : "");
    item.appendChild(who);
    if (call.transcript) {
      const text = document.createElement("pre");
      text.textContent = renderTranscript(call.transcript);
      item.appendChild(text);
    }
    list.appendChild(item);
  }
  box.appendChild(list);
  state.openLaunch = bulkId;
}

async function showClock(clock) {
  const shown = clock || await api("/admin/clock");
  document.getElementById("clock-now").textContent = "Now " + time(shown.now) + " · " + shown.speed + "× · " +
    Math.round(shown.ahead_seconds) + " s ahead of real time";
}

function renderTranscript(transcript) {
  const lines = transcript.steps.map((step) => {
    switch (step.kind) {
      case "request": return step.method + " " + step.url + " -> " + (step.status === null ? "no answer: " + step.error : step.status) + " (" + step.millis + " ms)";
      case "say": return "Say" + (step.language ? " (" + step.language + ")" : "") + ": " + step.text;
      case "play": return "Play " + step.url;
      case "pause": return "Pause " + step.seconds + " s";
      case "gather": return step.digits ? "Pressed " + step.digits : "Pressed nothing (timed out)";
      case "dial": return "Dial " + step.number + ": " + step.outcome;
      case "sms": return "SMS: " + step.body;
      case "record": return "Record";
      default: return step.kind;
    }
  });
  lines.push("Call ended: " + transcript.ended + (transcript.error ? " (" + transcript.error + ")" : ""));
  return lines.join("\n");
}

/// /admin/events read as a stream (EventSource cannot send the token).
async function follow() {
  state.streaming = true;
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  try {
    const response = await fetch("/admin/events", { headers });
    if (response.status === 401) { state.streaming = false; askForToken(); return; }
    setLive("live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = (frame.match(/^event: (.*)$/m) || [])[1];
        const data = (frame.match(/^data: (.*)$/m) || [])[1];
        if (event && data) onEvent(event, JSON.parse(data));
      }
    }
  } catch (_) { /* reconnect below */ }
  setLive("reconnecting…");
  setTimeout(follow, 2000);
}

function onEvent(event, item) {
  switch (event) {
    case "call": upsert("calls", item); break;
    case "sms": upsert("sms", item); break;
    case "delivery": upsert("deliveries", item); break;
    case "simulation": upsert("simulations", item); break;
    case "infobip":
      upsert("infobip", Object.assign({ id: item.bulk_id }, item));
      if (state.openLaunch === item.bulk_id) showLaunch(item.bulk_id);
      break;
    case "message":
      if (state.loaded.threads) load("threads");
      if (state.openThread === item.thread_id) showThread(item.thread_id);
      break;
  }
}

function show(page) {
  state.page = page;
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== page;
  for (const tab of document.querySelectorAll("nav button")) {
    if (tab.dataset.page === page) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  load(page);
  if (page === "infobip") showClock().catch((error) => setLive(error.message));
}

function start() {
  document.getElementById("login").hidden = true;
  show(state.page);
  if (!state.streaming) follow();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const tab of document.querySelectorAll("nav button")) tab.addEventListener("click", () => show(tab.dataset.page));
  for (const form of document.querySelectorAll("form.filters")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const filters = {};
      for (const [name, value] of new FormData(form)) {
        if (!value) continue;
        filters[name] = name === "since" ? new Date(value).toISOString() : value;
      }
      state.filters[form.dataset.list] = filters;
      load(form.dataset.list);
    });
  }
  for (const more of document.querySelectorAll(".more")) more.addEventListener("click", () => load(more.dataset.list, true));
  document.getElementById("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
    try { await api("/admin/calls?limit=1"); start(); }
    catch (error) { sessionStorage.removeItem(TOKEN_KEY); askForToken("That token was refused."); }
  });
  document.getElementById("reset").addEventListener("click", async () => {
    if (!confirm("Empty the journal, the SMS outbox, threads, deliveries, simulations and Infobip launches, and put the clock back? Organizations and stores stay.")) return;
    try { await api("/admin/reset", { method: "POST" }); setLive("reset done"); show(state.page); }
    catch (error) { setLive(error.message); }
  });
  document.getElementById("compose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = Object.fromEntries(new FormData(form));
    const result = form.querySelector(".result");
    try {
      const sent = await api("/admin/customer-messages", { method: "POST", body: JSON.stringify(body) });
      result.textContent = "sent to thread " + sent.customerThreadId;
      form.elements.text.value = "";
      showThread(Number(sent.customerThreadId));
    } catch (error) { result.textContent = error.message; }
  });
  document.getElementById("simulate").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const presses = form.elements.presses.value ? form.elements.presses.value.split(",") : [];
    const body = { url: form.elements.url.value, from: form.elements.from.value, to: form.elements.to.value, persona: { presses } };
    const out = document.getElementById("transcript");
    out.textContent = "playing…";
    try { out.textContent = renderTranscript((await api("/admin/simulations", { method: "POST", body: JSON.stringify(body) })).transcript); }
    catch (error) { out.textContent = error.message; }
  });
  document.getElementById("clock").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const result = form.querySelector(".result");
    try {
      await showClock(await api("/admin/clock/advance", { method: "POST", body: JSON.stringify({ by: form.elements.by.value }) }));
      result.textContent = "advanced " + form.elements.by.value;
    } catch (error) { result.textContent = error.message; }
  });
  document.querySelector("#simulate input[name=url]").value = location.origin + "/smartflo/numbers/%2B14151234567/voice";
  start();
});
