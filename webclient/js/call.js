// One session's WebRTC call, negotiated over Mayday `signal` frames.
//
// Perfect negotiation: the side named `offerer` in `session.started` is
// impolite (it offers first and ignores a colliding offer), the other side is
// polite (it rolls its own offer back and answers). The polite side attaches
// its tracks only when the first offer has arrived, and only to the lines
// that offer made, so the whole call is one offer and one answer: a full-SDP
// peer such as aiortc can neither resolve a glare nor take a second offer,
// and never has to. Later changes of source (a real screen instead of the
// demo one) replace a track in place, without renegotiation. Candidates
// trickle out one by one, then `candidate: null`; a full-SDP peer's
// description already holds them.
//
// The call does not depend on the signaling socket once media flows: a drop of
// the socket leaves it alone. When ICE is disconnected for 3 s, or fails, the
// impolite side restarts it (`restartIce()`, a new offer through the same
// session, answered under the same perfect-negotiation rules) and reports
// `media.state` `restarting` with detail `ice_disconnected` or `ice_failed`.

const REPORTED = new Set(["connecting", "connected", "disconnected", "failed"]);
// ICE that stays disconnected this long (or fails) is restarted by the offerer.
const ICE_RESTART_AFTER_MS = 3000;

export class Call {
  /**
   * @param {object} opts
   * @param {import("./signaling.js").Signaling} opts.signaling
   * @param {object} opts.started the `session.started` frame
   * @param {MediaStream | Promise<MediaStream>} opts.localStream what this side sends
   *   (may hold no track); a promise while a camera or microphone is still opening
   * @param {HTMLVideoElement} opts.remoteVideo where the peer's video plays
   * @param {HTMLAudioElement} opts.remoteAudio where the peer's sound plays
   * @param {(state: string) => void} opts.onState connecting, connected, first_frame,
   *   disconnected or failed
   */
  constructor({ signaling, started, localStream, remoteVideo, remoteAudio, onState }) {
    this.signaling = signaling;
    this.sessionId = started.session_id;
    this.polite = started.offerer !== started.role;
    this.localStream = localStream;
    this.remoteVideo = remoteVideo;
    this.remoteAudio = remoteAudio;
    this.onState = onState;
    this.pc = new RTCPeerConnection({ iceServers: started.ice_servers || [] });
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.localAttached = false;
    this.replacements = new Map(); // kind -> track to send instead of the stream's
    this.earlyCandidates = [];
    this.inbox = Promise.resolve();
    this.lastReported = null;
    this.firstFrameSeen = false;
    this.closed = false;
    this.restartTimer = null;

    this.pc.onnegotiationneeded = () => this._offer();
    this.pc.onicecandidate = ({ candidate }) => {
      this._signal({ candidate: candidate ? candidate.toJSON() : null });
    };
    this.pc.onconnectionstatechange = () => this._connectionChanged();
    this.pc.ontrack = ({ track }) => this._remoteTrack(track);
  }

  /** Start: the impolite side attaches its tracks, which makes it offer. */
  start() {
    if (!this.polite) this._enqueue(() => this._attachLocal({ receiveAll: true }));
  }

  /** Apply one relayed `signal` frame, in the order they arrived. */
  handleSignal(msg) {
    this._enqueue(() => this._apply(msg));
  }

  /**
   * Send `track` instead of the current one of its kind, without renegotiating;
   * before this side's tracks are attached, it is the one attached.
   */
  async replaceTrack(track) {
    if (this.closed) return;
    this.replacements.set(track.kind, track);
    const sender = this.pc.getSenders().find((s) => s.track?.kind === track.kind);
    if (sender) await sender.replaceTrack(track);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.pc.close();
    this.remoteVideo.srcObject = null;
    this.remoteAudio.srcObject = null;
  }

  // ------------------------------------------------------------ negotiation

  /** Run `step` after every step before it: frames are applied in arrival order. */
  _enqueue(step) {
    this.inbox = this.inbox
      .then(step)
      .catch((err) => console.warn(`mayday: session ${this.sessionId}: signaling step failed`, err));
  }

