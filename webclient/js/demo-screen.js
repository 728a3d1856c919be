// A stand-in for the tablet's screen: a small settings app drawn on a canvas,
// animated so that the advisor sees live video of it.

const ROWS = [
  { label: "Wi-Fi", detail: "Home-5G", toggle: true },
  { label: "Bluetooth", detail: "Off", toggle: false },
  { label: "Brightness", slider: true },
  { label: "Notifications", detail: "3 apps" },
  { label: "Software update", detail: "Checking", spinner: true },
];

/**
 * Draw the demo app on `canvas` about `fps` times a second, until `stop()`.
 * A timer rather than requestAnimationFrame: rAF stops in a hidden tab, and
 * the advisor should go on seeing the screen.
 */
export function runDemoScreen(canvas, fps = 15) {
  const ctx = canvas.getContext("2d");
  const started = performance.now();
  const draw = () => paint(ctx, canvas.width, canvas.height, (performance.now() - started) / 1000);
  draw();
  const timer = setInterval(draw, 1000 / fps);
  return { stop: () => clearInterval(timer) };
}

function paint(ctx, w, h, t) {
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

  const top = 80;
  const rowH = Math.min(56, (h - top - 12) / ROWS.length);
  ctx.fillStyle = "#ffffff";
  roundRect(ctx, 12, top, w - 24, rowH * ROWS.length, 12);
  ctx.fill();

  ROWS.forEach((row, i) => {
    const y = top + i * rowH;
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
  });
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
