// The ops dashboard: the queue now, time to advisor against the target,
// service level, alerts and recent requests, live over the WebSocket.
//
// The server sends ops consoles a `queue.summary` on connect and whenever a
// count changes, an `ops.update` snapshot every MAYDAY_OPS_INTERVAL_S, and an
// `ops.alert` when an alert is raised or cleared.

import { History, OpsCharts } from "./ops-charts.js";
import { OpsFeedback } from "./ops-feedback.js";
import { OpsView, WINDOW_TITLES } from "./ops-view.js";
import { Gate, SignIn } from "./sign-in.js";
import { Signaling } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const ui = {
  who: $("who"),
  status: $("status"),
  signIn: $("sign-in"),
  window: $("window"),
  csv: $("csv"),
  banner: $("alert-banner"),
  queueDepth: $("queue-depth"),
  oldestWait: $("oldest-wait"),
  tileOldest: $("tile-oldest"),
  advisors: $("advisors"),
  activeAlerts: $("active-alerts"),
  noAlerts: $("no-alerts"),
  alertLog: $("alert-log"),
  windowTitle: $("window-title"),
  p50: $("p50"),
  p90: $("p90"),
  p99: $("p99"),
  tileP50: $("tile-p50"),
  tileP90: $("tile-p90"),
  tileP99: $("tile-p99"),
  targetNote: $("target-note"),
  sl: $("sl"),
  slNote: $("sl-note"),
  tileSl: $("tile-sl"),
  answered: $("answered"),
  answeredNote: $("answered-note"),
  abandoned: $("abandoned"),
  abandonedNote: $("abandoned-note"),
  asa: $("asa"),
  ttaNote: $("tta-note"),
  occupancy: $("occupancy"),
  missedNote: $("missed-note"),
  topics: $("topics"),
  recent: $("recent"),
  advisorTable: $("advisor-table"),
  advisorTableNote: $("advisor-table-note"),
  timeline: $("request-timeline"),
  timelineTitle: $("timeline-title"),
  timelineFacts: $("timeline-facts"),
  timelineEvents: $("timeline-events"),
  messagesOpen: $("messages-open"),
  messagesNote: $("messages-note"),
  messagesOldest: $("messages-oldest"),
  messagesOldestNote: $("messages-oldest-note"),
  ratingsAverage: $("ratings-average"),
  ratingsAverageNote: $("ratings-average-note"),
  ratingsCount: $("ratings-count"),
  ratingsCountNote: $("ratings-count-note"),
};

const WINDOW_SECONDS = { "5m": 300, "1h": 3600 };

const page = {
  state: "offline",
  update: null, // the last ops.update
  updatedAt: null, // performance.now() when it came
};

const view = new OpsView(ui);
// A refused or replaced link: its token is of no use until ops sign in again.
const feedback = new OpsFeedback(ui, serverNow, () => (signaling.stopped ? null : signaling.token));
const history = new History();
const charts = new OpsCharts({ latency: $("chart-latency"), queue: $("chart-queue") });
const signIn = new SignIn("ops", ui.signIn);
const gate = new Gate({
  signIn,
  setState,
  state: () => page.state,
  status: ui.status,
  kind: "ops",
  article: "an",
  thisPage: "; this is the ops dashboard",
  onWrongRole: () => {
    ui.csv.hidden = true;
  },
});
const signaling = new Signaling({
  onMessage,
  onStatus: (status, detail) => gate.onStatus(status, detail),
});
gate.signaling = signaling;

