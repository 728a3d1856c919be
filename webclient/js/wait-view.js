// The tablet's place in line: position and estimated wait from the latest
// `help.queued`, counted on locally between frames so the page stays live
// (the server only writes when something changes).

export class WaitView {
  /** @param {HTMLElement} element where the text goes */
  constructor(element) {
    this.element = element;
    this.queued = null; // the latest help.queued frame
    this.receivedAt = 0;
    this.askedAt = 0;
    this.timer = null;
  }

  /** Help was pressed now: the wait is counted from here. */
  start() {
    this.askedAt = performance.now();
    this.queued = null;
  }

  show(queued) {
    this.queued = queued;
    this.receivedAt = performance.now();
    this.render();
    this.timer ??= setInterval(() => this.render(), 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.queued = null;
  }

  render() {
    if (!this.queued) return;
    const now = performance.now();
    const sinceFrame = (now - this.receivedAt) / 1000;
    const waited = this.askedAt ? ` You have waited ${seconds((now - this.askedAt) / 1000)}.` : "";
    this.element.textContent = waitText(this.queued, sinceFrame) + waited;
  }
}

/** Whether nobody can take the request now: there is no honest estimate. */
export function noAdvisor(queued) {
  return queued.state === "queued" && queued.estimated_wait_s === null;
}

/** One advisor-free sentence, or none online at all; for the status line. */
export function noAdvisorText(queued) {
  return queued.advisors_available === 0
    ? "No advisor is online right now."
    : "No advisor who can take your request is free right now.";
}

function waitText(queued, sinceFrame) {
  const { position, estimated_wait_s: estimate } = queued;
  const place = position === 1 ? "You are next in line." : `You are number ${position} in line.`;
  if (queued.state === "offered") return `${place} An advisor is looking at your request.`;
  if (estimate === null) return `${place} You keep your place until an advisor can take it.`;
  const left = estimate - sinceFrame;
  if (left < 1) return `${place} An advisor should be with you any moment.`;
  if (left < 90) return `${place} About ${Math.round(left)} seconds to wait.`;
  return `${place} About ${Math.round(left / 60)} minutes to wait.`;
}

function seconds(s) {
  const whole = Math.max(0, Math.floor(s));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