  async _offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this._sendDescription();
    } catch (err) {
      console.warn(`mayday: session ${this.sessionId}: offer failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  async _apply(msg) {
    if (this.closed) return;
    const pc = this.pc;
    if (msg.description) {
      const { description } = msg;
      const collision =
        description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) {
        console.info(`mayday: session ${this.sessionId}: colliding offer ignored (impolite)`);
        return;
      }
      // On the polite side this rolls back our own offer, if any.
      await pc.setRemoteDescription(description);
      const early = this.earlyCandidates.splice(0);
      for (const candidate of early) await this._addCandidate(candidate);
      if (description.type === "offer") {
        await this._attachLocal({ receiveAll: false });
        if (this.closed) return;
        await pc.setLocalDescription();
        this._sendDescription();
      }
    } else if ("candidate" in msg) {
      if (pc.remoteDescription === null) this.earlyCandidates.push(msg.candidate);
      else await this._addCandidate(msg.candidate);
    }
  }

  async _addCandidate(candidate) {
    try {
      // No argument is end of candidates.
      if (candidate) await this.pc.addIceCandidate(candidate);
      else await this.pc.addIceCandidate();
    } catch (err) {
      if (!this.ignoreOffer) console.warn(`mayday: session ${this.sessionId}: candidate`, err);
    }
  }

  /**
   * Add this side's tracks once. The offerer also asks to receive every kind
   * it does not send, so the peer's camera or screen always has a place. The
   * answerer sends only on lines the offer made: a track of another kind
   * would need a second offer.
   */
  async _attachLocal({ receiveAll }) {
    if (this.localAttached) return;
    this.localAttached = true;
    const stream = await this.localStream;
    if (this.closed) return;
    for (const given of stream.getTracks()) {
      const track = this.replacements.get(given.kind) ?? given;
      if (receiveAll || this._offeredLine(track.kind)) this.pc.addTrack(track, stream);
      else console.info(`mayday: session ${this.sessionId}: the peer offered no ${track.kind}`);
    }
    if (!receiveAll) return;
    for (const kind of ["audio", "video"]) {
      if (stream.getTracks().every((t) => t.kind !== kind)) {
        this.pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }

  /** Whether the remote offer made a line of `kind` that this side does not send on yet. */
  _offeredLine(kind) {
    return this.pc
      .getTransceivers()
      .some(
        (t) =>
          t.mid !== null &&
          t.direction !== "stopped" &&
          t.receiver.track.kind === kind &&
          !t.sender.track,
      );
  }

  _sendDescription() {
    const { type, sdp } = this.pc.localDescription;
    this._signal({ description: { type, sdp } });
  }

  _signal(fields) {
    if (this.closed) return;
    this.signaling.send("signal", { session_id: this.sessionId, ...fields });
  }

  // ------------------------------------------------------------ media

  _remoteTrack(track) {
    const element = track.kind === "video" ? this.remoteVideo : this.remoteAudio;
    element.srcObject = new MediaStream([track]);
    element.play().catch((err) => console.info(`mayday: ${track.kind} waits to play`, err));
    if (track.kind === "video") this._watchFirstFrame();
  }

  _watchFirstFrame() {
    const video = this.remoteVideo;
    const seen = () => {
      if (this.firstFrameSeen || this.closed) return;
      this.firstFrameSeen = true;
      this._report("first_frame");
    };
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(seen);
    else video.addEventListener("playing", seen, { once: true });
  }

  _connectionChanged() {
    const state = this.pc.connectionState;
    console.info(`mayday: session ${this.sessionId}: ${this.lastReported} -> ${state}`);
    if (REPORTED.has(state) && state !== this.lastReported) {
      this.lastReported = state;
      this._report(state);
    }
    if (state === "failed") this._restartIce("ice_failed");
    else if (state === "disconnected") this._restartIceLater();
    else clearTimeout(this.restartTimer);
  }

  _restartIceLater() {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (["disconnected", "failed"].includes(this.pc.connectionState)) {
        this._restartIce("ice_disconnected");
      }
    }, ICE_RESTART_AFTER_MS);
  }

  /** The offerer asks for new ICE through the same session; the answerer waits for it. */
  _restartIce(reason) {
    clearTimeout(this.restartTimer);
    if (this.closed || this.polite) return;
    console.info(`mayday: session ${this.sessionId}: restarting ICE (${reason})`);
    this._report("restarting", reason);
    this.pc.restartIce();
  }

  _report(state, detail = undefined) {
    if (this.closed) return;
    const fields = { session_id: this.sessionId, state };
    if (detail) fields.detail = detail;
    this.signaling.send("media.state", fields);
    this.onState(state);
  }
}
