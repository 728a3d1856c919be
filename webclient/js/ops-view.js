// What the ops dashboard shows, drawn from the server's frames: figures,
// tables and alerts. No socket here; ops.js feeds it.

export const WINDOW_TITLES = {
  "5m": "Last 5 minutes",
  "1h": "Last hour",
  today: "Today (UTC)",
};

const ALERT_TITLES = {
  oldest_wait: "Oldest wait",
  service_level: "Service level",
  abandonment: "Abandonment",
};

// How long the banner says an alert recovered, once no other alert is active.
const RECOVERY_SHOWN_MS = 60_000;

/** A duration in seconds as the dashboard shows it: "–" when unknown. */
export function formatDuration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "–";
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** A wait counting up: tenths below ten seconds, so a short target still shows it move. */
export function formatWait(s) {
  if (s === null || s === undefined) return "–";
  if (s < 10) return `${Math.max(0, s).toFixed(1)} s`;
  const whole = Math.floor(s);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

export function formatShare(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

function clock(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function judge(element, level) {
  element.classList.toggle("warn", level === "warn");
  element.classList.toggle("bad", level === "bad");
}

export class OpsView {
  /** @param {Record<string, HTMLElement>} ui the page's elements, by name */
  constructor(ui) {
    this.ui = ui;
    this.queue = null;
    this.oldestSince = null; // performance.now() when the oldest request started waiting
    this.target = null;
    this.alerts = new Map(); // name -> {message, since}
    this.lastRecovery = null; // {text, at: performance.now()}
    setInterval(() => this.tick(), 200);
  }

  // ---------------------------------------------------------- the queue, now

  showQueue(queue) {
    this.queue = queue;
    const oldest = queue.oldest_wait_s;
    this.oldestSince = oldest === null ? null : performance.now() - oldest * 1000;
    this.ui.queueDepth.textContent = String(queue.waiting);
    for (const li of this.ui.advisors.querySelectorAll("li[data-state]")) {
      li.querySelector("b").textContent = String(queue[`advisors_${li.dataset.state}`]);
    }
    this.tick();
  }

  /** Count the oldest wait on between frames: it grows by itself. */
  tick() {
    if (!this.queue) return;
    const wait = this.oldestSince === null ? null : (performance.now() - this.oldestSince) / 1000;
    this.ui.oldestWait.textContent = formatWait(wait);
    let level = null;
    if (wait !== null && this.target !== null) {
      if (wait >= this.target) level = "bad";
      else if (wait >= (2 / 3) * this.target) level = "warn";
    }
    judge(this.ui.tileOldest, level);
    this.renderBanner();
  }

  // ---------------------------------------------------------- one window's measures

  showWindow(update, windowName) {
    this.target = update.target_s;
    const goal = update.service_level_goal;
    const m = update.windows[windowName].all;
    const ui = this.ui;
    ui.windowTitle.textContent = WINDOW_TITLES[windowName];
    ui.p50.textContent = formatDuration(m.time_to_advisor_p50_s);
    ui.p90.textContent = formatDuration(m.time_to_advisor_p90_s);
    ui.p99.textContent = formatDuration(m.time_to_advisor_p99_s);
    ui.targetNote.textContent = `target ${formatDuration(update.target_s)}`;
    for (const [name, value] of [
      ["tileP50", m.time_to_advisor_p50_s],
      ["tileP90", m.time_to_advisor_p90_s],
      ["tileP99", m.time_to_advisor_p99_s],
    ]) {
      judge(ui[name], value !== null && value > update.target_s ? "bad" : null);
    }

    ui.sl.textContent = formatShare(m.service_level);
    ui.slNote.textContent =
      `answered only ${formatShare(m.service_level_answered)} · goal ${formatShare(goal)} ` +
      `within ${formatDuration(update.target_s)}`;
    const below = [m.service_level, m.service_level_answered].some((x) => x !== null && x < goal);
    judge(ui.tileSl, below ? "bad" : null);

    ui.answered.textContent = String(m.answered);
    ui.answeredNote.textContent = `${m.first_frames} saw the advisor`;
    ui.abandoned.textContent = String(m.abandoned);
    ui.abandonedNote.textContent =
      `${formatShare(m.abandonment_rate)} · ${m.short_abandoned} short · ${m.expired} expired`;
    ui.asa.textContent = formatDuration(m.average_speed_of_answer_s);
    ui.ttaNote.textContent = `to accept p90 ${formatDuration(m.time_to_accept_p90_s)}`;
    ui.occupancy.textContent = formatShare(m.occupancy);
    ui.missedNote.textContent = `${m.missed_offers} missed offers`;

    this.showTopics(update.windows[windowName].topics);
  }

  showTopics(topics) {
    const body = this.ui.topics.tBodies[0];
    body.replaceChildren();
    // Advisor time has no topic: a topic row without requests says nothing.
    const busy = Object.entries(topics).filter(
      ([, m]) => m.answered + m.abandoned + m.expired + m.first_frames > 0,
    );
    busy.sort(([a], [b]) => a.localeCompare(b));
    for (const [topic, m] of busy) {
      const row = body.insertRow();
      row.dataset.topic = topic;
      cell(row, topic === "none" ? "(no topic)" : topic);
      cell(row, String(m.answered), "num");
      cell(row, String(m.abandoned), "num");
      cell(row, formatShare(m.service_level), "num");
      cell(row, formatShare(m.service_level_answered), "num");
      cell(row, formatDuration(m.time_to_advisor_p50_s), "num");
      cell(row, formatDuration(m.time_to_advisor_p90_s), "num");
      cell(row, formatDuration(m.time_to_advisor_p99_s), "num");
      cell(row, formatDuration(m.average_speed_of_answer_s), "num");
    }
    if (!busy.length) {
      const row = body.insertRow();
      cell(row, "No requests in this window.", "quiet").colSpan = 9;
    }
  }

  // ---------------------------------------------------------- recent requests

  showRecent(recent) {
    const body = this.ui.recent.tBodies[0];
    body.replaceChildren();
    for (const r of recent) {
      const row = body.insertRow();
      row.dataset.requestId = r.request_id;
      row.dataset.outcome = r.outcome;
      cell(row, clock(r.requested_at));
      cell(row, r.request_id, "id");
      cell(row, r.topic || "–");
      cell(row, r.outcome, `outcome outcome-${r.outcome}`);
      cell(row, r.advisor || "–");
      cell(row, formatDuration(r.time_to_accept_s), "num");
      const toAdvisor = cell(row, formatDuration(r.time_to_advisor_s), "num");
      if (r.time_to_advisor_s !== null && this.target !== null && r.time_to_advisor_s > this.target) {
        toAdvisor.classList.add("bad");
      }
    }
    if (!recent.length) {
      const row = body.insertRow();
      cell(row, "No requests in the last hour.", "quiet").colSpan = 7;
    }
  }

  // ---------------------------------------------------------- alerts

  /** The alerts active now, as the server's ledger has them (ops.update `alerts`). */
  showActiveAlerts(active) {
    this.alerts = new Map(
      Object.entries(active).map(([name, a]) => [name, { message: a.message, since: a.since }]),
    );
    this.renderAlerts();
  }

  /** One ops.alert frame: a raise or a recovery, logged and applied at once. */
  alertEvent(event) {
    const title = ALERT_TITLES[event.name] || event.name;
    const item = document.createElement("li");
    item.dataset.alert = event.name;
    item.dataset.state = event.state;
    const when = document.createElement("time");
    when.textContent = clock(event.at);
    const text =
      event.state === "raised"
        ? ` ${title} raised: ${event.message}`
        : ` ${title} recovered: ${event.message}`;
    item.append(when, text);
    this.ui.alertLog.prepend(item);
    while (this.ui.alertLog.children.length > 50) this.ui.alertLog.lastElementChild.remove();

    if (event.state === "raised") {
      this.alerts.set(event.name, { message: event.message, since: event.at });
    } else {
      this.alerts.delete(event.name);
      this.lastRecovery = { text: `${title} recovered: ${event.message}`, at: performance.now() };
    }
    this.renderAlerts();
  }

  renderAlerts() {
    const list = this.ui.activeAlerts;
    list.replaceChildren();
    for (const [name, alert] of this.alerts) {
      const item = document.createElement("li");
      item.dataset.alert = name;
      const title = document.createElement("strong");
      title.textContent = ALERT_TITLES[name] || name;
      const since = document.createElement("time");
      since.textContent = `since ${clock(alert.since)}`;
      item.append(title, ` ${alert.message} `, since);
      list.append(item);
    }
    this.ui.noAlerts.hidden = this.alerts.size > 0;
    this.renderBanner();
  }

  renderBanner() {
    const banner = this.ui.banner;
    let text = "";
    let state = "";
    if (this.alerts.size) {
      state = "raised";
      text = [...this.alerts]
        .map(([name, a]) => `${ALERT_TITLES[name] || name}: ${a.message}`)
        .join(" · ");
    } else if (this.lastRecovery && performance.now() - this.lastRecovery.at < RECOVERY_SHOWN_MS) {
      state = "cleared";
      text = this.lastRecovery.text;
    }
    if (banner.textContent !== text) banner.textContent = text;
    banner.dataset.state = state;
    banner.hidden = !text;
  }
}
