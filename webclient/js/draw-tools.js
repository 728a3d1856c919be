// The console's drawing tools over the user's screen video: pen, arrow, box,
// highlight, laser, undo, clear, and "tap" for an advisor the user let in.
//
// Everything is sent in coordinates normalised to the video frame as shown (the
// video keeps its aspect inside its element: `object-fit: contain`). A pen
// stroke goes out as stroke.begin, then its new points batched about every 33 ms
// (stroke.points with a per-stroke stroke_seq), then stroke.end; laser moves at
// most every 33 ms; they are volatile and the server may drop stale ones.

import { Drawing } from "./annotations.js";

const BATCH_MS = 33;
const MAX_BATCH = 64; // points in one frame
const MAX_STROKE = 1000; // points in one stroke; a longer line goes on as a new stroke
const TOOLS = {
  pen: { color: "#ff3b30", width: 0.006 },
  arrow: { color: "#ff3b30", width: 0.005 },
  box: { color: "#0a84ff", width: 0.004 },
  highlight: { color: "#ffcc00", width: 0.004 },
};
const SHAPES = new Set(["arrow", "box", "highlight"]);
const MIN_SHAPE = 0.01;

export class DrawTools {
  /**
   * @param {object} opts
   * @param {HTMLCanvasElement} opts.layer the drawing surface laid over the video
   * @param {HTMLVideoElement} opts.video the user's screen
   * @param {Record<string, HTMLButtonElement>} opts.buttons tool name -> its button
   * @param {import("./signaling.js").Signaling} opts.signaling
   * @param {(text: string) => void} opts.onNote a refusal or a hint to show the advisor
   */
  constructor({ layer, video, buttons, signaling, onNote }) {
    this.layer = layer;
    this.video = video;
    this.buttons = buttons;
    this.signaling = signaling;
    this.onNote = onNote;
    this.sessionId = null;
    this.tool = "pen";
    this.enabled = false;
    this.drawing = new Drawing(layer, () => this.frameRect());
    this.mine = []; // stroke ids, oldest first, for undo
    this.stroke = null; // {id, seq, count, pending: []}
    this.shapeStart = null;
    this.lastLaser = 0;
    this.lastScroll = 0;
    this.nextId = 1;
    this.flusher = setInterval(() => this._flush(), BATCH_MS);

    for (const [name, button] of Object.entries(buttons)) {
      button.addEventListener("click", () => this._button(name));
    }
    layer.addEventListener("pointerdown", (e) => this._down(e));
    layer.addEventListener("pointermove", (e) => this._move(e));
    layer.addEventListener("pointerup", (e) => this._up(e));
    layer.addEventListener("pointercancel", (e) => this._up(e));
    layer.addEventListener("pointerleave", () => this._leave());
    layer.addEventListener("wheel", (e) => this._wheel(e), { passive: false });
    new ResizeObserver(() => this._fit()).observe(layer);
    video.addEventListener("resize", () => this.drawing.paint());
    this.select("pen");
    this.setEnabled(false);
  }

  /** A call began (or ended, with null): start from an empty drawing. */
  setSession(sessionId) {
    this._endStroke();
    this.sessionId = sessionId;
    this.mine = [];
    this.drawing.reset();
  }

  /** Drawing and control are possible only in a call whose screen is shared. */
  setEnabled(enabled) {
    this.enabled = enabled;
    this.layer.dataset.tool = enabled ? this.tool : "none";
    for (const button of Object.values(this.buttons)) button.disabled = !enabled;
  }

  select(tool) {
    this.tool = tool;
    this.layer.dataset.tool = this.enabled ? tool : "none";
    for (const [name, button] of Object.entries(this.buttons)) {
      if (!["undo", "clear"].includes(name)) button.setAttribute("aria-pressed", String(name === tool));
    }
  }

  /** The state a snapshot gives back (after the console reconnected). */
  load(strokes) {
    this.drawing.load(strokes);
    this.mine = strokes.map((s) => s.stroke_id);
  }

  /** Where the video's picture lies on the layer, in layer pixels. */
  frameRect() {
    const W = this.layer.width;
    const H = this.layer.height;
    const vw = this.video.videoWidth || 16;
    const vh = this.video.videoHeight || 10;
    const scale = Math.min(W / vw, H / vh);
    const w = vw * scale;
    const h = vh * scale;
    return { x: (W - w) / 2, y: (H - h) / 2, w, h };
  }

  _fit() {
    this.layer.width = Math.max(1, Math.round(this.layer.clientWidth));
    this.layer.height = Math.max(1, Math.round(this.layer.clientHeight));
    this.drawing.paint();
  }

  /** The pointer in frame coordinates, or null outside the picture. */
  _point(event) {
    const box = this.layer.getBoundingClientRect();
    const r = this.frameRect();
    const x = ((event.clientX - box.left) * this.layer.width) / box.width;
    const y = ((event.clientY - box.top) * this.layer.height) / box.height;
    const nx = (x - r.x) / r.w;
    const ny = (y - r.y) / r.h;
    if (nx < 0 || nx > 1 || ny < 0 || ny > 1) return null;
    return [round(nx), round(ny)];
  }

  _button(name) {
    if (name === "undo") this._undo();
    else if (name === "clear") this._clear();
    else this.select(name);
  }

