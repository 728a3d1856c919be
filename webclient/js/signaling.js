// The Mayday WebSocket, shared by the tablet page and the advisor console.
//
// It connects with the page's token, numbers the frames it sends (`id`) so
// that `call()` can wait for the server's `ack` or `error`, and hands every
// other frame to the page's single `onMessage`, where the page's one
// `switch (msg.type)` decides what it means.
//
// The link keeps itself (docs/protocol.md, "Resuming"): a socket that drops is
// reopened after 0.25, 0.5, 1, 2, 4, then every 8 seconds, each delay times a
// random factor from 0.5 to 1.5 (a stopping server's `server.draining` says
// when instead), with `?resume=` and the last `seq` received, so the server
// takes up the old socket's frames and sends again what was missed; frames
// already had are dropped. Frames and calls the page sends while the link is
// down wait and go out once it is back (calls not answered on the old socket
// go out again). A page that is loaded again (a reload) resumes with the token
// it kept in this tab's storage and asks for the current state instead of a
// replay. A refused token (4401), a socket that another one resumed (4409) or
// one too many (4429) is not retried. The page hears of all of it through
// `onStatus`.

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
const CALL_TIMEOUT_MS = 10000;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_REPLACED = 4409;
const CLOSE_TOO_MANY = 4429;
const OUTBOX_LIMIT = 256;
// `last_seq` of a page that lost its memory (a reload): not a number, so the server
// sends the current state instead of a replay.
const RESYNC = "-1";

/** What a page says while the server cannot be reached. */
export function unreachableText({ retryInMs }) {
  return `Help service unreachable. Retrying in ${Math.ceil(retryInMs / 1000)} s…`;
}

/** A refusal from the server: `code` is one of the protocol's stable error words. */
export class ServerError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ServerError";
    this.code = code;
  }
}

