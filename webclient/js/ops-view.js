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
// Advisor names seen, kept so that an advisor who went offline is still named.
const NAMES_KEPT = 1000;

const STATE_WORDS = {
  available: "available",
  reserved: "offered a request",
  busy: "in a call",
  away: "away",
};

/** Why and how a request ended, in a few words; "–" while it waits or lasts. */
export function endReasonText(r) {
  switch (r.outcome) {
    case "ended":
      return sessionEnd(r.end_reason, r.ended_by);
    case "cancelled":
      return "user cancelled";
    case "abandoned":
      return "user left while waiting";
    case "expired":
      return "expired in the queue";
    case "in_session":
      return "in a call";
    default:
      return "waiting";
  }
}

// Ends that are no one's choice: shown as faults.
const DROPPED_ENDS = new Set(["disconnected", "user_lost", "advisor_lost"]);
// Why a warm transfer failed (timeline `transfer.failed` `reason`), in words.
const TRANSFER_FAILED = {
  declined: "the colleague declined",
  timeout: "the colleague did not answer in time",
  advisor_away: "the colleague went away",
  advisor_dropped: "the colleague's connection dropped",
  user_dropped: "the user's connection dropped",
  session_ended: "the call ended first",
};

function sessionEnd(reason, by) {
  if (reason === "user_lost") return "user's connection dropped";
  if (reason === "advisor_lost") return "advisor's connection dropped";
  if (reason === "disconnected") {
    return by === "advisor" ? "advisor's connection dropped" : "user's connection dropped";
  }
  if (reason === "advisor_ended") return "advisor ended it";
  if (reason === "user_ended") return "user ended it";
  return `${by === "advisor" ? "advisor" : "user"} ended it${reason ? ` (${reason})` : ""}`;
}

