// The Ephemera dashboard: live environments, their leases and costs, extend and destroy,
// and a run's log as it streams. Plain JS, no build step; every value from the API is
// put into the page as text (textContent), never as HTML.
"use strict";

const TOKEN_KEY = "ephemera-token";
const REFRESH_MS = 5000;
const EXTEND_CHOICES = ["1h", "4h", "1d"];
let scopes = [];
let following = null; // the AbortController of the log being streamed

// ---------------------------------------------------------------- the token

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function askForToken(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("board").hidden = true;
  document.getElementById("forget").hidden = true;
  document.getElementById("login").hidden = false;
  say(why || "", Boolean(why));
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}`, ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  if (response.status === 401) {
    askForToken("The token was refused (revoked or mistyped): enter another.");
    throw new ApiError(401, "unauthorized");
  }
  if (options.raw) return response;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new ApiError(response.status, detail || response.statusText);
  }
  return body;
}

// ---------------------------------------------------------------- helpers

function say(text, isError = false) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function button(label, className, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = className;
  b.addEventListener("click", action);
  return b;
}

function money(value) {
  return value === null || value === undefined ? "-" : `$${Number(value).toFixed(2)}`;
}

// "7h 59m", "2d 3h", "12m", "expired 5m ago": durations.format_remaining, for people.
function remaining(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 0) return `expired ${remaining(-seconds)} ago`;
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  return `${minutes}m`;
}

function isLink(value) {
  return typeof value === "string" && /^https?:\/\/[^\s]+$/.test(value);
}

// ---------------------------------------------------------------- environments

function timeLeftCell(row, env, detail) {
  const td = cell(row, "", "expires");
  const lease = detail && detail.lease;
  if (!env.expires_at || !lease) {
    td.textContent = "-";
    return;
  }
  td.dataset.expiresAt = env.expires_at;
  const end = Date.parse(env.expires_at);
  const start = Date.parse(lease.applied_at || lease.created_at);
  const left = Math.max(end - Date.now(), 0);
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = 1;
  meter.low = 0.1;
  meter.optimum = 1;
  meter.value = end > start ? Math.min(left / (end - start), 1) : 0;
  meter.title = `expires ${env.expires_at}`;
  const text = document.createElement("span");
  text.className = "expires-in";
  text.textContent = remaining(env.expires_in_seconds);
  td.append(meter, text);
}

function outputsCell(row, detail) {
  const td = cell(row, "");
  const outputs = (detail && detail.outputs) || {};
  const names = Object.keys(outputs).filter((name) => isLink(outputs[name]));
  if (!names.length) td.textContent = "-";
  for (const name of names) {
    const a = document.createElement("a");
    a.href = outputs[name];
    a.textContent = name;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    td.append(a, " ");
  }
}

function actionsCell(row, env) {
  const td = cell(row, "");
  const live = !["not deployed", "destroyed"].includes(env.status);
  if (live && scopes.includes("extend")) {
    const choice = document.createElement("select");
    choice.className = "extend-by";
    for (const duration of EXTEND_CHOICES) choice.add(new Option(`+${duration}`, duration));
    td.append(choice, button("Extend", "extend", () => extend(env.env, choice.value)));
  }
  if (live && scopes.includes("destroy")) {
    td.append(" ", button("Destroy", "destroy", () => startRun(env.env, "destroy")));
  }
  if (!live && scopes.includes("deploy")) {
    td.append(button("Deploy", "deploy", () => startRun(env.env, "deploy")));
  }
}

async function renderEnvs() {
  const listing = await api("/v1/envs?all=1");
  const details = {};
  await Promise.all(
    listing.environments
      .filter((env) => env.status !== "not deployed")
      .map(async (env) => {
        details[env.env] = await api(`/v1/envs/${env.env}`).catch(() => null);
      }),
  );
  const body = document.querySelector("#envs tbody");
  const rows = listing.environments.map((env) => {
    const row = document.createElement("tr");
    row.dataset.env = env.env;
    cell(row, env.env, "name");
    cell(row, env.status + (env.orphan ? " (orphan)" : ""), `status status-${env.status}`);
    const health = env.health === "not checked" ? "-" : env.health; // or unknown: no answer in time
    cell(row, health, `health ${health}`);
    cell(row, env.owner, "owner");
    timeLeftCell(row, env, details[env.env]);
    const costs = `${money(env.cost_so_far_usd)} / ${money(env.cost_remaining_usd)}`;
    cell(row, costs, "cost");
    outputsCell(row, details[env.env]);
    actionsCell(row, env);
    return row;
  });
  body.replaceChildren(...rows);
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function extend(env, duration) {
  try {
    const done = await api(`/v1/envs/${env}/extend`, {
      method: "POST",
      body: { duration, reason: "extended from the dashboard" },
    });
    say(`${env}: extended by ${duration}; expires in ${remaining(done.expires_in_seconds)}`);
  } catch (error) {
    if (error.status !== 401) say(`${env}: ${error.message}`, true);
  }
  await refresh();
}

async function startRun(env, op) {
  if (op === "destroy" && !confirm(`Destroy ${env} and everything in its state?`)) return;
  try {
    const run = await api(`/v1/envs/${env}/runs`, { method: "POST", body: { op } });
    say(`${env}: ${op} started (run ${run.id})`);
    followLog(run.id);
  } catch (error) {
    if (error.status !== 401) say(`${env}: ${error.message}`, true);
  }
  await refresh();
}

// ---------------------------------------------------------------- runs and logs

async function renderRuns() {
  const listing = await api("/v1/runs");
  const rows = listing.runs.slice(0, 20).map((run) => {
    const row = document.createElement("tr");
    row.dataset.run = run.id;
    cell(row, run.id);
    cell(row, run.env);
    cell(row, run.op);
    cell(row, run.state, `state state-${run.state}`);
    cell(row, run.phase ? `${run.phase} (${run.progress.step}/${run.progress.of})` : "-");
    cell(row, run.requested_by);
    const actions = cell(row, "");
    actions.append(button("Log", "show-log", () => followLog(run.id)));
    const mayCancel = scopes.includes(run.op) && ["queued", "running"].includes(run.state);
    if (mayCancel) actions.append(" ", button("Cancel", "cancel", () => cancel(run.id)));
    return row;
  });
  document.querySelector("#runs tbody").replaceChildren(...rows);
}

async function cancel(runId) {
  try {
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    say(`run ${runId}: cancel requested`);
  } catch (error) {
    if (error.status !== 401) say(`run ${runId}: ${error.message}`, true);
  }
  await refresh();
}

function parseEvent(block) {
  const event = { event: "message", data: [] };
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") event.data.push(value);
    else if (field === "event") event.event = value;
  }
  return { event: event.event, data: event.data.join("\n") };
}

// Server-sent events read with fetch (EventSource cannot send the Authorization header).
async function followLog(runId) {
  if (following) following.abort();
  following = new AbortController();
  const panel = document.getElementById("log-panel");
  const log = document.getElementById("log");
  const state = document.getElementById("log-state");
  panel.hidden = false;
  document.getElementById("log-run").textContent = runId;
  state.textContent = "streaming…";
  log.textContent = "";
  try {
    const response = await api(`/v1/runs/${runId}/log?follow=1`, {
      raw: true,
      signal: following.signal,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const { event, data } = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event === "log") {
          log.append(`${data}\n`);
          log.scrollTop = log.scrollHeight;
        } else if (event === "end") {
          state.textContent = JSON.parse(data).state;
          refresh();
        }
      }
    }
  } catch (error) {
    if (error.name !== "AbortError" && error.status !== 401) state.textContent = error.message;
  }
}

// ---------------------------------------------------------------- start

async function refresh() {
  if (!token()) return;
  try {
    await Promise.all([renderEnvs(), renderRuns()]);
  } catch (error) {
    if (error.status !== 401) say(error.message, true);
  }
}

async function start() {
  try {
    const me = await api("/v1/whoami");
    scopes = me.scopes;
    document.getElementById("who").textContent = `token ${me.name} (${me.scopes.join(", ")})`;
  } catch (error) {
    if (error.status !== 401) say(error.message, true);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("forget").hidden = false;
  document.getElementById("board").hidden = false;
  say("");
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  document.getElementById("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
    document.getElementById("token-input").value = "";
    start();
  });
  document.getElementById("forget").addEventListener("click", () => askForToken(""));
  if (token()) start();
  else askForToken("");
  setInterval(refresh, REFRESH_MS);
});
