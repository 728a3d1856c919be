// The tablet's place in line: position and estimated wait from the latest
// `help.queued`, counted on locally between frames so the page stays live
// (the server only writes when something changes).

export class WaitView {
  /** @param {HTMLElement} element where the text goes */
  constructor(element) {
    this.element = element;
    // The estimate has its own element, so that it is found (and shown) whenever the
    // server gives one.
    this.place = document.createElement("span");
    this.estimate = document.createElement("span");
    this.estimate.dataset.testid = "wait-estimate";
    this.estimate.className = "estimate";
    this.waited = document.createElement("span");
    element.replaceChildren(this.place, this.estimate, this.waited);
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
    const { place, estimate } = waitText(this.queued, sinceFrame);
    this.place.textContent = place;
    this.estimate.textContent = estimate ? ` ${estimate}` : "";
    this.estimate.hidden = !estimate;
    this.waited.textContent = this.askedAt
      ? ` You have waited ${seconds((now - this.askedAt) / 1000)}.`
      : "";
  }
}

/** Whether nobody can take the request now: outside the business hours, or no honest
 * estimate. */
export function noAdvisor(queued) {
  return queued.state === "queued" && (queued.offline === true || queued.estimated_wait_s === null);
}

/** Why nobody can answer, and when they are back if the server knows; for the status line. */
export function noAdvisorText(queued) {
  if (queued.back_at) {
    return `Our advisors are away right now. They are back ${backText(new Date(queued.back_at))}.`;
  }
  return queued.advisors_available === 0
    ? "No advisor is online right now."
    : "No advisor who can take your request is free right now.";
}

const DAY_MS = 86_400_000;

/**
 * When the advisors are back, said as a person would: "today at 2:00 PM", "tomorrow at
 * 9:00 AM", "on Friday at 9:00 AM", "on Friday 12 December at 9:00 AM". An opening at
 * midnight belongs to the night before it ("tonight at midnight", "on Thursday night at
 * midnight"), never "Friday 12:00 AM", which reads as the wrong end of Friday.
 */
export function backText(at, now = new Date()) {
  const midnight = at.getHours() === 0 && at.getMinutes() === 0;
  const day = midnight ? new Date(at.getTime() - 60_000) : at;
  const days = Math.round((startOfDay(day) - startOfDay(now)) / DAY_MS);
  const time = midnight
    ? "at midnight"
    : `at ${at.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })}`;
  const night = midnight ? " night" : "";
  if (days <= 0) return midnight ? `tonight ${time}` : `today ${time}`;
  if (days === 1) return `tomorrow${night} ${time}`;
  const weekday = day.toLocaleDateString([], { weekday: "long" });
  if (days < 7) return `on ${weekday}${night} ${time}`;
  const date = day.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
  return `on ${date}${night} ${time}`;
}

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** Where the user is in line, and the estimate when the server gives one (counted down). */
function waitText(queued, sinceFrame) {
  const { position, estimated_wait_s: estimate } = queued;
  const place = position === 1 ? "You are next in line." : `You are number ${position} in line.`;
  if (queued.state === "offered") {
    return { place: `${place} An advisor is looking at your request.`, estimate: "" };
  }
  if (estimate === null) {
    return { place: `${place} You keep your place until an advisor can take it.`, estimate: "" };
  }
  const left = estimate - sinceFrame;
  if (left < 1) return { place, estimate: "An advisor should be with you any moment." };
  if (left < 90) return { place, estimate: `About ${Math.round(left)} seconds to wait.` };
  const minutes = Math.round(left / 60);
  return { place, estimate: `About ${minutes} minute${minutes === 1 ? "" : "s"} to wait.` };
}

function seconds(s) {
  const whole = Math.max(0, Math.floor(s));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