/** A user's score of a call: "4/5", or "–" when not rated. */
export function ratingText(score) {
  return typeof score === "number" ? `${score}/5` : "–";
}

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
    this.advisors = []; // rows of the advisor table, each with `enteredAt` (performance.now())
    this.names = new Map(); // advisor id -> name
    setInterval(() => this.tick(), 200);
  }

  /** An advisor's name where the dashboard has seen it, else the id. */
  nameOf(id, fallback = null) {
    return this.names.get(id) ?? fallback ?? id;
  }

  _learnName(id, name) {
    if (!id || !name) return;
    this.names.delete(id);
    this.names.set(id, name);
    if (this.names.size > NAMES_KEPT) this.names.delete(this.names.keys().next().value);
  }

  // ---------------------------------------------------------- advisors

  /** The advisor table of one ops.update: who is online, in which state since when. */
  showAdvisors(rows, update) {
    const now = performance.now();
    this.advisors = rows.map((row) => ({
      ...row,
      enteredAt: now - Math.max(0, update.time - row.since) * 1000,
    }));
    for (const row of rows) this._learnName(row.id, row.name);
    const body = this.ui.advisorTable.tBodies[0];
    const shown = [...this.advisors].sort(
      (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
    );
    body.replaceChildren();
    for (const a of shown) {
      const row = body.insertRow();
      row.dataset.advisorId = a.id;
      row.dataset.state = a.state;
      cell(row, a.name);
      cell(row, STATE_WORDS[a.state] ?? a.state, "state");
      cell(row, "", "num since");
      cell(row, String(a.calls_today), "num calls");
      cell(row, String(a.declines_today), "num declines");
      cell(row, String(a.missed_offers_today), `num missed${a.missed_offers_today ? " bad-count" : ""}`);
    }
    if (!shown.length) cell(body.insertRow(), "No advisor is online.", "quiet").colSpan = 6;
    const q = update.queue;
    const online =
      q.advisors_available + q.advisors_reserved + q.advisors_busy + q.advisors_away;
    const note = this.ui.advisorTableNote;
    note.hidden = online <= rows.length;
    note.textContent = `Showing ${rows.length} of the ${online} advisors online.`;
    this._tickAdvisors();
  }

  _tickAdvisors() {
    const now = performance.now();
    for (const a of this.advisors) {
      const td = this.ui.advisorTable.querySelector(
        `tr[data-advisor-id="${CSS.escape(a.id)}"] td.since`,
      );
      if (td) td.textContent = formatWait((now - a.enteredAt) / 1000);
    }
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
    this._tickAdvisors();
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

  /** @param {(requestId: string) => void} open shows one request's whole timeline */
  showRecent(recent, open) {
    const body = this.ui.recent.tBodies[0];
    const focused = document.activeElement?.closest?.("tr")?.dataset.requestId;
    body.replaceChildren();
    for (const r of recent) {
      this._learnName(r.advisor, r.advisor_name);
      const row = body.insertRow();
      row.dataset.requestId = r.request_id;
      row.dataset.outcome = r.outcome;
      cell(row, clock(r.requested_at));
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.testid = "request-open";
      button.textContent = r.request_id; // cut to its head by the style sheet
      button.title = r.request_id;
      button.setAttribute("aria-label", `Timeline of request ${r.request_id}`);
      button.addEventListener("click", () => open(r.request_id));
      row.insertCell().append(button);
      cell(row, r.topic || "–");
      cell(row, r.outcome, `outcome outcome-${r.outcome}`);
      cell(row, r.advisor ? this.nameOf(r.advisor, r.advisor_name) : "–", "advisor");
      cell(row, formatDuration(r.time_to_accept_s), "num");
      const toAdvisor = cell(row, formatDuration(r.time_to_advisor_s), "num");
      if (r.time_to_advisor_s !== null && this.target !== null && r.time_to_advisor_s > this.target) {
        toAdvisor.classList.add("bad");
      }
      const end = cell(row, endReasonText(r), "end");
      if (DROPPED_ENDS.has(r.end_reason)) end.classList.add("bad");
      cell(row, formatDuration(r.duration_s), "num duration");
      cell(row, r.priority ? String(r.priority) : "–", "num priority");
      cell(row, r.transfers ? String(r.transfers) : "–", "num transfers");
      // The table is redrawn every second: the focus stays on its row, without scrolling
      // the page back to it while the user reads another panel.
      if (r.request_id === focused) button.focus({ preventScroll: true });
    }
    if (!recent.length) {
      const row = body.insertRow();
      cell(row, "No requests in the last hour.", "quiet").colSpan = 11;
    }
  }

  // ---------------------------------------------------------- one request's timeline

  /** The whole timeline of one request (GET /api/ops/requests/{id}), in words. */
  showTimeline(view) {
    const ui = this.ui;
    this._learnName(view.advisor, view.advisor_name);
    ui.timelineTitle.textContent = `Request ${view.request_id}`;
    const facts = [
      ["User", view.user_name ? `${view.user_name} (${view.user_id})` : view.user_id],
      ["Topic", view.topic || "–"],
      ["Outcome", `${view.outcome} · ${endReasonText(view)}`],
      ["Advisor", view.advisor ? this.nameOf(view.advisor, view.advisor_name) : "–"],
      ["Time to accept", formatDuration(view.time_to_accept_s)],
      ["Time to advisor", formatDuration(view.time_to_advisor_s)],
      ["Call length", formatDuration(view.duration_s)],
      ["Offers", `${view.offers.length} (${view.missed_offers} missed)`],
      ["Rating", ratingText(view.rating_score)],
      ["Priority", view.priority ? String(view.priority) : "0 (default)"],
      ["Transfers", String(view.transfers ?? 0)],
    ];
    ui.timelineFacts.replaceChildren(
      ...facts.flatMap(([name, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = name;
        const dd = document.createElement("dd");
        dd.textContent = value;
        return [dt, dd];
      }),
    );
    const start = view.requested_at;
    ui.timelineEvents.replaceChildren(
      ...view.timeline.map((entry) => {
        const li = document.createElement("li");
        li.dataset.event = entry.event;
        const when = document.createElement("time");
        when.textContent = entry.t === start ? clock(entry.t) : `+${formatDuration(entry.t - start)}`;
        li.append(when, ` ${this.eventText(entry)}`);
        return li;
      }),
    );
  }

  eventText(e) {
    const who = e.advisor ? this.nameOf(e.advisor, e.advisor_name) : "an advisor";
    const side = e.side === "advisor" ? "advisor" : "user";
    switch (e.event) {
      case "requested":
        return `Requested${e.topic ? ` (topic ${e.topic})` : ""}`;
      case "offered":
        return `Offered to ${who} (offer ${e.offer_no})`;
      case "offer.accepted":
        return `Accepted by ${who}`;
      case "offer.declined":
        return `Declined by ${who}`;
      case "offer.timed_out":
        return `${who} let the offer run out and was set away`;
      case "offer.withdrawn":
        return `Offer to ${who} withdrawn`;
      case "claimed":
        return `Claimed by ${who}`;
      case "claim.declined":
        return `${who} passed on it`;
      case "session.started":
        return `Call started with ${who}`;
      case "session.ended":
        return `Call ended: ${sessionEnd(e.reason, e.by)}`;
      case "media.first_frame":
        return `First video frame on the ${side}'s side`;
      case "user.dropped":
        return "The user's connection dropped";
      case "user.returned":
        return `The user was back after ${formatDuration(e.after_s)}`;
      case "advisor.dropped":
        return `${who}'s connection dropped`;
      case "advisor.returned":
        return `${who} was back after ${formatDuration(e.after_s)}`;
      case "grace.expired":
        return `The ${side} did not come back in time`;
      case "requeued":
        return e.reason === "transferred"
          ? "Back at the head of the queue (transferred)"
          : "Back at the head of the queue";
      case "transfer":
        return this.transferText(e);
      case "transfer.offered":
        return `Transfer offered to ${who} (offer ${e.offer_no})`;
      case "transfer.accepted":
        return `Transfer accepted by ${who}`;
      case "transfer.failed":
        return `Transfer failed: ${TRANSFER_FAILED[e.reason] ?? e.reason}`;
      case "rated":
        return `Rated ${ratingText(e.score)}`;
      case "ended":
      case "cancelled":
      case "abandoned":
      case "expired":
        return `Closed: ${e.event}`;
      default:
        if (e.event.startsWith("media.")) {
          return `Media ${e.event.slice(6).replace("_", " ")} on the ${side}'s side`;
        }
        return e.event;
    }
  }

  /** A `transfer` entry: from → to, warm or cold, and the note. */
  transferText(e) {
    const from = this.nameOf(e.from);
    const to = e.to?.advisor
      ? this.nameOf(e.to.advisor)
      : `whoever knows ${(e.to?.skills ?? []).join(", ")}`;
    const note = e.note ? `: “${e.note}”` : "";
    return `Transfer (${e.mode}) ${from} → ${to}${note}`;
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
      const message = document.createElement("span");
      message.className = "alert-message";
      message.dataset.alert = name;
      message.textContent = ` ${this.liveMessage(name, alert)} `;
      item.append(title, message, since);
      list.append(item);
    }
    this.ui.noAlerts.hidden = this.alerts.size > 0;
    this.renderBanner();
  }

  /**
   * An alert's text as of now: the server sends each raised alert's message with the live
   * value every update; the oldest wait grows between updates, so it is counted on here,
   * as on its tile.
   */
  liveMessage(name, alert) {
    if (name !== "oldest_wait" || this.oldestSince === null || this.target === null) {
      return alert.message;
    }
    const wait = (performance.now() - this.oldestSince) / 1000;
    return `a user has waited ${formatWait(wait)} with no advisor free; the target is ${formatDuration(this.target)}`;
  }

  renderBanner() {
    const banner = this.ui.banner;
    let text = "";
    let state = "";
    if (this.alerts.size) {
      state = "raised";
      text = [...this.alerts]
        .map(([name, a]) => `${ALERT_TITLES[name] || name}: ${this.liveMessage(name, a)}`)
        .join(" · ");
    } else if (this.lastRecovery && performance.now() - this.lastRecovery.at < RECOVERY_SHOWN_MS) {
      state = "cleared";
      text = this.lastRecovery.text;
    }
    if (banner.textContent !== text) banner.textContent = text;
    for (const span of this.ui.activeAlerts.querySelectorAll(".alert-message")) {
      const alert = this.alerts.get(span.dataset.alert);
      const live = alert ? ` ${this.liveMessage(span.dataset.alert, alert)} ` : span.textContent;
      if (span.textContent !== live) span.textContent = live;
    }
    banner.dataset.state = state;
    banner.hidden = !text;
  }
}
