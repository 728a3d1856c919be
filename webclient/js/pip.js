// The advisor's video over the tablet's screen (picture in picture): the user
// moves it to any corner (the Move button, or dragging it) and shrinks it, and
// it never covers the advisor's drawing. Whenever the drawing changes it goes
// to the corner the user chose if that corner is clear, else to another clear
// corner, else smaller, and when no corner is clear at all it leaves the
// picture for a dock under the screen; when the drawing is cleared it goes back.

export const CORNERS = ["bottom-right", "bottom-left", "top-left", "top-right"];
const MARGIN_PX = 6; // space kept between the video and a stroke
const SETTLE_MS = 40;

export class Pip {
  /**
   * @param {object} o
   * @param {HTMLElement} o.box the picture-in-picture element (video and its buttons)
   * @param {HTMLElement} o.frame where it sits over the screen (its positioned parent)
   * @param {HTMLElement} o.dock where it goes when no corner is clear
   * @param {HTMLCanvasElement} o.screen the shared screen; strokes are normalised to it
   * @param {HTMLButtonElement} o.move
   * @param {HTMLButtonElement} o.size
   * @param {() => number[][]} o.strokeBoxes the drawing's [x0, y0, x1, y1] boxes (0..1)
   */
  constructor(o) {
    Object.assign(this, o);
    this.chosen = { corner: "bottom-right", size: "large" };
    this.pending = null;
    this.drag = null;
    o.move.addEventListener("click", () => this.choose({ corner: nextCorner(this.chosen.corner) }));
    o.size.addEventListener("click", () => {
      this.choose({ size: this.chosen.size === "large" ? "small" : "large" });
    });
    o.box.addEventListener("pointerdown", (e) => this._dragStart(e));
    o.box.addEventListener("pointermove", (e) => this._dragMove(e));
    o.box.addEventListener("pointerup", (e) => this._dragEnd(e));
    o.box.addEventListener("pointercancel", () => this._dragCancel());
    new ResizeObserver(() => this.update()).observe(o.screen);
    this._apply(this.chosen);
  }

  /** The user moved or resized the video: that is where it goes whenever it can. */
  choose(change) {
    this.chosen = { ...this.chosen, ...change };
    this.size.textContent = this.chosen.size === "large" ? "Smaller" : "Larger";
    this.size.setAttribute("aria-pressed", String(this.chosen.size === "small"));
    this.place();
  }

  /** The drawing changed: place the video again, soon (many strokes arrive in a burst). */
  update() {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.place();
    }, SETTLE_MS);
  }

  /** Where the video goes now: the first clear spot, in the order the user would want. */
  place() {
    const boxes = this._strokeRects();
    for (const spot of this._candidates()) {
      this._apply(spot);
      if (this.box.hidden || !boxes.some((r) => overlaps(r, this.box.getBoundingClientRect()))) {
        return;
      }
    }
    this._apply({ corner: "docked", size: "small" });
  }

  _candidates() {
    const start = CORNERS.indexOf(this.chosen.corner);
    const corners = CORNERS.map((_, i) => CORNERS[(start + i) % CORNERS.length]);
    const sizes = this.chosen.size === "large" ? ["large", "small"] : ["small"];
    return sizes.flatMap((size) => corners.map((corner) => ({ corner, size })));
  }

  _apply({ corner, size }) {
    const docked = corner === "docked";
    const parent = docked ? this.dock : this.frame;
    if (this.box.parentElement !== parent) parent.prepend(this.box);
    this.box.dataset.corner = corner;
    this.box.dataset.size = size;
    this.dock.hidden = !docked || this.box.hidden;
  }

  /** The drawing's boxes in page pixels, on the screen's picture (inside its border). */
  _strokeRects() {
    const c = this.screen;
    const r = c.getBoundingClientRect();
    const left = r.left + c.clientLeft;
    const top = r.top + c.clientTop;
    const w = c.clientWidth;
    const h = c.clientHeight;
    return this.strokeBoxes().map(([x0, y0, x1, y1]) => ({
      left: left + x0 * w - MARGIN_PX,
      top: top + y0 * h - MARGIN_PX,
      right: left + x1 * w + MARGIN_PX,
      bottom: top + y1 * h + MARGIN_PX,
    }));
  }

  // ---------------------------------------------------------- dragging to a corner

  _dragStart(event) {
    if (event.target.closest("button") || this.box.dataset.corner === "docked") return;
    this.box.setPointerCapture(event.pointerId);
    this.drag = { x: event.clientX, y: event.clientY, moved: false };
  }

  _dragMove(event) {
    if (!this.drag) return;
    const dx = event.clientX - this.drag.x;
    const dy = event.clientY - this.drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 8) this.drag.moved = true;
    this.box.style.translate = `${dx}px ${dy}px`;
  }

  _dragEnd(event) {
    if (!this.drag) return;
    const moved = this.drag.moved;
    this._dragCancel();
    if (!moved) return;
    const f = this.frame.getBoundingClientRect();
    const right = event.clientX > f.left + f.width / 2;
    const bottom = event.clientY > f.top + f.height / 2;
    this.choose({ corner: `${bottom ? "bottom" : "top"}-${right ? "right" : "left"}` });
  }

  _dragCancel() {
    this.drag = null;
    this.box.style.translate = "";
  }
}

function nextCorner(corner) {
  return CORNERS[(CORNERS.indexOf(corner) + 1) % CORNERS.length];
}

function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}
