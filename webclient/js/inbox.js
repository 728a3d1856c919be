// The console's inbox: the messages users left when nobody could answer
// (`GET /api/messages?state=open`, oldest first), each with its reply box
// (`message.reply`; the first reply wins, a colleague's later one gets
// `invalid_state`).
//
// The server pushes nothing to advisors when a message is left or answered, so the
// list is fetched again: at sign-in (every `hello`), after each reply, every 30 s and
// when the panel is opened. Fetching merges into what is shown: an item being typed
// into keeps its text and focus. A message answered here shows "sent", one answered
// by a colleague "answered elsewhere"; either leaves the count at once and the list a
// minute later, so the advisor sees what became of it.

import { formatSeconds } from "./queue-summary.js";

export const REFRESH_MS = 30_000;
export const FINISHED_SHOWN_MS = 60_000;
export const REPLY_MAX_CHARS = 2000;
// The oldest this many open messages are shown (the server lists at most 1,000).
const LISTED = 100;
const STATE_TEXT = { open: "open", sent: "sent", elsewhere: "answered elsewhere" };
const ELSEWHERE_TEXT = "Already answered by a colleague.";

/** How long ago, from seconds: "12 min 3 s ago", "3 h 5 min ago", "2 d 4 h ago". */
export function formatAge(s) {
  return `${formatLength(s)} ago`;
}

/** A message's age, from seconds: "12 min 3 s", "3 h 5 min", "2 d 4 h". */
export function formatLength(s) {
  const whole = Math.max(0, Math.floor(s));
  if (whole < 3600) return formatSeconds(whole);
  const hours = Math.floor(whole / 3600);
  if (hours < 24) return `${hours} h ${Math.floor(whole / 60) % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** ``GET /api/messages`` of the open messages, oldest first; throws on a refusal. */
export async function fetchOpenMessages(token, limit) {
  const response = await fetch(`/api/messages?state=open&limit=${limit}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.json();
}

export class Inbox {
  /**
   * @param {object} o
   * @param {HTMLDetailsElement} o.root the panel (`data-testid="inbox"`)
   * @param {HTMLElement} o.count the number of open messages
   * @param {HTMLElement} o.countWord "open message(s)" after it
   * @param {HTMLElement} o.list the list the items go in
   * @param {HTMLElement} o.empty shown while the list is empty
   * @param {HTMLElement} o.note a live region for what just happened
   * @param {import("./signaling.js").Signaling} o.signaling
   */
  constructor({ root, count, countWord, list, empty, note, signaling }) {
    Object.assign(this, { root, count, countWord, list, empty, note, signaling });
    this.noteKind = ""; // "load" while the note says a fetch failed
    this.items = new Map(); // message_id -> {msg, state, el, finishedAt}
    this.clockOffsetS = 0; // server clock minus this browser's, from a ping
    this.asked = 0; // the latest fetch: an older answer that comes after it is void
    this.poll = null;
    this.nextId = 1;
    this.ticker = setInterval(() => this._tick(), 1000);
    root.addEventListener("toggle", () => {
      if (root.open) this.refresh();
    });
  }

  /** Signed in (a `hello`): the list now, then every REFRESH_MS. */
  start() {
    this._syncClock();
    this.refresh();
    clearInterval(this.poll);
    this.poll = setInterval(() => this.refresh(), REFRESH_MS);
  }

  /** The open messages from the server, merged into what is shown. */
  async refresh() {
    const token = this.signaling.token;
    // A refused or replaced link: the token is of no use until the advisor signs in again.
    if (!token || this.signaling.stopped) return;
    const asked = ++this.asked;
    let body;
    try {
      body = await fetchOpenMessages(token, LISTED);
    } catch (err) {
      if (asked === this.asked) this._say(`The messages could not be loaded: ${err.message}.`, "load");
      return;
    }
    if (asked !== this.asked) return;
    this._merge(body.messages);
    if (body.count >= LISTED) this._say(`Showing the oldest ${LISTED} open messages.`, "load");
    else if (this.noteKind === "load") this._say("");
  }

  _merge(messages) {
    const listed = new Set(messages.map((m) => m.message_id));
    const newest = messages.length ? messages[messages.length - 1].left_at : -Infinity;
    for (const item of this.items.values()) {
      if (item.state !== "open" || listed.has(item.msg.message_id)) continue;
      // Not listed: answered by someone else, unless it only fell past the listed window.
      if (messages.length < LISTED || item.msg.left_at <= newest) this._finish(item, "elsewhere");
      else this._drop(item);
    }
    for (const msg of messages) {
      if (!this.items.has(msg.message_id)) this._add(msg);
    }
    this._order();
    this._tick();
  }

  _add(msg) {
    const item = { msg, state: "open", el: null, finishedAt: null };
    item.el = this._itemNode(item);
    this.items.set(msg.message_id, item);
  }

  /** Oldest first, as the server lists them; nodes already in place stay (and keep focus). */
  _order() {
    const sorted = [...this.items.values()].sort((a, b) => a.msg.left_at - b.msg.left_at);
    sorted.forEach((item, i) => {
      if (this.list.children[i] !== item.el) this.list.insertBefore(item.el, this.list.children[i] ?? null);
    });
  }