export class Signaling {
  /**
   * @param {object} handlers
   * @param {(msg: object) => void} handlers.onMessage every server frame but acks and
   *   answered errors
   * @param {(status: string, detail: object) => void} handlers.onStatus
   *   "connecting" | "open" | "closed" (detail.retryInMs: null when stopped;
   *   detail.resuming: the next socket resumes this one) | "refused" (detail.message:
   *   why the server refused the token; no retry) | "replaced" (another socket of this
   *   identity took over, or too many are open; no retry)
   * @param {string} [handlers.storageKey] where this tab keeps its resume token
   */
  constructor({ onMessage, onStatus, storageKey = "" }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.storageKey = storageKey;
    this.token = "";
    this.refusal = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, text, sentOn}
    this.outbox = [];
    this.attempt = 0;
    this.lastSeq = 0;
    this.resumeToken = storedToken(storageKey);
    this.resync = this.resumeToken !== ""; // a page loaded again knows nothing
    this.replayLeft = 0;
    this.drainHintMs = null;
    this.helloSeen = false;
    this.everOpened = false;
    this.stopped = false;
  }

  /** A socket is open and its hello, and what it was sent again, are in. */
  get isOpen() {
    return (
      this.ws !== null &&
      this.ws.readyState === WebSocket.OPEN &&
      this.helloSeen &&
      this.replayLeft === 0
    );
  }

  /** Connect with `token` (or the last one given), and keep reconnecting until stopped. */
  connect(token = this.token) {
    this.token = token;
    this.stopped = false;
    this.refusal = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    if (this.resumeToken) {
      const last = this.resync ? RESYNC : String(this.lastSeq);
      url += `&resume=${encodeURIComponent(this.resumeToken)}&last_seq=${last}`;
    }
    this.onStatus("connecting", {});
    const ws = new WebSocket(url);
    this.ws = ws;
    this.helloSeen = false;
    ws.onopen = () => {
      this.everOpened = true;
      this.onStatus("open", {});
    };
    ws.onmessage = (event) => this._receive(ws, event.data);
    ws.onclose = (event) => this._closed(ws, event);
  }

  /** Close for good (no reconnect). */
  stop() {
    this.stopped = true;
    this._forgetResume();
    if (this.ws) this.ws.close(1000, "page closed");
  }

  /** Send a frame without waiting for an answer; while the link is down it waits (false
   * when stopped, or when too many wait). */
  send(type, fields = {}) {
    const text = JSON.stringify({ ...fields, type });
    if (this.isOpen) {
      this.ws.send(text);
      return true;
    }
    if (this.stopped || this.outbox.length >= OUTBOX_LIMIT) return false;
    this.outbox.push(text);
    return true;
  }

  /** Send a frame with an `id`; resolves with the `ack`, rejects with a ServerError. */
  call(type, fields = {}) {
    if (this.stopped) {
      return Promise.reject(new ServerError("not_connected", "not connected to the server"));
    }
    const id = this.nextId++;
    const text = JSON.stringify({ ...fields, type, id });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ServerError("timeout", `no answer to "${type}"`));
      }, CALL_TIMEOUT_MS);
      const entry = { resolve, reject, timer, text, sentOn: null };
      this.pending.set(id, entry);
      if (this.isOpen) this._sendCall(entry);
    });
  }

  _sendCall(entry) {
    entry.sentOn = this.ws;
    this.ws.send(entry.text);
  }

  _receive(ws, text) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      console.warn("mayday: frame that is not JSON", err);
      return;
    }
    if (!this.helloSeen) {
      this._first(msg);
      return;
    }
    if (typeof msg.seq === "number") {
      if (msg.seq <= this.lastSeq) return; // had it already (sent again after a resume)
      if (msg.seq !== this.lastSeq + 1) {
        console.info(`mayday: frame seq ${msg.seq} after ${this.lastSeq}`);
      }
      this.lastSeq = msg.seq;
    }
    this._deliver(msg);
    if (this.replayLeft > 0 && --this.replayLeft === 0) this._flush();
  }

  /** The first frame of a socket: its hello, or why it was refused. */
  _first(msg) {
    if (msg.type === "error" && msg.id === undefined) {
      // The close (4401, 4429) follows at once; keep the reason for it.
      this.refusal = msg.message;
      return;
    }
    if (msg.type === "server.draining") {
      this.drainHintMs = msg.reconnect_in_s * 1000; // a stopping node: try again later
      return;
    }
    if (msg.type !== "hello") return;
    this.helloSeen = true;
    this.lastSeq = msg.seq;
    this.resync = false;
    this.replayLeft = msg.resumed ? msg.replayed || 0 : 0;
    this._keepResume(msg.resume_token || "");
    // Served, not merely opened: a socket that opens and drops at once keeps backing off.
    this.attempt = 0;
    if (!msg.resumed) this._dropWaiting();
    this.onMessage(msg);
    if (this.replayLeft === 0) this._flush();
  }

  _deliver(msg) {
    if (msg.type === "server.draining") {
      this.drainHintMs = msg.reconnect_in_s * 1000;
      return;
    }
    const waiting = typeof msg.id === "number" ? this.pending.get(msg.id) : undefined;
    if (waiting && (msg.type === "ack" || msg.type === "error")) {
      this.pending.delete(msg.id);
      clearTimeout(waiting.timer);
      if (msg.type === "ack") waiting.resolve(msg);
      else waiting.reject(new ServerError(msg.code, msg.message));
      return;
    }
    this.onMessage(msg);
  }

  /** What waited for the link goes out: calls not yet sent on this socket, then frames. */
  _flush() {
    for (const entry of this.pending.values()) {
      if (entry.sentOn !== this.ws) this._sendCall(entry);
    }
    for (const text of this.outbox.splice(0)) this.ws.send(text);
  }

  /** A new stream: what was meant for the old one is void (the server sends the state). */
  _dropWaiting() {
    for (const [id, entry] of this.pending) {
      if (entry.sentOn === null) continue; // made for this socket: it goes out
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(new ServerError("not_connected", "connection to the server lost"));
    }
    this.outbox = [];
  }

  _keepResume(token) {
    this.resumeToken = token;
    if (!this.storageKey) return;
    try {
      sessionStorage.setItem(this.storageKey, token);
    } catch {
      // no storage: a reload starts afresh
    }
  }

  _forgetResume() {
    this.resumeToken = "";
    if (!this.storageKey) return;
    try {
      sessionStorage.removeItem(this.storageKey);
    } catch {
      // nothing kept
    }
  }

  _closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.helloSeen = false;
    if (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_REPLACED || event.code === CLOSE_TOO_MANY) {
      this._stopFor(event);
      return;
    }
    if (this.stopped) {
      this.onStatus("closed", { code: event.code, retryInMs: null, everOpened: this.everOpened });
      return;
    }
    const retryInMs = this._nextDelay();
    const resuming = this.resumeToken !== "";
    this.onStatus("closed", { code: event.code, retryInMs, resuming, everOpened: this.everOpened });
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, retryInMs);
  }

  /** The server said not to come back on this token or socket. */
  _stopFor(event) {
    this.stopped = true;
    this._forgetResume();
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new ServerError("not_connected", "connection to the server closed"));
    }
    this.pending.clear();
    this.outbox = [];
    if (event.code === CLOSE_UNAUTHORIZED) {
      this.onStatus("refused", { message: this.refusal || event.reason || "token refused" });
    } else {
      this.onStatus("replaced", { code: event.code });
    }
  }

  /** The back-off, with jitter so that many pages cut off together do not all come
   * back in the same instant; a stopping server's hint instead when it gave one. */
  _nextDelay() {
    const hint = this.drainHintMs;
    this.drainHintMs = null;
    if (hint !== null) return Math.round(hint + Math.random() * 250);
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    return Math.round(base * (0.5 + Math.random()));
  }
}

function storedToken(key) {
  if (!key) return "";
  try {
    return sessionStorage.getItem(key) || "";
  } catch {
    return "";
  }
}
