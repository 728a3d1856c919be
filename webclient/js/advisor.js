// The advisor console: go available, take an offered request, see the user's screen.

import { Call } from "./call.js";
import { Signaling, pageToken } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const ui = {
  who: $("who"),
  status: $("status"),
  toggle: $("availability-toggle"),
  end: $("end-button"),
  offer: $("offer"),
  offerUser: $("offer-user"),
  offerTopic: $("offer-topic"),
  offerWaited: $("offer-waited"),
  countdown: $("offer-countdown"),
  accept: $("accept-button"),
  decline: $("decline-button"),
  selfVideo: $("self-video"),
  screenVideo: $("screen-video"),
  audio: $("user-audio"),
  queue: $("queue-summary"),
};

// Which controls each state shows; everything not listed is hidden.
const SHOWN = {
  offline: ["toggle"],
  unreachable: ["toggle"],
  away: ["toggle"],
  available: ["toggle"],
  offered: ["offer"],
  connecting: ["end"],
  connected: ["end"],
  ended: ["toggle"],
};
const CAN_TOGGLE = new Set(["away", "available", "ended"]);

const page = {
  state: "offline",
  wantsAvailable: false,
  offer: null, // { request_id, expiresAt, timer }
  call: null,
  sessionId: null,
  camera: null, // Promise<MediaStream>, opened once
};

const signaling = new Signaling({ onMessage, onStatus });

