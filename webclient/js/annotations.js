// The advisor's drawing on the shared screen, kept and painted on a canvas: the
// tablet's overlay paints what arrives, the console paints what its advisor draws.
//
// Coordinates are normalised to the shared video frame (0..1 on both axes); the
// canvas maps them to its own pixels, so the two screens may differ in size and
// shape. Freehand strokes are smoothed by perfect-freehand (from npm, served from
// webclient/node_modules); shapes are arrows, boxes and translucent highlights;
// the laser is a dot that fades when it stops moving.

import { getStroke } from "../node_modules/perfect-freehand/dist/esm/index.mjs";

export const LASER_FADE_MS = 1500;
const LASER_COLOUR = [255, 45, 85];
const HIGHLIGHT_ALPHA = 0.3;

export class Drawing {
  /**
   * @param {HTMLCanvasElement} canvas painted on
   * @param {() => {x: number, y: number, w: number, h: number}} frameRect where the shared
   *   frame lies on the canvas, in canvas pixels (the whole canvas by default)
   */
  constructor(canvas, frameRect = null) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.frameRect = frameRect ?? (() => ({ x: 0, y: 0, w: canvas.width, h: canvas.height }));
    this.strokes = new Map(); // stroke_id -> {kind, shape, color, width, points, ended}
    this.preview = null; // a shape being dragged out on the console, not yet sent
    this.laser = null; // {point, at}
    this.fading = null;
  }

  /** Apply one `annotation` frame (or the console's own event, in the same form). */
  apply(msg) {
    switch (msg.kind) {
      case "stroke.begin":
        this.strokes.set(msg.stroke_id, {
          kind: "stroke",
          color: msg.color,
          width: msg.width,
          points: [...(msg.points || [])],
          ended: false,
        });
        break;
      case "stroke.points":
        this.strokes.get(msg.stroke_id)?.points.push(...msg.points);
        break;
      case "stroke.end": {
        const stroke = this.strokes.get(msg.stroke_id);
        if (stroke) stroke.ended = true;
        break;
      }
      case "shape":
        this.strokes.set(msg.stroke_id, {
          kind: "shape",
          shape: msg.shape,
          color: msg.color,
          width: msg.width,
          points: msg.points,
          ended: true,
        });
        break;
      case "laser":
        this.laser = msg.point ? { point: msg.point, at: performance.now() } : null;
        this._animateLaser();
        break;
      case "undo":
        this.strokes.delete(msg.stroke_id);
        break;
      case "clear":
        this.strokes.clear();
        break;
      default:
        console.warn(`mayday: unknown annotation kind "${msg.kind}"`, msg);
    }
    this.paint();
  }

  /** Replace everything with an `annotation.snapshot`'s strokes. */
  load(strokes) {
    this.strokes.clear();
    for (const s of strokes) {
      this.strokes.set(s.stroke_id, {
        kind: s.kind,
        shape: s.shape,
        color: s.color,
        width: s.width,
        points: s.points,
        ended: s.kind === "shape" || s.ended,
      });
    }
    this.paint();
  }

  /**
   * Where the drawing lies: one [x0, y0, x1, y1] box (normalised to the frame) per stroke
   * and shape, padded for its line width and an arrow's head. The laser is left out: it
   * fades by itself.
   */
  bounds() {
    const boxes = [];
    for (const stroke of this.strokes.values()) {
      if (!stroke.points.length) continue;
      const xs = stroke.points.map((p) => p[0]);
      const ys = stroke.points.map((p) => p[1]);
      const pad = stroke.width * 2 + (stroke.shape === "arrow" ? 0.03 : 0.005);
      boxes.push([
        Math.min(...xs) - pad,
        Math.min(...ys) - pad,
        Math.max(...xs) + pad,
        Math.max(...ys) + pad,
      ]);
    }
    return boxes;
  }

  reset() {
    this.strokes.clear();
    this.laser = null;
    this.preview = null;
    this.paint();
  }

  setPreview(shape) {
    this.preview = shape;
    this.paint();
  }

  paint() {
    const { ctx, canvas } = this;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const rect = this.frameRect();
    for (const stroke of this.strokes.values()) this._paintStroke(stroke, rect);
    if (this.preview) this._paintStroke(this.preview, rect);
    if (this.laser) this._paintLaser(rect);
  }

  _paintStroke(stroke, rect) {
    const { ctx } = this;
    const px = ([x, y]) => [rect.x + x * rect.w, rect.y + y * rect.h];
    const size = Math.max(1, stroke.width * rect.w);
    if (stroke.kind === "stroke") {
      const outline = getStroke(stroke.points.map(px), {
        size,
        thinning: 0.4,
        smoothing: 0.5,
        streamline: 0.4,
        simulatePressure: true,
        last: stroke.ended,
      });
      fillOutline(ctx, outline, stroke.color);
      return;
    }
    const [[x0, y0], [x1, y1]] = stroke.points.map(px);
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = stroke.color;
    ctx.lineWidth = size;
    ctx.lineCap = ctx.lineJoin = "round";
    if (stroke.shape === "box") {
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    } else if (stroke.shape === "highlight") {
      ctx.globalAlpha = HIGHLIGHT_ALPHA;
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    } else {
      drawArrow(ctx, x0, y0, x1, y1, size);
    }
    ctx.restore();
  }

  _paintLaser(rect) {
    const age = performance.now() - this.laser.at;
    if (age >= LASER_FADE_MS) {
      this.laser = null;
      return;
    }
    const [x, y] = this.laser.point;
    const alpha = 1 - age / LASER_FADE_MS;
    const radius = Math.max(6, rect.w * 0.012);
    const { ctx } = this;
    ctx.save();
    ctx.fillStyle = `rgba(${LASER_COLOUR.join(",")}, ${alpha})`;
    ctx.shadowColor = `rgba(${LASER_COLOUR.join(",")}, ${alpha * 0.8})`;
    ctx.shadowBlur = radius;
    ctx.beginPath();
    ctx.arc(rect.x + x * rect.w, rect.y + y * rect.h, radius, 0, 2 * Math.PI);
    ctx.fill();
    ctx.restore();
  }

  /** Repaint while the laser fades; a timer, since rAF stops in a hidden tab. */
  _animateLaser() {
    if (this.fading) return;
    this.fading = setInterval(() => {
      this.paint();
      if (!this.laser) {
        clearInterval(this.fading);
        this.fading = null;
      }
    }, 50);
  }
}

function fillOutline(ctx, outline, color) {
  if (outline.length === 0) return;
  ctx.save();
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(outline[0][0], outline[0][1]);
  for (const [x, y] of outline.slice(1)) ctx.lineTo(x, y);
  ctx.closePath();
  ctx.fill();
  ctx.restore();
}

function drawArrow(ctx, x0, y0, x1, y1, size) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const head = Math.max(12, size * 4);
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
  ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
  ctx.closePath();
  ctx.fill();
}
