// The Mayday WebSocket, shared by the tablet page and the advisor console.
//
// It connects with the page's token, numbers the frames it sends (`id`) so
// that `call()` can wait for the server's `ack` or `error`, and hands every
// other frame to the page's single `onMessage`, where the page's one
// `switch (msg.type)` decides what it means. A lost connection is retried
// with a growing delay; a refused token (close code 4401) is not retried,
// since the same token would be refused again. The page hears of both
// through `onStatus`.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const CALL_TIMEOUT_MS = 10000;
const CLOSE_UNAUTHORIZED = 4401;

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
   *   "connecting" | "open" | "closed" (detail.retryInMs: null when stopped) |
   *   "refused" (detail.message: why the server refused the token; no retry)
   */
  constructor({ onMessage, onStatus }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.token = "";
    this.refusal = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.lastSeq = 0;
    this.everOpened = false;
    this.stopped = false;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Connect with `token` (or the last one given), and keep reconnecting until stopped. */
  connect(token = this.token) {
    this.token = token;
    this.stopped = false;
    this.refusal = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    this.onStatus("connecting", {});
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.lastSeq = 0;
      this.everOpened = true;
      this.onStatus("open", {});
    };
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(ws, event);
  }

  /** Close for good (no reconnect). */
  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000, "page closed");
  }

  /** Send a frame without waiting for an answer; false when the socket is down. */
  send(type, fields = {}) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ ...fields, type }));
    return true;
  }

  /** Send a frame with an `id`; resolves with the `ack`, rejects with a ServerError. */
  call(type, fields = {}) {
    if (!this.isOpen) {
      return Promise.reject(new ServerError("not_connected", "not connected to the server"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ServerError("timeout", `no answer to "${type}"`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  _receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      console.warn("mayday: frame that is not JSON", err);
      return;
    }
    if (typeof msg.seq === "number") {
      if (msg.seq !== this.lastSeq + 1) {
        console.warn(`mayday: frame seq ${msg.seq} after ${this.lastSeq}`);
      }
      this.lastSeq = msg.seq;
    }
    if (msg.type === "error" && msg.code === "unauthorized" && msg.id === undefined) {
      // The close (4401) follows at once; keep the reason for it.
      this.refusal = msg.message;
      return;
    }
    // Served, not merely opened: a socket that opens and drops at once keeps backing off.
    this.attempt = 0;
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

  _closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new ServerError("not_connected", "connection to the server lost"));
    }
    this.pending.clear();
    if (event.code === CLOSE_UNAUTHORIZED) {
      this.stopped = true;
      this.onStatus("refused", { message: this.refusal || event.reason || "token refused" });
      return;
    }
    if (this.stopped) {
      this.onStatus("closed", { code: event.code, retryInMs: null, everOpened: this.everOpened });
      return;
    }
    // Jitter, so that many pages cut off together do not all come back in the same instant.
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const retryInMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.onStatus("closed", { code: event.code, retryInMs, everOpened: this.everOpened });
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, retryInMs);
  }
}
