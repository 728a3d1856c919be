// The ops dashboard's charts: time to advisor (p50 / p90 / p99) against the
// target, and the queue, drawn with uPlot from the last ops.update frames.
//
// The server sends a snapshot of its measures, not a history, so the page
// keeps the last points it was sent. uPlot is loaded on first use: without
// it (webclient/node_modules not installed) the rest of the dashboard works
// and the chart areas say what is missing.

const UPLOT_URL = "../node_modules/uplot/dist/uPlot.esm.js";
const HISTORY_LIMIT = 600;
const HEIGHT = 240;

export const COLOURS = {
  p50: "#34c759",
  p90: "#0a84ff",
  p99: "#af52de",
  target: "#ff3b30",
  waiting: "#ff9500",
  oldest: "#5856d6",
};

/** The last `limit` ops.update frames, reduced to what the charts draw. */
export class History {
  constructor(limit = HISTORY_LIMIT) {
    this.limit = limit;
    this.points = [];
  }

  add(update) {
    const windows = {};
    for (const [name, measures] of Object.entries(update.windows)) {
      const all = measures.all;
      windows[name] = [
        all.time_to_advisor_p50_s,
        all.time_to_advisor_p90_s,
        all.time_to_advisor_p99_s,
      ];
    }
    this.points.push({
      t: update.time,
      target: update.target_s,
      waiting: update.queue.waiting,
      oldest: update.queue.oldest_wait_s,
      windows,
    });
    if (this.points.length > this.limit) this.points.splice(0, this.points.length - this.limit);
  }

  /** uPlot's columns for the latency chart: time, p50, p90, p99, target. */
  latency(windowName) {
    const pick = (i) => this.points.map((p) => p.windows[windowName]?.[i] ?? null);
    return [this.points.map((p) => p.t), pick(0), pick(1), pick(2), this.points.map((p) => p.target)];
  }

  /** uPlot's columns for the queue chart: time, waiting, oldest wait. */
  queue() {
    return [
      this.points.map((p) => p.t),
      this.points.map((p) => p.waiting),
      this.points.map((p) => p.oldest ?? 0),
    ];
  }
}

export class OpsCharts {
  /** @param {{latency: HTMLElement, queue: HTMLElement}} elements the chart containers */
  constructor(elements) {
    this.elements = elements;
    this.latency = null;
    this.queue = null;
    this.ready = null;
  }

  /** Load uPlot and build both charts; resolves false when uPlot is missing. */
  start() {
    this.ready ??= import(UPLOT_URL).then(
      ({ default: uPlot }) => {
        this.latency = new uPlot(latencyOptions(this.width("latency")), [[], [], [], [], []], this.elements.latency);
        this.queue = new uPlot(queueOptions(uPlot, this.width("queue")), [[], [], []], this.elements.queue);
        new ResizeObserver(() => this.resize()).observe(this.elements.latency);
        return true;
      },
      (err) => {
        console.warn("mayday: uPlot did not load (npm ci --prefix webclient); no charts", err);
        for (const el of Object.values(this.elements)) {
          el.textContent = "Charts need uPlot: run `npm ci --prefix webclient` on the server.";
          el.classList.add("missing");
        }
        return false;
      },
    );
    return this.ready;
  }

  width(name) {
    return Math.max(280, Math.floor(this.elements[name].clientWidth));
  }

  resize() {
    for (const name of ["latency", "queue"]) {
      const plot = this[name];
      if (plot && plot.width !== this.width(name)) {
        plot.setSize({ width: this.width(name), height: HEIGHT });
      }
    }
  }

  /** Redraw both charts from `history`, the latency one for window `windowName`. */
  show(history, windowName) {
    if (!this.latency) return;
    this.latency.setData(history.latency(windowName));
    this.queue.setData(history.queue());
  }
}

/** The time axis: the points' span, or the minute up to the last point while they span
 * less than ten seconds (uPlot would stretch a lone point's axis over a thousand days,
 * and a second's worth into milliseconds). */
export function timeRange(u, min, max) {
  const times = u.data[0] ?? [];
  if (times.length < 2 || times.at(-1) - times[0] < 10) {
    const end = times.at(-1) ?? Date.now() / 1000;
    return [end - 60, end + 1];
  }
  return [min, max];
}

function seconds(v) {
  return v === null || v === undefined ? "–" : `${v.toFixed(2)} s`;
}

function latencyOptions(width) {
  const line = (label, stroke, extra = {}) => ({
    label,
    stroke,
    width: 2,
    scale: "s",
    spanGaps: true,
    value: (u, v) => seconds(v),
    ...extra,
  });
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true, range: timeRange },
      // Zero up to a little past the target, or past the slowest line.
      s: { range: (u, min, max) => [0, Math.max(max ?? 0, (u.data[4]?.at(-1) ?? 0) * 1.25) || 1] },
    },
    series: [
      {},
      line("p50", COLOURS.p50),
      line("p90", COLOURS.p90),
      line("p99", COLOURS.p99),
      line("target", COLOURS.target, { dash: [8, 6], points: { show: false } }),
    ],
    axes: [{}, { scale: "s", values: (u, ticks) => ticks.map((t) => `${t} s`), size: 60 }],
  };
}

function queueOptions(uPlot, width) {
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true, range: timeRange },
      n: { range: (u, min, max) => [0, Math.max(4, Math.ceil((max ?? 0) * 1.25))] },
      s: { range: (u, min, max) => [0, Math.max(1, (max ?? 0) * 1.25)] },
    },
    series: [
      {},
      {
        label: "waiting",
        stroke: COLOURS.waiting,
        fill: "rgba(255, 149, 0, 0.15)",
        width: 2,
        scale: "n",
        paths: uPlot.paths.stepped({ align: 1 }),
      },
      {
        label: "oldest wait",
        stroke: COLOURS.oldest,
        width: 2,
        scale: "s",
        value: (u, v) => seconds(v),
      },
    ],
    axes: [
      {},
      { scale: "n", values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t : "")) },
      { scale: "s", side: 1, grid: { show: false }, values: (u, ticks) => ticks.map((t) => `${t} s`) },
    ],
  };
}
