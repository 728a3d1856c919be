// The console's live view of the queue, from `queue.summary` frames. The
// server writes when a count changes; the oldest wait grows by itself, so it
// is counted on here between frames.

export class QueueSummary {
  /** @param {HTMLElement} element where the text goes */
  constructor(element) {
    this.element = element;
    this.summary = null;
    this.oldestSince = null;
    this.timer = null;
  }

  show(summary) {
    this.summary = summary;
    const oldest = summary.oldest_wait_s;
    this.oldestSince = oldest === null ? null : performance.now() - oldest * 1000;
    this.render();
    this.timer ??= setInterval(() => this.render(), 1000);
  }

  render() {
    const s = this.summary;
    if (!s) return;
    const people = s.waiting === 1 ? "1 user waiting" : `${s.waiting} users waiting`;
    const oldest =
      this.oldestSince === null
        ? ""
        : `, oldest waiting ${formatSeconds((performance.now() - this.oldestSince) / 1000)}`;
    // Requests every online advisor declined wait on a cooldown: say they can still be
    // taken (the free decliners are shown them as claimable requests).
    const declined = s.declined_by_all
      ? ` · ${s.declined_by_all} declined by everyone online: still yours to take`
      : "";
    // An advisor holding an offer is neither free nor in a call: counted on their own.
    this.element.textContent =
      `Queue: ${people}${oldest} · advisors: ${s.advisors_available} free, ` +
      `${s.advisors_reserved} reserved, ${s.advisors_busy} busy, ${s.advisors_away} away${declined}`;
  }
}

export function formatSeconds(s) {
  const whole = Math.max(0, Math.floor(s));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
