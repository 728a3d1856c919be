// How the console rings while an offer waits for an answer: a short chime
// through the Web Audio API (again every few seconds, faster near the end), the
// tab title flashing the offer, and a desktop notification when the tab is
// hidden and the advisor allowed notifications.
//
// Browsers start audio only after a user gesture: `unlock()` is called from the
// advisor's click on "Go available", which also asks for notification
// permission once. Without either, the title still flashes.

const CHIME_EVERY_MS = 3000;
const URGENT_EVERY_MS = 1000;
const TITLE_EVERY_MS = 1000;

export class Ringer {
  constructor() {
    this.audio = null; // AudioContext, made on the first gesture
    this.title = document.title;
    this.timers = [];
    this.notification = null;
    this.urgent = false;
  }

  /** From a user gesture: let sound play later, and ask once for notifications. */
  unlock() {
    try {
      this.audio ??= new AudioContext();
      if (this.audio.state === "suspended") this.audio.resume();
    } catch (err) {
      console.info("mayday: no Web Audio; offers will not make a sound", err);
    }
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch((err) => console.info("mayday: notifications", err));
    }
  }

  /** Ring for an offer until `stop()`: `text` is what the title and notification say. */
  start(text, detail) {
    this.stop();
    this.urgent = false;
    this._chime();
    this._every(CHIME_EVERY_MS, () => {
      if (!this.urgent) this._chime();
    });
    let on = true;
    this._every(TITLE_EVERY_MS, () => {
      on = !on;
      document.title = on ? `● ${text}` : this.title;
    });
    document.title = `● ${text}`;
    this._notify(text, detail);
  }

  /** The last seconds of an offer: ring every second. */
  hurry() {
    if (this.urgent || !this.timers.length) return;
    this.urgent = true;
    this._every(URGENT_EVERY_MS, () => this._chime(true));
  }

  stop() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    document.title = this.title;
    this.notification?.close();
    this.notification = null;
  }

  _every(ms, fn) {
    this.timers.push(setInterval(fn, ms));
  }

  /** Two short tones, or three higher ones when `urgent`. */
  _chime(urgent = false) {
    const ctx = this.audio;
    if (!ctx || ctx.state !== "running") return;
    const notes = urgent ? [988, 988, 988] : [660, 880];
    notes.forEach((frequency, i) => {
      const start = ctx.currentTime + i * 0.18;
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      tone.connect(gain).connect(ctx.destination);
      tone.start(start);
      tone.stop(start + 0.17);
    });
  }

  _notify(text, detail) {
    if (!document.hidden || !("Notification" in window)) return;
    if (Notification.permission !== "granted") return;
    try {
      const note = new Notification(text, { body: detail, tag: "mayday-offer", requireInteraction: true });
      note.onclick = () => {
        window.focus();
        note.close();
      };
      this.notification = note;
    } catch (err) {
      console.info("mayday: notification not shown", err);
    }
  }
}
