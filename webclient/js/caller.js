// Who the advisor is talking to: the caller's name, topic, language and device
// fields as the tablet sent them, how long they waited, their earlier requests
// with outcomes and the advisors' wrap-up notes on them (`help.history`; the
// notes are kept on the server, sent with `session.note`).

import { formatSeconds } from "./queue-summary.js";

const DEVICE_FIELDS_SHOWN = 12;
const VALUE_SHOWN = 80;

export class CallerView {
  /** @param {Record<string, HTMLElement>} el root, facts, history, notes */
  constructor(el) {
    this.el = el;
    this.caller = null; // {id, name}
    this.items = [];
    this.waitingSince = null; // performance.now() when the caller pressed Help
    this.waitedFor = null; // seconds, frozen once the call is answered
    this.timer = setInterval(() => this._tickWaited(), 1000);
  }

  /** An offer (or a claimable request) came: show what it says of the caller. */
  show(offer) {
    this.caller = offer.user;
    this.waitingSince = performance.now() - offer.waited_s * 1000;
    this.waitedFor = null;
    this.items = [];
    const facts = [
      ["Name", offer.user.name],
      ["Topic", offer.topic || "none given"],
      ["Language", offer.language || "not given"],
    ];
    if (offer.skills?.length) facts.push(["Needs", offer.skills.join(", ")]);
    facts.push(["Waited", ""]);
    const device = deviceFields(offer.device);
    if (device.length === 0) facts.push(["Device", "nothing sent"]);
    for (const [name, value] of device) facts.push([`Device ${name}`, value]);
    this.el.facts.replaceChildren(...facts.flatMap(([k, v]) => factNodes(k, v)));
    this._tickWaited();
    this.el.history.replaceChildren(listItem("Looking up earlier requests…", "quiet"));
    this._renderNotes();
    this.el.root.hidden = false;
  }

  /** The call was answered: the wait stops counting. */
  answered() {
    if (this.waitingSince !== null) this.waitedFor = (performance.now() - this.waitingSince) / 1000;
    this._tickWaited();
  }

  /** The earlier requests from `help.history`, or null when they could not be had. */
  setHistory(items) {
    if (items === null) {
      this.el.history.replaceChildren(listItem("Earlier requests could not be loaded.", "quiet"));
      return;
    }
    this.items = items;
    const shown = items.map((item) => historyItem(item));
    if (!shown.length) shown.push(listItem("None: this is their first request.", "quiet"));
    this.el.history.replaceChildren(...shown);
    this._renderNotes();
  }

  hide() {
    this.el.root.hidden = true;
    this.caller = null;
  }

  _tickWaited() {
    const dd = this.el.facts.querySelector('[data-fact="Waited"]');
    if (!dd || this.waitingSince === null) return;
    const waited = this.waitedFor ?? (performance.now() - this.waitingSince) / 1000;
    dd.textContent = this.waitedFor === null ? `${formatSeconds(waited)} so far` : formatSeconds(waited);
  }

  _renderNotes() {
    // Newest call first, as `help.history` gives them.
    const shown = this.items.filter((item) => item.note).map((item) => noteNode(item));
    if (!shown.length) {
      const none = document.createElement("p");
      none.className = "quiet";
      none.textContent = "No notes on this caller yet.";
      shown.push(none);
    }
    this.el.notes.replaceChildren(...shown);
  }
}

/** The device object as sent, flattened to (path, value) pairs, bounded for the screen. */
export function deviceFields(device, prefix = "", out = []) {
  if (!device || typeof device !== "object") return out;
  for (const [key, value] of Object.entries(device)) {
    if (out.length >= DEVICE_FIELDS_SHOWN) break;
    const name = prefix ? `${prefix} ${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      deviceFields(value, name, out);
    } else {
      const text = Array.isArray(value) ? value.join(", ") : String(value);
      out.push([name, text.length > VALUE_SHOWN ? `${text.slice(0, VALUE_SHOWN)}…` : text]);
    }
  }
  return out;
}

/** What became of an earlier request, in words. */
export function outcomeText(item) {
  switch (item.outcome) {
    case "ended":
      return endText(item.end_reason, item.ended_by);
    case "cancelled":
      return "cancelled by the user while waiting";
    case "abandoned":
      return "the user left while waiting";
    case "expired":
      return "nobody could take it in time";
    case "in_session":
      return "in a call now";
    default:
      return "still waiting";
  }
}

function endText(reason, by) {
  if (reason === "disconnected") {
    return by === "advisor" ? "the advisor's connection dropped" : "the user's connection dropped";
  }
  if (reason === "advisor_ended") return "ended by the advisor";
  if (reason === "user_ended") return "ended by the user";
  const who = by === "advisor" ? "the advisor" : "the user";
  return reason ? `ended by ${who} (${reason})` : `ended by ${who}`;
}

function historyItem(item) {
  const li = document.createElement("li");
  li.dataset.requestId = item.request_id;
  li.dataset.outcome = item.outcome;
  const when = document.createElement("time");
  when.textContent = dateTime(item.requested_at);
  const parts = [item.topic || "no topic", outcomeText(item)];
  if (item.advisor_name) parts.push(`with ${item.advisor_name}`);
  if (item.duration_s !== null && item.duration_s !== undefined) {
    parts.push(`call of ${formatSeconds(item.duration_s)}`);
  }
  li.append(when, ` · ${parts.join(" · ")}`);
  return li;
}

/** One stored note: when its call was, who wrote it, and the text as written. */
function noteNode(item) {
  const p = document.createElement("p");
  p.dataset.requestId = item.request_id;
  const when = document.createElement("time");
  const by = item.note.advisor_name ? ` (${item.note.advisor_name})` : "";
  when.textContent = `${dateTime(item.requested_at)}${by}: `;
  p.append(when, item.note.text);
  return p;
}

function factNodes(name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.dataset.fact = name;
  dd.textContent = value;
  return [dt, dd];
}

function listItem(text, className) {
  const li = document.createElement("li");
  li.className = className;
  li.textContent = text;
  return li;
}

function dateTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString([], {
    dateStyle: "medium",
    timeStyle: "short",
  });
}
