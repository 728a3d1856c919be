// A mute button: pressed, this side's microphone sends silence. The track
// stays on the call (disabled rather than removed), so unmuting needs no
// renegotiation.

export class MuteButton {
  /** @param {HTMLButtonElement} button */
  constructor(button) {
    this.button = button;
    this.muted = false;
    this.tracks = [];
    button.addEventListener("click", () => this.set(!this.muted));
    this._render();
  }

  /** Mute and unmute the audio tracks of `stream` from now on (null: no microphone). */
  use(stream) {
    this.tracks = stream ? stream.getAudioTracks() : [];
    this.set(this.muted);
  }

  set(muted) {
    this.muted = muted;
    for (const track of this.tracks) track.enabled = !muted;
    this._render();
  }

  _render() {
    const { button, muted } = this;
    button.setAttribute("aria-pressed", String(muted));
    button.textContent = muted ? "Unmute" : "Mute";
    button.disabled = this.tracks.length === 0;
    button.title = this.tracks.length === 0 ? "No microphone" : "";
  }
}