function setState(state, text) {
  if (state !== page.state) console.info(`mayday: ops ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
}

// ------------------------------------------------------------ server frames

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      onHello(msg);
      break;
    case "queue.summary":
      view.showQueue(msg);
      break;
    case "ops.update":
      onUpdate(msg);
      break;
    case "ops.alert":
      view.alertEvent(msg);
      break;
    case "error":
      console.warn(`mayday: server error ${msg.code}: ${msg.message}`);
      break;
    default:
      console.warn(`mayday: ops dashboard ignores unknown frame type "${msg.type}"`, msg);
  }
}

function onHello(msg) {
  if (msg.role !== "ops") {
    gate.wrongRole(msg.role);
    return;
  }
  ui.who.textContent = `${msg.name} (ops)`;
  feedback.start();
  setState("live", page.update ? liveText() : "Connected. Waiting for the first update…");
  updateCsvLink();
}

function onUpdate(msg) {
  page.update = msg;
  page.updatedAt = performance.now();
  history.add(msg);
  view.showQueue(msg.queue);
  view.showAdvisors(msg.advisors ?? [], msg);
  view.showActiveAlerts(msg.alerts);
  view.showRecent(msg.recent, openTimeline);
  feedback.showRatings(msg.recent);
  render();
  if (page.state === "live") ui.status.textContent = liveText();
}

/** The server's clock now, from the last ops.update (this machine's before the first). */
function serverNow() {
  if (!page.update) return Date.now() / 1000;
  return page.update.time + (performance.now() - page.updatedAt) / 1000;
}

function liveText() {
  const ago = Math.floor((performance.now() - page.updatedAt) / 1000);
  return ago < 2 ? "Live." : `Live. Last update ${ago} s ago.`;
}

/** Draw everything that depends on the chosen window. */
function render() {
  const name = ui.window.value;
  ui.windowTitle.textContent = WINDOW_TITLES[name];
  if (!page.update) return;
  view.showWindow(page.update, name);
  charts.show(history, name);
  updateCsvLink();
}

/** One request's whole timeline, asked for with the token in the header. */
async function openTimeline(requestId) {
  try {
    const response = await fetch(`/api/ops/requests/${encodeURIComponent(requestId)}`, {
      headers: { Authorization: `Bearer ${signaling.token}` },
    });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    view.showTimeline(await response.json());
    ui.timeline.dataset.requestId = requestId;
    if (!ui.timeline.open) ui.timeline.showModal();
  } catch (err) {
    console.warn("mayday: timeline not loaded", err);
    ui.status.textContent = `Could not load the timeline: ${err.message}.`;
  }
}

// Closed, the dialog gives the focus back to the button that opened it; the table has
// been redrawn since, so that button is gone: focus its row's button of now instead.
ui.timeline.addEventListener("close", () => {
  const id = ui.timeline.dataset.requestId;
  const row = id && ui.recent.querySelector(`tr[data-request-id="${CSS.escape(id)}"]`);
  row?.querySelector("button")?.focus({ preventScroll: true });
});

/** The CSV export of the chosen window's requests (the token goes in a header). */
function csvUrl() {
  const params = new URLSearchParams({ format: "csv" });
  const now = page.update?.time;
  if (now !== undefined) params.set("since", String(Math.floor(windowStart(ui.window.value, now))));
  return `/api/ops/requests?${params}`;
}

function updateCsvLink() {
  if (!signaling.token) return;
  ui.csv.dataset.url = csvUrl();
  ui.csv.hidden = false;
}

/**
 * Fetched with the token in the Authorization header and saved from a blob: a link
 * with the token in its address would leave it in proxy logs and the history.
 */
async function downloadCsv() {
  ui.csv.disabled = true;
  try {
    const response = await fetch(csvUrl(), {
      headers: { Authorization: `Bearer ${signaling.token}` },
    });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `mayday-requests-${ui.window.value}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    console.warn("mayday: CSV download failed", err);
    ui.status.textContent = `Could not download the CSV: ${err.message}.`;
  } finally {
    ui.csv.disabled = false;
  }
}

ui.csv.addEventListener("click", downloadCsv);

function windowStart(name, now) {
  if (name in WINDOW_SECONDS) return now - WINDOW_SECONDS[name];
  const midnight = new Date(now * 1000);
  midnight.setUTCHours(0, 0, 0, 0);
  return midnight.getTime() / 1000;
}

ui.window.addEventListener("change", render);

// The status line says when updates stop coming while the socket looks open.
setInterval(() => {
  if (page.state === "live" && page.update) ui.status.textContent = liveText();
}, 1000);

// ------------------------------------------------------------ start

charts.start().then(() => render());
const token = signIn.initial();
if (token) {
  signaling.connect(token);
} else {
  setState("offline", "Sign in to watch the queue.");
  gate.askToken("Paste an ops token: `mayday token --role ops --sub ops-1` prints one.");
}
