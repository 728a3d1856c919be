// What the tablet shares as its screen: the demo app drawn on the page's
// canvas, or the real screen when the user chooses it and the browser allows
// it (`getDisplayMedia`). Whenever sharing the real screen stops, for any
// reason, the demo screen takes over again.

export class ScreenSource {
  /**
   * @param {HTMLCanvasElement} canvas the demo screen, already being drawn
   * @param {(source: ScreenSource) => void} onChange called when the shared track changes
   */
  constructor(canvas, onChange) {
    this.demoTrack = canvas.captureStream(15).getVideoTracks()[0];
    this.display = null; // the MediaStream from getDisplayMedia, while it is shared
    this.onChange = onChange;
  }

  /** Whether this browser can share its real screen at all. */
  static get supported() {
    return typeof navigator.mediaDevices?.getDisplayMedia === "function";
  }

  get sharingDisplay() {
    return this.display !== null;
  }

  /** The video track to send now. */
  get track() {
    return this.display?.getVideoTracks()[0] ?? this.demoTrack;
  }

  /**
   * Ask the browser for the real screen (it shows its own picker). Resolves
   * with null when sharing started, or with the reason it did not.
   */
  async shareDisplay() {
    if (!ScreenSource.supported) return "this browser cannot share its screen";
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      console.info("mayday: screen sharing refused", err);
      return err.name === "NotAllowedError"
        ? "screen sharing was not allowed"
        : "this browser could not share it";
    }
    this.stopDisplay();
    this.display = stream;
    // The browser's own "Stop sharing" ends the track: fall back to the demo screen.
    stream.getVideoTracks()[0].addEventListener("ended", () => this.stopDisplay());
    this.onChange(this);
    return null;
  }

  /** Go back to the demo screen. */
  stopDisplay() {
    if (!this.display) return;
    for (const track of this.display.getTracks()) track.stop();
    this.display = null;
    this.onChange(this);
  }
}