  _itemNode(item) {
    const { msg } = item;
    const li = document.createElement("li");
    li.className = "inbox-item";
    li.dataset.testid = "inbox-item";
    li.dataset.messageId = msg.message_id;
    li.dataset.state = "open";

    const head = document.createElement("p");
    head.className = "inbox-head";
    const name = document.createElement("strong");
    name.textContent = msg.user.name;
    const age = document.createElement("time");
    age.dateTime = new Date(msg.left_at * 1000).toISOString();
    age.title = new Date(msg.left_at * 1000).toLocaleString();
    const state = document.createElement("span");
    state.className = "inbox-state";
    state.dataset.testid = "inbox-item-state";
    state.textContent = STATE_TEXT.open;
    head.append(name, " · ", age, " ", state);

    // User input: text only, never markup.
    const text = document.createElement("p");
    text.className = "inbox-text";
    text.textContent = msg.text;
    const contact = document.createElement("p");
    contact.className = msg.contact ? "inbox-contact" : "inbox-contact quiet";
    contact.textContent = msg.contact ? `Contact: ${msg.contact}` : "No contact given";
    const outcome = document.createElement("p");
    outcome.className = "inbox-outcome";
    outcome.hidden = true;

    li.append(head, text, contact, this._replyForm(item), outcome);
    Object.assign(item, { ageNode: age, stateNode: state, outcomeNode: outcome });
    return li;
  }

  _replyForm(item) {
    const n = this.nextId++;
    const form = document.createElement("form");
    form.className = "inbox-reply";
    const label = document.createElement("label");
    label.htmlFor = `inbox-reply-${n}`;
    label.textContent = `Reply to ${item.msg.user.name}`;
    const box = document.createElement("textarea");
    box.id = label.htmlFor;
    box.dataset.testid = "inbox-reply-text";
    box.rows = 3;
    box.maxLength = REPLY_MAX_CHARS;
    box.required = true;
    box.setAttribute("aria-describedby", `inbox-reply-${n}-how`);
    box.setAttribute("aria-keyshortcuts", "Control+Enter");
    const how = document.createElement("p");
    how.className = "detail";
    how.id = `inbox-reply-${n}-how`;
    how.textContent = "Shown to them the next time they open the app. Ctrl+Enter sends.";
    const send = document.createElement("button");
    send.className = "primary";
    send.type = "submit";
    send.dataset.testid = "inbox-reply-send";
    send.textContent = "Send reply";
    send.setAttribute("aria-label", `Send reply to ${item.msg.user.name}`);
    form.append(label, box, how, send);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._send(item, box, send);
    });
    Object.assign(item, { form });
    return form;
  }

  async _send(item, box, send) {
    const text = box.value.trim();
    if (item.state !== "open" || send.disabled) return;
    if (!text) {
      box.focus();
      return;
    }
    box.disabled = send.disabled = true;
    try {
      await this.signaling.call("message.reply", { message_id: item.msg.message_id, text });
      this._finish(item, "sent", `Your reply: ${text}`);
      this._say(`Reply sent to ${item.msg.user.name}.`);
    } catch (err) {
      if (err.code === "invalid_state") {
        this._finish(item, "elsewhere");
        this._say(ELSEWHERE_TEXT);
      } else if (err.code === "not_found") {
        this._drop(item);
        this._say(`${item.msg.user.name}'s message is gone (erased).`);
      } else {
        // The text stays, so the advisor can send it again.
        box.disabled = send.disabled = false;
        this._say(`The reply could not be sent: ${err.message}. Try again.`);
        return;
      }
    }
    this.refresh();
  }

  /** Out of the count at once, out of the list FINISHED_SHOWN_MS later. */
  _finish(item, state, outcome = ELSEWHERE_TEXT) {
    item.state = state;
    item.finishedAt = performance.now();
    item.el.dataset.state = state;
    item.stateNode.textContent = STATE_TEXT[state];
    item.form.hidden = true;
    item.outcomeNode.textContent = outcome;
    item.outcomeNode.hidden = false;
    this._count();
  }

  _drop(item) {
    item.el.remove();
    this.items.delete(item.msg.message_id);
    this._count();
  }

  _count() {
    const open = [...this.items.values()].filter((item) => item.state === "open").length;
    this.count.textContent = String(open);
    this.countWord.textContent = open === 1 ? "open message" : "open messages";
    this.empty.hidden = this.items.size > 0;
  }

  /** Ages move on; finished items go once they have been shown long enough. */
  _tick() {
    const nowS = Date.now() / 1000 + this.clockOffsetS;
    for (const item of [...this.items.values()]) {
      if (item.finishedAt !== null && performance.now() - item.finishedAt > FINISHED_SHOWN_MS) {
        this._drop(item);
        continue;
      }
      item.ageNode.textContent = formatAge(nowS - item.msg.left_at);
    }
    this._count();
  }

  /** `left_at` is the server's clock: measure ages on it, not on this machine's. */
  async _syncClock() {
    const before = Date.now();
    try {
      const ack = await this.signaling.call("ping");
      const midway = (before + Date.now()) / 2000;
      if (typeof ack.time === "number") this.clockOffsetS = ack.time - midway;
    } catch (err) {
      console.info("mayday: no server time; message ages use this machine's clock", err);
    }
  }

  _say(text, kind = "") {
    this.noteKind = kind;
    if (this.note.textContent !== text) this.note.textContent = text;
  }
}