function setState(state, text) {
  if (state !== page.state) console.info(`mayday: advisor ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
  const shown = new Set(SHOWN[state]);
  for (const name of ["toggle", "offer", "end"]) ui[name].hidden = !shown.has(name);
  ui.toggle.disabled = !CAN_TOGGLE.has(state);
  ui.toggle.setAttribute("aria-pressed", String(page.wantsAvailable));
  ui.toggle.textContent = page.wantsAvailable ? "Go away" : "Go available";
  ui.toggle.className = page.wantsAvailable ? "" : "go";
}

/** Back to waiting for work: available or away, as the advisor last chose. */
function idle(note = "") {
  const text = page.wantsAvailable
    ? "You are available. Requests will be offered to you here."
    : "You are away. Go available to take requests.";
  setState(page.wantsAvailable ? "available" : "away", note ? `${note} ${text}` : text);
}

function onStatus(status, detail) {
  if (status === "open") return; // "hello" tells who we are
  if (status === "connecting") {
    if (page.state === "offline") ui.status.textContent = "Connecting to the help service…";
    return;
  }
  hideOffer();
  endCall();
  const seconds = Math.ceil(detail.retryInMs / 1000);
  const hint = detail.everOpened ? "" : " If this goes on, check the token in the address.";
  setState("unreachable", `Help service unreachable. Retrying in ${seconds} s…${hint}`);
}

// ------------------------------------------------------------ server frames

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      ui.who.textContent = `${msg.name} (advisor)`;
      // The server forgets an advisor whose socket closed: say again what we were.
      if (page.wantsAvailable) signaling.send("advisor.state", { state: "available" });
      idle();
      break;
    case "advisor.state":
      page.wantsAvailable = msg.state === "available";
      if (msg.reason === "offer_timeout") {
        hideOffer();
        idle("You let an offer run out, so you were set away.");
      } else if (CAN_TOGGLE.has(page.state)) {
        idle();
      }
      break;
    case "help.offer":
      showOffer(msg);
      break;
    case "help.withdrawn":
      if (page.offer?.request_id === msg.request_id) {
        hideOffer();
        idle(withdrawnText(msg.reason));
      }
      break;
    case "session.started":
      hideOffer();
      startCall(msg);
      break;
    case "signal":
      if (page.call && msg.session_id === page.sessionId) page.call.handleSignal(msg);
      break;
    case "session.ended":
      onEnded(msg);
      break;
    case "queue.summary":
      showQueue(msg);
      break;
    case "error":
      console.warn(`mayday: server error ${msg.code}: ${msg.message}`);
      break;
    default:
      console.warn(`mayday: advisor console ignores unknown frame type "${msg.type}"`, msg);
  }
}

// ------------------------------------------------------------ queue view

const queueView = { waiting: 0, oldestAt: null, busy: 0, available: 0, timer: null };

/** The server sends the queue when it changes; the oldest wait is counted on here. */
function showQueue(msg) {
  queueView.waiting = msg.waiting;
  queueView.available = msg.advisors_available;
  queueView.busy = msg.advisors_busy + msg.advisors_reserved;
  queueView.oldestAt = msg.oldest_wait_s === null ? null : Date.now() - msg.oldest_wait_s * 1000;
  renderQueue();
  if (!queueView.timer) queueView.timer = setInterval(renderQueue, 1000);
}

function renderQueue() {
  const { waiting, oldestAt, busy, available } = queueView;
  const oldest =
    oldestAt === null ? "" : `, oldest waiting ${formatSeconds((Date.now() - oldestAt) / 1000)}`;
  const people = waiting === 1 ? "1 user waiting" : `${waiting} users waiting`;
  ui.queue.textContent = `Queue: ${people}${oldest} · advisors: ${available} free, ${busy} busy`;
}

function formatSeconds(s) {
  const whole = Math.max(0, Math.floor(s));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

function withdrawnText(reason) {
  switch (reason) {
    case "cancelled":
      return "The user cancelled the request.";
    case "abandoned":
      return "The user left before you answered.";
    case "timeout":
      return "The offer ran out.";
    default:
      return `The offer was withdrawn (${reason}).`;
  }
}

function onEnded(msg) {
  if (msg.session_id !== page.sessionId) return;
  endCall();
  let text = msg.by === "advisor" ? "You ended the call." : "The user ended the call.";
  if (msg.by === "user" && msg.reason === "disconnected") text = "The user's connection dropped.";
  const next = page.wantsAvailable ? "You are available for the next request." : "You are away.";
  setState("ended", `Call ended. ${text} ${next}`);
}

// ------------------------------------------------------------ offers

function showOffer(msg) {
  hideOffer();
  const expiresAt = performance.now() + msg.expires_in_s * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((expiresAt - performance.now()) / 1000));
    ui.countdown.textContent = `answer within ${left} s`;
  };
  page.offer = { request_id: msg.request_id, timer: setInterval(tick, 250) };
  tick();
  ui.offerUser.textContent = msg.user.name;
  const about = [msg.topic, msg.language, ...(msg.skills || [])].filter(Boolean);
  ui.offerTopic.textContent = about.length ? about.join(" · ") : "No topic given";
  ui.offerWaited.textContent = `${Math.round(msg.waited_s)} s`;
  ui.accept.disabled = false;
  ui.decline.disabled = false;
  setState("offered", `${msg.user.name} needs help. Accept to start the call.`);
}

function hideOffer() {
  if (page.offer) clearInterval(page.offer.timer);
  page.offer = null;
}

ui.accept.addEventListener("click", async () => {
  if (!page.offer) return;
  ui.accept.disabled = ui.decline.disabled = true;
  try {
    await signaling.call("help.accept", { request_id: page.offer.request_id });
  } catch (err) {
    hideOffer();
    idle(`Too late: ${err.message}.`);
  }
});

ui.decline.addEventListener("click", async () => {
  if (!page.offer) return;
  const requestId = page.offer.request_id;
  hideOffer();
  idle("Declined; the request goes to another advisor.");
  try {
    await signaling.call("help.decline", { request_id: requestId });
  } catch (err) {
    console.warn("mayday: decline refused", err);
  }
});

// ------------------------------------------------------------ the call

function startCall(started) {
  page.sessionId = started.session_id;
  setState("connecting", `Connecting to ${started.peer.name}…`);
  page.call = new Call({
    signaling,
    started,
    localStream: openCamera(),
    remoteVideo: ui.screenVideo,
    remoteAudio: ui.audio,
    onState: (state) => onMediaState(state, started.peer.name),
  });
  page.call.start();
}

function onMediaState(state, name) {
  switch (state) {
    case "first_frame":
      setState("connected", `In a call with ${name}. You see their screen; they see you.`);
      break;
    case "disconnected":
      setState("connecting", "The video connection is unstable. Reconnecting…");
      break;
    case "failed":
      setState("connecting", "The video connection failed. End the call and ask the user to retry.");
      break;
    default:
      break;
  }
}

function endCall() {
  if (page.call) page.call.close();
  page.call = null;
  page.sessionId = null;
}

ui.end.addEventListener("click", async () => {
  if (!page.sessionId) return;
  try {
    await signaling.call("session.end", { session_id: page.sessionId, reason: "advisor_ended" });
  } catch (err) {
    console.warn("mayday: end refused", err);
  }
});

// ------------------------------------------------------------ availability

/**
 * Camera and microphone, opened once, when the advisor first goes available,
 * so that accepting an offer does not wait for a device. Without a camera the
 * call still runs: the advisor sees the screen and the user hears them.
 */
function openCamera() {
  page.camera ??= (async () => {
    const media = navigator.mediaDevices;
    for (const wanted of [{ video: true, audio: true }, { video: true }, { audio: true }]) {
      try {
        const stream = await media.getUserMedia(wanted);
        ui.selfVideo.srcObject = stream;
        ui.selfVideo.hidden = stream.getVideoTracks().length === 0;
        return stream;
      } catch (err) {
        console.info("mayday: media refused", wanted, err);
      }
    }
    console.warn("mayday: no camera or microphone; the user will neither see nor hear you");
    return new MediaStream();
  })();
  return page.camera;
}

ui.toggle.addEventListener("click", async () => {
  const state = page.wantsAvailable ? "away" : "available";
  if (state === "available") openCamera();
  try {
    await signaling.call("advisor.state", { state });
  } catch (err) {
    ui.status.textContent = `Could not change availability: ${err.message}.`;
  }
});

if (pageToken()) {
  signaling.connect();
} else {
  setState("offline", "This console needs a token: open it as /advisor?token=…");
}
