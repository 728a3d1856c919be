// A stand-in for the tablet's screen: a small settings app drawn on a canvas,
// animated so that the advisor sees live video of it.

const ROWS = [
  { label: "Wi-Fi", detail: "Home-5G", toggle: true },
  { label: "Bluetooth", detail: "Off", toggle: false },
  { label: "Brightness", slider: true },
  { label: "Notifications", detail: "3 apps" },
  { label: "Software update", detail: "Checking", spinner: true },
  { label: "Battery", detail: "80 %" },
  { label: "About this tablet", detail: "Mayday demo" },
];
const SHOWN_ROWS = 5;
const TOP = 80;
const TAP_SHOWN_S = 0.8;

/**
 * Draw the demo app on `canvas` about `fps` times a second, until `stop()`.
 * A timer rather than requestAnimationFrame: rAF stops in a hidden tab, and
 * the advisor should go on seeing the screen. A tap flips a switch and
 * leaves a ripple, so the advisor sees where the user touched. `tapAt` and
 * `scrollBy` do the same for an advisor in control, in coordinates
 * normalised to the screen (0..1).
 */
export function runDemoScreen(canvas, fps = 15) {
  const ctx = canvas.getContext("2d");
  const started = performance.now();
  const app = { rows: ROWS.map((row) => ({ ...row })), taps: [], scroll: 0 };
  const now = () => (performance.now() - started) / 1000;
  const draw = () => paint(ctx, canvas.width, canvas.height, now(), app);
  const onTap = (event) => tap(app, canvasPoint(canvas, event), canvas.height, now());
  canvas.addEventListener("pointerdown", onTap);
  draw();
  const timer = setInterval(draw, 1000 / fps);
  return {
    stop: () => {
      clearInterval(timer);
      canvas.removeEventListener("pointerdown", onTap);
    },
    tapAt: (x, y) => {
      tap(app, { x: x * canvas.width, y: y * canvas.height }, canvas.height, now());
      draw();
    },
    scrollBy: (dy) => {
      app.scroll = Math.max(0, Math.min(maxScroll(canvas.height), app.scroll + dy * canvas.height));
      draw();
    },
  };
}

/** Where a pointer event fell, in canvas pixels (the canvas is scaled by CSS, inside a border). */
function canvasPoint(canvas, event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth,
    y: ((event.clientY - box.top - canvas.clientTop) * canvas.height) / canvas.clientHeight,
  };
}

function tap(app, point, h, t) {
  app.taps = app.taps.filter((old) => t - old.t < TAP_SHOWN_S);
  app.taps.push({ ...point, t });
  const row = app.rows[Math.floor((point.y + app.scroll - TOP) / rowHeight(h))];
  if (row && row.toggle !== undefined) row.toggle = !row.toggle;
  if (row && row.label === "Bluetooth") row.detail = row.toggle ? "On" : "Off";
}

function rowHeight(h) {
  return Math.min(56, (h - TOP - 12) / SHOWN_ROWS);
}

/** How far the list scrolls: the rows below the fold come into view. */
function maxScroll(h) {
  return Math.max(0, rowHeight(h) * ROWS.length - (h - TOP - 12));
}

function paint(ctx, w, h, t, app) {
  ctx.fillStyle = "#f2f2f7";
  ctx.fillRect(0, 0, w, h);

  // Status bar and title.
  ctx.fillStyle = "#1c1c1e";
  ctx.font = "14px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillText(new Date().toLocaleTimeString(), 16, 14);
  ctx.textAlign = "right";
  ctx.fillText(`${Math.round(80 - (t / 30) % 20)}%`, w - 16, 14);
  ctx.textAlign = "left";
  ctx.font = "bold 26px system-ui, sans-serif";
  ctx.fillText("Settings", 16, 52);

  const rowH = rowHeight(h);
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, TOP, w, h - TOP);
  ctx.clip();
  ctx.translate(0, -app.scroll);
  ctx.fillStyle = "#ffffff";
  roundRect(ctx, 12, TOP, w - 24, rowH * app.rows.length, 12);
  ctx.fill();
  app.rows.forEach((row, i) => paintRow(ctx, w, TOP + i * rowH, rowH, row, i, t));
  ctx.restore();
  for (const touch of app.taps) drawTap(ctx, touch, t - touch.t);
}

function paintRow(ctx, w, y, rowH, row, i, t) {
  const mid = y + rowH / 2;
  if (i > 0) {
    ctx.fillStyle = "#d1d1d6";
    ctx.fillRect(28, y, w - 56, 1);
  }
  ctx.fillStyle = ["#0a84ff", "#5e5ce6", "#ff9f0a", "#ff375f", "#30d158"][i % 5];
  roundRect(ctx, 28, mid - 13, 26, 26, 6);
  ctx.fill();
  ctx.fillStyle = "#1c1c1e";
  ctx.font = "18px system-ui, sans-serif";
  ctx.fillText(row.label, 66, mid);
  const right = w - 32;
  if (row.toggle !== undefined) drawToggle(ctx, right - 50, mid - 15, row.toggle);
  else if (row.slider) drawSlider(ctx, right - 220, right, mid, 0.5 + 0.4 * Math.sin(t));
  else drawDetail(ctx, right, mid, row.detail, row.spinner ? t : null);
}

/** A ripple that grows and fades where the user touched. */
function drawTap(ctx, { x, y }, age) {
  if (age >= TAP_SHOWN_S) return;
  const left = 1 - age / TAP_SHOWN_S;
  ctx.fillStyle = `rgba(10, 132, 255, ${0.35 * left})`;
  ctx.strokeStyle = `rgba(10, 132, 255, ${left})`;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.arc(x, y, 14 + 30 * (1 - left), 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.lineWidth = 1;
}

function drawToggle(ctx, x, y, on) {
  ctx.fillStyle = on ? "#34c759" : "#e5e5ea";
  roundRect(ctx, x, y, 50, 30, 15);
  ctx.fill();
  ctx.fillStyle = "#ffffff";
  ctx.beginPath();
  ctx.arc(on ? x + 35 : x + 15, y + 15, 13, 0, 2 * Math.PI);
  ctx.fill();
}

function drawSlider(ctx, x0, x1, y, value) {
  const x = x0 + (x1 - x0) * value;
  ctx.fillStyle = "#0a84ff";
  ctx.fillRect(x0, y - 2, x - x0, 4);
  ctx.fillStyle = "#d1d1d6";
  ctx.fillRect(x, y - 2, x1 - x, 4);
  ctx.fillStyle = "#ffffff";
  ctx.strokeStyle = "#c7c7cc";
  ctx.beginPath();
  ctx.arc(x, y, 11, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
}

function drawDetail(ctx, right, y, text, spin) {
  ctx.fillStyle = "#8e8e93";
  ctx.font = "16px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.fillText(`${text} ›`, right, y);
  ctx.textAlign = "left";
  if (spin !== null) {
    const x = right - ctx.measureText(`${text} ›`).width - 18;
    ctx.strokeStyle = "#8e8e93";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, spin * 4, spin * 4 + 1.5 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
}
