// The tablet's rating prompt after a call: five stars as one radio group, an optional
// comment, Send (`session.rate`) and "Not now". It sits beside the Help button and never
// covers it: pressing Help again simply puts the prompt away.

const SCORE_WORDS = ["poor", "not good", "all right", "good", "excellent"];
// The server's refusals, in words for someone who is not a developer.
const RATE_ERRORS = {
  invalid_state: "It is too late to rate this call: ratings are taken up to an hour after it ends.",
  not_found: "This call can no longer be rated.",
  forbidden: "This call can no longer be rated.",
  not_connected: "The help service can't be reached right now. Please try again in a moment.",
  timeout: "The help service did not answer in time. Please press Send again.",
  rate_limited: "That was a lot at once. Please wait a moment, then press Send again.",
};
const NOT_SENT = "Your rating could not be sent. Please press Send again.";
const PICK_FIRST = "Choose from 1 to 5 stars first.";

export class RatingPrompt {
  /**
   * @param {object} parts
   * @param {HTMLFormElement} parts.form the prompt (`rating-prompt`)
   * @param {HTMLElement} parts.question its heading
   * @param {HTMLElement} parts.stars the radio group holding the five score buttons
   * @param {HTMLTextAreaElement} parts.comment
   * @param {HTMLButtonElement} parts.send
   * @param {HTMLButtonElement} parts.skip
   * @param {HTMLElement} parts.error a role=alert line
   * @param {HTMLElement} parts.thanks shown once the rating is stored
   * @param {(fields: object) => Promise<object>} parts.rate sends `session.rate`
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.buttons = [...this.stars.querySelectorAll('[role="radio"]')];
    this.sessionId = null;
    this.score = null;
    this.sending = false;
    for (const button of this.buttons) {
      const score = Number(button.dataset.score);
      button.setAttribute("aria-label", `${score} of 5, ${SCORE_WORDS[score - 1]}`);
      button.addEventListener("click", () => this.choose(score));
    }
    this.stars.addEventListener("keydown", (event) => this.onKey(event));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.skip.addEventListener("click", () => this.dismiss());
    this.reset();
  }

  /** Ask about the call of `sessionId`, just ended, with the advisor named `name`. */
  offer(sessionId, name) {
    this.reset();
    this.sessionId = sessionId;
    this.question.textContent = `How was your call with ${name || "your advisor"}?`;
    this.thanks.hidden = true;
    this.form.hidden = false;
    // Upright, the help panel lies under the screen: bring the question into view (the
    // Help button above it stays in view too).
    this.form.scrollIntoView({ block: "nearest" });
  }

  /** Put the prompt (or its thanks) away; nothing is sent. */
  dismiss() {
    this.form.hidden = true;
    this.thanks.hidden = true;
    this.sessionId = null;
  }

  get shown() {
    return !this.form.hidden;
  }

  reset() {
    this.score = null;
    this.sending = false;
    this.form.reset();
    this.showError("");
    this.paint();
  }

  choose(score, focus = false) {
    this.score = score;
    this.showError("");
    this.paint();
    if (focus) this.buttons[score - 1].focus();
  }

  /** Arrows, Home and End move the choice, as in any radio group; Tab leaves the group. */
  onKey(event) {
    const last = this.buttons.length;
    // From the focused star (the first while none is chosen), as a native group moves.
    const now = this.buttons.indexOf(document.activeElement) + 1 || this.score || 1;
    const moves = {
      ArrowRight: Math.min(last, now + 1),
      ArrowUp: Math.min(last, now + 1),
      ArrowLeft: Math.max(1, now - 1),
      ArrowDown: Math.max(1, now - 1),
      Home: 1,
      End: last,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    this.choose(moves[event.key], true);
  }

  /** One tab stop for the group: the chosen star, or the first while none is. */
  paint() {
    for (const [i, button] of this.buttons.entries()) {
      const score = i + 1;
      button.setAttribute("aria-checked", String(score === this.score));
      button.tabIndex = score === (this.score ?? 1) ? 0 : -1;
      button.classList.toggle("lit", this.score !== null && score <= this.score);
    }
    this.send.disabled = this.sending;
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  async submit() {
    if (this.sending || this.sessionId === null) return;
    if (this.score === null) {
      this.showError(PICK_FIRST);
      this.buttons[0].focus();
      return;
    }
    const fields = { session_id: this.sessionId, score: this.score };
    const comment = this.comment.value.trim();
    if (comment) fields.comment = comment;
    this.sending = true;
    this.paint();
    try {
      await this.rate(fields);
      this.form.hidden = true;
      // Written as it is shown, so that screen readers announce the status line.
      this.thanks.textContent = "";
      this.thanks.hidden = false;
      this.thanks.textContent = "Thanks for your feedback.";
      this.sessionId = null;
    } catch (err) {
      console.info("mayday: session.rate refused", err);
      this.showError(RATE_ERRORS[err.code] ?? NOT_SENT);
    } finally {
      this.sending = false;
      this.paint();
    }
  }
}
