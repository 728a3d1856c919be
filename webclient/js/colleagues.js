// The transfer dialog's list of colleagues online (`GET /api/advisors`, docs/protocol.md
// "HTTP"): free ones can be picked, the others are shown disabled with what they are
// doing; the skills of those online feed the dialog's skill choice. Fetched each time
// the dialog opens and on Refresh; an answer older than the latest ask is dropped.

const STATE_TEXT = {
  free: "free",
  reserved: "being offered a call",
  busy: "in a call",
  away: "away",
};

/** The online advisors, free ones first, longest idle first (at most `limit`). */
export async function fetchColleagues(token, limit = 200) {
  const response = await fetch(`/api/advisors?limit=${limit}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()).advisors;
}

export class Colleagues {
  /**
   * @param {object} o
   * @param {HTMLUListElement} o.list where the colleagues are listed, one radio each
   * @param {HTMLElement} o.note what the list says of itself (loading, empty, failed)
   * @param {HTMLSelectElement} o.skillPick the skills of colleagues online
   * @param {() => string} o.token the console's token
   * @param {() => string | null} o.me this advisor's id, left out of the list
   * @param {(advisor: {id: string, name: string}) => void} o.onPick a free colleague picked
   */
  constructor({ list, note, skillPick, token, me, onPick }) {
    Object.assign(this, { list, note, skillPick, token, me, onPick });
    this.asked = 0;
    this.byId = new Map();
  }

  async load() {
    const asked = ++this.asked;
    const token = this.token();
    if (!token) return;
    this.note.textContent = "Loading who is online…";
    this.note.hidden = false;
    let advisors;
    try {
      advisors = await fetchColleagues(token);
    } catch (err) {
      if (asked !== this.asked) return;
      this.note.textContent = `Could not load who is online (${err.message}); type their advisor id.`;
      return;
    }
    if (asked !== this.asked) return;
    this.show(advisors.filter((a) => a.id !== this.me()));
  }

  show(advisors) {
    this.byId = new Map(advisors.map((a) => [a.id, a]));
    this.list.replaceChildren(...advisors.map((a) => this.item(a)));
    const free = advisors.filter((a) => a.state === "free").length;
    if (!advisors.length) this.note.textContent = "No colleague is online.";
    else if (!free) this.note.textContent = "No colleague is free right now.";
    else this.note.textContent = `${free} of ${advisors.length} online free.`;
    this.showSkills(advisors);
  }

  item(advisor) {
    const free = advisor.state === "free";
    const radio = Object.assign(document.createElement("input"), {
      type: "radio",
      name: "transfer-colleague",
      value: advisor.id,
      disabled: !free,
    });
    radio.addEventListener("change", () => this.onPick(advisor));
    const name = Object.assign(document.createElement("span"), {
      className: "colleague-name",
      textContent: advisor.name || advisor.id,
    });
    const skills = advisor.skills.length ? advisor.skills.join(", ") : "no skills listed";
    const about = Object.assign(document.createElement("span"), {
      className: "colleague-about",
      textContent: ` · ${skills} · ${STATE_TEXT[advisor.state] ?? advisor.state}`,
    });
    const label = document.createElement("label");
    label.dataset.testid = "transfer-colleague";
    label.dataset.advisorId = advisor.id;
    label.dataset.state = advisor.state;
    label.append(radio, " ", name, about);
    const li = document.createElement("li");
    li.className = free ? "colleague" : "colleague unavailable";
    li.append(label);
    return li;
  }

  /** The skills of colleagues online, each with how many of them are free. */
  showSkills(advisors) {
    const free = new Map();
    for (const a of advisors) {
      for (const skill of a.skills) {
        free.set(skill, (free.get(skill) ?? 0) + (a.state === "free" ? 1 : 0));
      }
    }
    const options = [...free.keys()].sort().map((skill) => {
      const text = `${skill} (${free.get(skill)} free)`;
      return Object.assign(document.createElement("option"), { value: skill, textContent: text });
    });
    const prompt = Object.assign(document.createElement("option"), {
      value: "",
      textContent: options.length ? "Choose a skill…" : "No colleague online lists a skill",
    });
    this.skillPick.replaceChildren(prompt, ...options);
  }

  /** The colleague picked or typed, as listed (null for an id not in the list). */
  named(id) {
    return this.byId.get(id) ?? null;
  }

  /** Typing an id unpicks a colleague who is not that one. */
  syncPicked(id) {
    for (const radio of this.list.querySelectorAll('input[name="transfer-colleague"]')) {
      radio.checked = radio.value === id && !radio.disabled;
    }
  }

  setDisabled(disabled) {
    for (const radio of this.list.querySelectorAll('input[name="transfer-colleague"]')) {
      radio.disabled = disabled || this.byId.get(radio.value)?.state !== "free";
    }
  }
}