  // ------------------------------------------------------------ pointer

  _down(event) {
    if (!this.enabled || !this.sessionId) return;
    const point = this._point(event);
    if (!point) return;
    this.layer.setPointerCapture(event.pointerId);
    if (this.tool === "pen") this._beginStroke(point);
    else if (SHAPES.has(this.tool)) this.shapeStart = point;
    else if (this.tool === "tap") this._input({ action: "tap", point });
  }

  _move(event) {
    if (!this.enabled || !this.sessionId) return;
    const point = this._point(event);
    if (this.tool === "laser") {
      this._laser(point);
      return;
    }
    if (!point) return;
    if (this.stroke && this.stroke.count + this.stroke.pending.length >= MAX_STROKE) {
      // A very long line goes on as a new stroke from here.
      this._endStroke();
      this._beginStroke(point);
    } else if (this.stroke) {
      this.stroke.pending.push(point);
      this.drawing.apply({ kind: "stroke.points", stroke_id: this.stroke.id, points: [point] });
    } else if (this.shapeStart) {
      this.drawing.setPreview(this._shape(this.shapeStart, point));
    }
  }

  _up(event) {
    if (this.stroke) this._endStroke();
    if (this.shapeStart) {
      const end = this._point(event) ?? this.shapeStart;
      const shape = this._shape(this.shapeStart, end);
      this.shapeStart = null;
      this.drawing.setPreview(null);
      const [[x0, y0], [x1, y1]] = shape.points;
      if (Math.abs(x1 - x0) + Math.abs(y1 - y0) >= MIN_SHAPE) this._sendShape(shape);
    }
  }

  _leave() {
    if (this.tool === "laser" && this.enabled && this.sessionId) this._laser(null);
  }

  _wheel(event) {
    if (this.tool !== "tap" || !this.enabled || !this.sessionId) return;
    event.preventDefault();
    const point = this._point(event);
    const now = performance.now();
    if (!point || now - this.lastScroll < 100) return;
    this.lastScroll = now;
    const dy = Math.max(-1, Math.min(1, event.deltaY / this.frameRect().h));
    this._input({ action: "scroll", point, delta: [0, round(dy)] });
  }

  // ------------------------------------------------------------ strokes

  _beginStroke(point) {
    const id = `s${Date.now().toString(36)}-${this.nextId++}`;
    const { color, width } = TOOLS.pen;
    this.stroke = { id, seq: 0, count: 1, pending: [] };
    const msg = { kind: "stroke.begin", stroke_id: id, color, width, points: [point] };
    this.drawing.apply(msg);
    this.mine.push(id);
    this._call(msg);
  }

  /** Send the points gathered since the last batch (called every 33 ms). */
  _flush() {
    const stroke = this.stroke;
    if (!stroke || stroke.pending.length === 0 || !this.sessionId) return;
    while (stroke.pending.length) {
      const points = stroke.pending.splice(0, MAX_BATCH);
      stroke.seq += 1;
      stroke.count += points.length;
      this.signaling.send("annotation", {
        session_id: this.sessionId,
        kind: "stroke.points",
        stroke_id: stroke.id,
        stroke_seq: stroke.seq,
        points,
      });
    }
  }

  _endStroke() {
    if (!this.stroke) return;
    this._flush();
    const msg = { kind: "stroke.end", stroke_id: this.stroke.id };
    this.stroke = null;
    this.drawing.apply(msg);
    if (this.sessionId) this._call(msg);
  }

  _shape(start, end) {
    const { color, width } = TOOLS[this.tool];
    return { kind: "shape", shape: this.tool, color, width, points: [start, end], ended: true };
  }

  _sendShape(shape) {
    const id = `s${Date.now().toString(36)}-${this.nextId++}`;
    const msg = { ...shape, stroke_id: id };
    delete msg.ended;
    this.drawing.apply(msg);
    this.mine.push(id);
    this._call(msg);
  }

  _undo() {
    while (this.mine.length) {
      const id = this.mine.pop();
      if (!this.drawing.strokes.has(id)) continue;
      const msg = { kind: "undo", stroke_id: id };
      this.drawing.apply(msg);
      this._call(msg);
      return;
    }
  }

  _clear() {
    this.mine = [];
    this.drawing.apply({ kind: "clear" });
    this._call({ kind: "clear" });
  }

  _laser(point) {
    const now = performance.now();
    if (point && now - this.lastLaser < BATCH_MS) return;
    this.lastLaser = now;
    this.drawing.apply({ kind: "laser", point });
    this.signaling.send("annotation", { session_id: this.sessionId, kind: "laser", point });
  }

  // ------------------------------------------------------------ sending

  /** A reliable event: sent with an id, so that a refusal is shown to the advisor. */
  _call(msg) {
    this.signaling
      .call("annotation", { session_id: this.sessionId, ...msg })
      .catch((err) => this.onNote(`Not drawn: ${err.message}.`));
  }

  _input(fields) {
    this.signaling
      .call("control.input", { session_id: this.sessionId, ...fields })
      .then(() => this.onNote(fields.action === "tap" ? "Tapped." : "Scrolled."))
      .catch((err) => this.onNote(`Tap refused: ${err.message}.`));
  }
}

function round(v) {
  return Math.round(v * 10000) / 10000;
}
