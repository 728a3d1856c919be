// The ops dashboard's "Messages and ratings": how many messages users left wait for a
// reply and how old the oldest is (`GET /api/messages?state=open`), and the users'
// scores of the recent requests the dashboard lists (`ops.update` `recent`,
// `rating_score`).
//
// The server pushes nothing about messages, so the list is fetched at sign-in (every
// `hello`) and every 30 s; the oldest one's age is counted on between fetches, on the
// server's clock (ops.js passes it in).

import { fetchOpenMessages, formatLength } from "./inbox.js";

export const MESSAGES_REFRESH_MS = 30_000;
// The most the server lists at once: beyond it the count reads "1000+".
const LISTED = 1000;

export class OpsFeedback {
  /**
   * @param {Record<string, HTMLElement>} ui the page's elements, by name
   * @param {() => number} serverNow the server's clock now, epoch seconds
   * @param {() => string | null} token the page's token as of now (it may be renewed)
   */
  constructor(ui, serverNow, token) {
    this.ui = ui;
    this.serverNow = serverNow;
    this.token = token;
    this.open = null; // the number of open messages, null until a fetch answered
    this.oldestAt = null; // left_at of the oldest open message
    this.asked = 0; // the latest fetch: an older answer that comes after it is void
    this.poll = null;
    setInterval(() => this.tick(), 1000);
  }

  /** Signed in: the messages now, then every MESSAGES_REFRESH_MS. */
  start() {
    this.refresh();
    clearInterval(this.poll);
    this.poll = setInterval(() => this.refresh(), MESSAGES_REFRESH_MS);
  }

  async refresh() {
    const token = this.token();
    if (!token) return;
    const asked = ++this.asked;
    let body;
    try {
      body = await fetchOpenMessages(token, LISTED);
    } catch (err) {
      if (asked !== this.asked) return;
      console.warn("mayday: open messages not loaded", err);
      this.ui.messagesNote.textContent = `Could not load the messages: ${err.message}.`;
      return;
    }
    if (asked !== this.asked) return;
    this.open = body.count;
    this.oldestAt = body.messages.length ? body.messages[0].left_at : null;
    this.ui.messagesOpen.textContent = body.count >= LISTED ? `${LISTED}+` : String(body.count);
    this.ui.messagesNote.textContent = "left when nobody could answer";
    this.tick();
  }

  /** The oldest message grows older by itself. */
  tick() {
    if (this.open === null) return;
    const text = this.oldestAt === null ? "–" : formatLength(this.serverNow() - this.oldestAt);
    if (this.ui.messagesOldest.textContent !== text) this.ui.messagesOldest.textContent = text;
    this.ui.messagesOldestNote.textContent =
      this.oldestAt === null ? "no message waits for a reply" : "waiting for a reply";
  }

  /** The average score and the number of ratings among `recent` (ops.update). */
  showRatings(recent) {
    const calls = recent.filter((r) => r.advisor_name !== null || r.rating_score !== null);
    const scores = recent.map((r) => r.rating_score).filter((s) => typeof s === "number");
    const ui = this.ui;
    ui.ratingsCount.textContent = String(scores.length);
    ui.ratingsCountNote.textContent = `of ${calls.length} ${calls.length === 1 ? "call" : "calls"} in the recent requests`;
    if (!scores.length) {
      ui.ratingsAverage.textContent = "–";
      ui.ratingsAverageNote.textContent = "no rating among the recent requests";
      return;
    }
    const average = scores.reduce((a, b) => a + b, 0) / scores.length;
    ui.ratingsAverage.textContent = `${average.toFixed(1)} / 5`;
    ui.ratingsAverageNote.textContent = "recent requests (last hour)";
  }
}
