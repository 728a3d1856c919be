// A page's status line: what holds now, and optionally a note of what just
// happened ("Declined; the request goes to another advisor.") that fades after
// a few seconds, so an old event never reads as news.

export const NOTE_SHOWN_MS = 8000;
const FADE_MS = 800;

export class StatusLine {
  /** @param {HTMLElement} element the status element (a live region) */
  constructor(element, shownMs = NOTE_SHOWN_MS) {
    this.element = element;
    this.shownMs = shownMs;
    this.timers = [];
    this.text = element.textContent.trim();
  }

  /** Add a fading note in front of what the line says now. */
  note(note) {
    this.set(this.text, note);
  }

  /** Say `text`; `note`, when given, comes first and fades away by itself. */
  set(text, note = "") {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    this.text = text;
    if (!note) {
      this.element.textContent = text;
      return;
    }
    const span = document.createElement("span");
    span.className = "status-note";
    span.dataset.testid = "status-note";
    span.textContent = `${note} `;
    this.element.replaceChildren(span, text);
    this.timers.push(
      setTimeout(() => span.classList.add("fading"), this.shownMs),
      setTimeout(() => span.remove(), this.shownMs + FADE_MS),
    );
  }
}
