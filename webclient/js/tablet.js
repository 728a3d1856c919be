// The tablet page: press Help, wait in line, see the advisor, share the screen.

import { Call } from "./call.js";
import { runDemoScreen } from "./demo-screen.js";
import { Signaling, pageToken } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const ui = {
  who: $("who"),
  status: $("status"),
  position: $("queue-position"),
  help: $("help-button"),
  cancel: $("cancel-button"),
  end: $("end-button"),
  video: $("advisor-video"),
  audio: $("advisor-audio"),
  screen: $("screen"),
};

// Which controls each state shows; everything not listed is hidden.
const SHOWN = {
  offline: ["help"],
  unreachable: ["help"],
  ready: ["help"],
  requesting: ["help"],
  queued: ["position", "cancel"],
  offered: ["position", "cancel"],
  connecting: ["video", "end"],
  connected: ["video", "end"],
  ended: ["help"],
};
const HELP_ENABLED = new Set(["ready", "ended"]);
const MICROPHONE_PATIENCE_MS = 4000;

const page = {
  state: "offline",
  requestId: null,
  call: null,
  sessionId: null,
  advisorName: "",
  microphone: null,
};

runDemoScreen(ui.screen, 15);
const screenTrack = ui.screen.captureStream(15).getVideoTracks()[0];

const signaling = new Signaling({ onMessage, onStatus });

function setState(state, text) {
  if (state !== page.state) console.info(`mayday: tablet ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
  const shown = new Set(SHOWN[state]);
  for (const name of ["position", "help", "cancel", "video", "end"]) {
    ui[name].hidden = !shown.has(name);
  }
  ui.help.disabled = !HELP_ENABLED.has(state);
}

function onStatus(status, detail) {
  if (status === "open") return; // "hello" tells who we are
  if (status === "connecting") {
    if (page.state === "offline") ui.status.textContent = "Connecting to the help service…";
    return;
  }
  endCall();
  page.requestId = null;
  const seconds = Math.ceil(detail.retryInMs / 1000);
  const hint = detail.everOpened ? "" : " If this goes on, check the token in the address.";
  setState("unreachable", `Help service unreachable. Retrying in ${seconds} s…${hint}`);
}

// ------------------------------------------------------------ server frames

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      ui.who.textContent = `${msg.name} (tablet)`;
      setState("ready", "Need a hand? Press Help and an advisor joins you on video.");
      break;
    case "help.queued":
      onQueued(msg);
      break;
    case "help.closed":
      page.requestId = null;
      setState("ready", closedText(msg.outcome));
      break;
    case "session.started":
      startCall(msg);
      break;
    case "signal":
      if (page.call && msg.session_id === page.sessionId) page.call.handleSignal(msg);
      break;
    case "session.ended":
      onEnded(msg);
      break;
    case "error":
      console.warn(`mayday: server error ${msg.code}: ${msg.message}`);
      break;
    default:
      console.warn(`mayday: tablet ignores unknown frame type "${msg.type}"`, msg);
  }
}

function onQueued(msg) {
  if (page.sessionId !== null) return;
  page.requestId = msg.request_id;
  // Kept after the call: the reference a support person or a test asks for.
  document.body.dataset.requestId = msg.request_id;
  ui.position.textContent = positionText(msg);
  if (msg.state === "offered") {
    setState("offered", "An advisor is being asked to take your call…");
  } else {
    setState("queued", "You are in line for an advisor.");
  }
}

function positionText({ position, estimated_wait_s: wait }) {
  const place = position === 1 ? "You are next in line." : `You are number ${position} in line.`;
  if (wait === null) return `${place} No advisor is online right now; you keep your place.`;
  if (wait < 1) return `${place} An advisor should be with you any moment.`;
  if (wait < 90) return `${place} About ${Math.round(wait)} seconds to wait.`;
  return `${place} About ${Math.round(wait / 60)} minutes to wait.`;
}

function closedText(outcome) {
  switch (outcome) {
    case "cancelled":
      return "Request cancelled. Press Help whenever you need it.";
    case "expired":
      return "Nobody could take your request in time. Please press Help again.";
    default:
      return `Your request was closed (${outcome}). Press Help to ask again.`;
  }
}

function onEnded(msg) {
  if (msg.session_id !== page.sessionId) return;
  endCall();
  page.requestId = null;
  let text = `${page.advisorName || "The advisor"} ended the call.`;
  if (msg.by === "user") text = "You ended the call.";
  else if (msg.reason === "disconnected") text = "The advisor's connection dropped.";
  setState("ended", `Call ended. ${text} Press Help if you need more help.`);
}

// ------------------------------------------------------------ the call

function startCall(started) {
  page.sessionId = started.session_id;
  page.advisorName = started.peer.name;
  setState("connecting", `${started.peer.name} is joining. Connecting video…`);
  page.call = new Call({
    signaling,
    started,
    localStream: localMedia(),
    remoteVideo: ui.video,
    remoteAudio: ui.audio,
    onState: (state) => onMediaState(state, started.peer.name),
  });
  page.call.start();
}

function onMediaState(state, name) {
  switch (state) {
    case "first_frame":
      setState("connected", `You are talking with ${name}. They can see your screen.`);
      break;
    case "disconnected":
      setState("connecting", "The video connection is unstable. Reconnecting…");
      break;
    case "failed":
      setState("connecting", "The video connection failed. You can end the call and try again.");
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

/** The microphone, if there is one and the user allows it; the call goes on without. */
function openMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) return Promise.resolve(null);
  return navigator.mediaDevices.getUserMedia({ audio: true }).catch((err) => {
    console.info("mayday: no microphone, the advisor will not hear you", err);
    return null;
  });
}

/**
 * The screen, and the microphone when it is open. A permission prompt left
 * unanswered must not hold the advisor's video back: after a few seconds the
 * call starts with the screen alone.
 */
async function localMedia() {
  const tracks = [screenTrack];
  const patience = new Promise((resolve) => setTimeout(resolve, MICROPHONE_PATIENCE_MS, null));
  const microphone = await Promise.race([page.microphone ?? null, patience]);
  if (microphone) tracks.push(...microphone.getAudioTracks());
  return new MediaStream(tracks);
}

// ------------------------------------------------------------ buttons

ui.help.addEventListener("click", async () => {
  setState("requesting", "Asking for an advisor…");
  // Opened now, while the user waits in line, so the call does not wait for it.
  page.microphone ??= openMicrophone();
  try {
    const ack = await signaling.call("help.request", {
      topic: "Settings",
      language: navigator.language,
      device: { kind: "tablet", platform: navigator.platform || "web" },
    });
    page.requestId = ack.request_id;
  } catch (err) {
    setState("ready", `Could not ask for help: ${err.message}. Please try again.`);
  }
});

ui.cancel.addEventListener("click", async () => {
  if (!page.requestId) return;
  try {
    await signaling.call("help.cancel", { request_id: page.requestId });
  } catch (err) {
    // The request may have just been taken; the next frame says what happened.
    console.warn("mayday: cancel refused", err);
  }
});

ui.end.addEventListener("click", async () => {
  if (!page.sessionId) return;
  try {
    await signaling.call("session.end", { session_id: page.sessionId, reason: "user_ended" });
  } catch (err) {
    console.warn("mayday: end refused", err);
  }
});

if (pageToken()) {
  signaling.connect();
} else {
  setState("offline", "This page needs a token: open it as /tablet?token=…");
}
