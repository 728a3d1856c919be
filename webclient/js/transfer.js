// The console's transfer of a call (`session.transfer`, docs/protocol.md "Transfers"):
// a dialog to pick a free colleague from those online (`GET /api/advisors`, or type their
// advisor id) or skills (those of colleagues online, or typed), a note and warm or cold;
// then what the console says while a warm transfer is pending, and when it is accepted
// (`session.transferred`) or fails (`transfer.failed`).

import { Colleagues } from "./colleagues.js";

const FAILED_TEXT = {
  declined: "declined it",
  timeout: "did not answer in time",
  advisor_away: "went away",
  advisor_dropped: "lost their connection",
  user_dropped: "could not take it: the user's connection dropped",
  session_ended: "could not take it: the call ended",
};

export class Transfer {
  /**
   * @param {object} o
   * @param {HTMLButtonElement} o.button opens the dialog (shown in a call)
   * @param {HTMLFormElement} o.form the dialog
   * @param {HTMLElement} o.status what the console says of a pending or failed transfer
   * @param {object} o.signaling the console's socket (`call`)
   * @param {() => string | null} o.sessionId the session of the current call
   * @param {(text: string) => void} o.onNote a fading line on the console's status
   * @param {() => string | null} o.me this advisor's id, left out of the colleagues
   */
  constructor({ button, form, status, signaling, sessionId, onNote, me }) {
    Object.assign(this, { button, form, status, signaling, sessionId, onNote });
    this.field = (name) => form.querySelector(`[data-testid="transfer-${name}"]`);
    this.pending = null; // {transferId, to, mode} of the transfer asked in this call
    this.handedTo = null; // the name of whoever took the call, for session.ended
    this.picked = null; // {id, name} of the colleague picked from the list
    this.colleagues = new Colleagues({
      list: this.field("colleague-list"),
      note: this.field("colleagues-note"),
      skillPick: this.field("skill-pick"),
      token: () => signaling.token,
      me,
      onPick: (advisor) => this.pick(advisor),
    });
    button.addEventListener("click", () => this.open(form.hidden));
    this.field("cancel").addEventListener("click", () => this.open(false));
    this.field("refresh").addEventListener("click", () => this.colleagues.load());
    this.field("advisor").addEventListener("input", () => {
      const id = this.field("advisor").value.trim();
      if (this.picked?.id !== id) this.picked = null;
      this.colleagues.syncPicked(id);
    });
    this.field("skill-pick").addEventListener("change", () => this.addSkill());
    for (const radio of form.querySelectorAll('input[name="transfer-to"]')) {
      radio.addEventListener("change", () => this.syncTarget());
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  open(shown) {
    this.form.hidden = !shown;
    this.button.setAttribute("aria-expanded", String(shown));
    if (shown) {
      this.syncTarget();
      this.colleagues.load();
      (this.toSkills() ? this.field("skills") : this.field("advisor")).focus();
    }
  }

  /** A free colleague picked from the list: theirs is the advisor id sent. */
  pick(advisor) {
    this.picked = { id: advisor.id, name: advisor.name || advisor.id };
    this.field("advisor").value = advisor.id;
  }

  /** A skill chosen from those of colleagues online joins the skills typed. */
  addSkill() {
    const pick = this.field("skill-pick");
    const skill = pick.value;
    pick.value = "";
    if (!skill) return;
    const input = this.field("skills");
    const skills = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (!skills.includes(skill)) skills.push(skill);
    input.value = skills.join(", ");
  }

  toSkills() {
    return this.field("to-skills").checked;
  }

  /** One target at a time; warm needs a colleague, so skills make it cold. */
  syncTarget() {
    const skills = this.toSkills();
    this.field("advisor").disabled = skills;
    this.colleagues.setDisabled(skills);
    this.field("refresh").disabled = skills;
    this.field("skills").disabled = !skills;
    this.field("skill-pick").disabled = !skills;
    const warm = this.field("mode").querySelector('option[value="warm"]');
    warm.disabled = skills;
    if (skills) this.field("mode").value = "cold";
  }

  frame() {
    const note = this.field("note").value.trim();
    const mode = this.field("mode").value;
    if (this.toSkills()) {
      const skills = this.field("skills").value.split(",").map((s) => s.trim()).filter(Boolean);
      return skills.length ? { to: { skills }, mode, note } : null;
    }
    const advisor = this.field("advisor").value.trim();
    return advisor ? { to: { advisor }, mode, note } : null;
  }

  async send() {
    const sessionId = this.sessionId();
    const fields = this.frame();
    if (!sessionId || !fields) {
      this.say(
        this.toSkills() ? "Name at least one skill." : "Pick a free colleague or give their id.",
      );
      return;
    }
    const frame = { session_id: sessionId, to: fields.to, mode: fields.mode };
    if (fields.note) frame.note = fields.note;
    const picked = this.picked?.id === fields.to.advisor ? this.picked.name : null;
    const to = picked ?? fields.to.advisor ?? fields.to.skills.join(", ");
    this.field("send").disabled = true;
    // Asked before the ack comes: a cold transfer's session.ended comes first.
    const asked = { transferId: null, to, mode: fields.mode };
    this.pending = asked;
    try {
      const ack = await this.signaling.call("session.transfer", frame);
      if (this.pending !== asked) return; // the call ended meanwhile
      asked.transferId = ack.transfer_id;
      this.open(false);
      this.button.disabled = true;
      if (fields.mode === "warm") this.say(`Waiting for ${to} to accept the transfer…`);
    } catch (err) {
      if (this.pending === asked) this.pending = null;
      this.say(`The transfer was refused: ${err.message}.`);
    } finally {
      this.field("send").disabled = false;
    }
  }

  say(text) {
    this.status.textContent = text;
    this.status.hidden = false;
  }

  /** Both advisors of a warm transfer hear it was accepted; session.ended follows. */
  onTransferred(msg) {
    // The session handed on is this console's (even one reloaded mid-transfer): we asked.
    if (this.sessionId() === msg.session_id) {
      this.handedTo = msg.to.name;
      this.say(`${msg.to.name} took the call.`);
    } else {
      this.onNote(`You took over the call (transfer ${msg.transfer_id}).`);
    }
  }

  /** The colleague did not take it: the call goes on here, and may be transferred again. */
  onFailed(msg) {
    if (this.sessionId() !== msg.session_id) return;
    const why = FAILED_TEXT[msg.reason] ?? `could not take it (${msg.reason})`;
    const who = this.pending?.to ?? "your colleague";
    this.say(`The transfer failed: ${who} ${why}. You keep the call.`);
    this.pending = null;
    this.button.disabled = false;
  }

  /** Why this console's call ended, when it ended by a transfer. */
  endedText() {
    if (this.handedTo) return `You transferred the call to ${this.handedTo}.`;
    if (this.pending?.mode === "cold") {
      return `You transferred the call to ${this.pending.to}; the user waits at the head of the queue.`;
    }
    return "The call was transferred.";
  }

  /** A call ended or started: no transfer of it is pending any more. */
  reset() {
    this.pending = null;
    this.handedTo = null;
    this.open(false);
    this.status.hidden = true;
    this.button.disabled = false;
    this.field("note").value = "";
    this.field("advisor").value = "";
    this.picked = null;
    this.colleagues.syncPicked("");
  }
}
