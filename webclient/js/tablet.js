// The tablet page: press Help, wait in line, see the advisor, share the screen.

import { Drawing } from "./annotations.js";
import { Call } from "./call.js";
import { runDemoScreen } from "./demo-screen.js";
import { MuteButton } from "./mute.js";
import { ScreenSource } from "./screen-source.js";
import { Gate, SignIn } from "./sign-in.js";
import { Signaling } from "./signaling.js";
import { WaitView, noAdvisor, noAdvisorText } from "./wait-view.js";

const $ = (id) => document.getElementById(id);
const ui = {
  who: $("who"),
  status: $("status"),
  position: $("queue-position"),
  signIn: $("sign-in"),
  help: $("help-button"),
  cancel: $("cancel-button"),
  mute: $("mute-button"),
  end: $("end-button"),
  video: $("advisor-video"),
  audio: $("advisor-audio"),
  screen: $("screen"),
  share: $("share-screen-button"),
  screenSource: $("screen-source"),
  overlay: $("annotation-overlay"),
  prompt: $("control-prompt"),
  grant: $("control-grant"),
  deny: $("control-deny"),
  banner: $("control-banner"),
  bannerText: $("control-banner-text"),
  revoke: $("control-revoke"),
  pause: $("share-pause"),
};

// Which controls each state shows; everything not listed is hidden.
const SHOWN = {
  offline: [],
  refused: [],
  unreachable: ["help"],
  ready: ["help", "share"],
  requesting: ["help", "share"],
  queued: ["position", "cancel", "share"],
  "no-advisor": ["position", "cancel", "share"],
  offered: ["position", "cancel", "share"],
  connecting: ["video", "mute", "end", "share", "pause"],
  connected: ["video", "mute", "end", "share", "pause"],
  "advisor-left": ["help", "share"],
  ended: ["help", "share"],
};
const TOGGLED = ["position", "help", "cancel", "video", "mute", "end", "share", "pause"];
const HELP_ENABLED = new Set(["ready", "ended", "advisor-left"]);
const MICROPHONE_PATIENCE_MS = 4000;
const READY_TEXT = "Need a hand? Press Help and an advisor joins you on video.";

const page = {
  state: "offline",
  advisorLost: null,
  requestId: null,
  call: null,
  sessionId: null,
  advisorName: "",
  microphone: null, // Promise<MediaStream | null>, opened at the first Help
  control: "off", // co-pilot consent in the current session
  paused: false, // screen sharing paused by the user
};

const demo = runDemoScreen(ui.screen, 15);
const overlay = new Drawing(ui.overlay);
const screen = new ScreenSource(ui.screen, onScreenChanged);
const waitView = new WaitView(ui.position);
const mute = new MuteButton(ui.mute);
const signIn = new SignIn("tablet", ui.signIn);
const gate = new Gate({
  signIn,
  setState,
  state: () => page.state,
  status: ui.status,
  kind: "tablet (user)",
  article: "a",
  thisPage: ", and this page is a tablet",
  leave: () => leave(),
});
const signaling = new Signaling({
  onMessage,
  onStatus: (status, detail) => gate.onStatus(status, detail),
});
gate.signaling = signaling;

function setState(state, text) {
  if (state !== page.state) console.info(`mayday: tablet ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
  const shown = new Set(SHOWN[state]);
  if (!ScreenSource.supported) shown.delete("share");
  for (const name of TOGGLED) ui[name].hidden = !shown.has(name);
  ui.help.disabled = !HELP_ENABLED.has(state);
}

// ------------------------------------------------------------ server frames

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      onHello(msg);
      break;
    case "help.queued":
      onQueued(msg);
      break;
    case "help.closed":
      forgetRequest();
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
    case "peer.disconnected":
      if (msg.session_id === page.sessionId) {
        ui.status.textContent = `${page.advisorName || "Your advisor"}'s connection dropped; waiting for them to come back.`;
      }
      break;
    case "peer.reconnected":
      if (msg.session_id === page.sessionId) ui.status.textContent = `${page.advisorName || "Your advisor"} is back.`;
      break;
    case "annotation":
      if (msg.session_id === page.sessionId) overlay.apply(msg);
      break;
    case "annotation.snapshot":
      if (msg.session_id !== page.sessionId) break;
      overlay.load(msg.strokes);
      setPaused(msg.paused);
      setControl(msg.control);
      break;
    case "control.state":
      if (msg.session_id === page.sessionId) setControl(msg.state);
      break;
    case "control.input":
      if (msg.session_id === page.sessionId) performInput(msg);
      break;
    case "share.state":
      if (msg.session_id === page.sessionId) setPaused(msg.paused);
      break;
    case "error":
      console.warn(`mayday: server error ${msg.code}: ${msg.message}`);
      break;
    default:
      console.warn(`mayday: tablet ignores unknown frame type "${msg.type}"`, msg);
  }
}

function onHello(msg) {
  if (msg.role !== "user") {
    gate.wrongRole(msg.role);
    return;
  }
  ui.who.textContent = `${msg.name} (tablet)`;
  setState("ready", READY_TEXT);
}

function onQueued(msg) {
  if (page.sessionId !== null) return;
  page.requestId = msg.request_id;
  // Kept after the call: the reference a support person or a test asks for.
  document.body.dataset.requestId = msg.request_id;
  waitView.show(msg);
  if (page.advisorLost && msg.state === "queued") {
    setState("queued", `${page.advisorLost} was disconnected; you are first in line for the next advisor.`);
  } else if (msg.state === "offered") {
    setState("offered", "An advisor is being asked to take your call…");
  } else if (noAdvisor(msg)) {
    setState("no-advisor", `${noAdvisorText(msg)} You stay in line.`);
  } else {
    setState("queued", "You are in line for an advisor.");
  }
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
  const name = page.advisorName || "The advisor";
  if (msg.reason === "advisor_lost") {
    // The request goes back to the head of the queue: keep it, wait for the next advisor.
    endCall();
    page.advisorLost = name;
    setState("queued", `${name} was disconnected; you are first in line for the next advisor.`);
    return;
  }
  leave();
  if (msg.by === "advisor" && msg.reason === "disconnected") {
    setState("advisor-left", `${name} left: their connection dropped. Press Help to ask again.`);
    return;
  }
  const who = msg.by === "user" ? "You ended the call." : `${name} ended the call.`;
  setState("ended", `Call ended. ${who} Press Help if you need more help.`);
}

function forgetRequest() {
  page.requestId = null;
  waitView.stop();
}

function leave() {
  endCall();
  forgetRequest();
}

// ------------------------------------------------------------ the call

function startCall(started) {
  page.advisorLost = null;
  waitView.stop();
  page.sessionId = started.session_id;
  page.advisorName = started.peer.name;
  mute.set(false);
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
  overlay.reset();
  setControl("off");
  setPaused(false);
  // The real screen is shared for one call at most: the next one starts with the demo.
  screen.stopDisplay();
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
  const patience = new Promise((resolve) => setTimeout(resolve, MICROPHONE_PATIENCE_MS, null));
  const microphone = await Promise.race([page.microphone ?? null, patience]);
  mute.use(microphone);
  return new MediaStream([screen.track, ...(microphone?.getAudioTracks() ?? [])]);
}

// ------------------------------------------------------------ the shared screen

function onScreenChanged(source) {
  page.call?.replaceTrack(source.track).catch((err) => {
    console.warn("mayday: could not switch the shared screen", err);
  });
  ui.share.setAttribute("aria-pressed", String(source.sharingDisplay));
  ui.share.textContent = source.sharingDisplay
    ? "Share the demo screen instead"
    : "Share my real screen";
  ui.screenSource.textContent = source.sharingDisplay
    ? "The advisor sees your real screen until this call ends."
    : "During a call the advisor sees this demo screen.";
}

ui.share.addEventListener("click", async () => {
  if (screen.sharingDisplay) {
    screen.stopDisplay();
    return;
  }
  const refused = await screen.shareDisplay();
  if (refused) {
    ui.screenSource.textContent =
      `Your real screen is not shared (${refused}); the advisor sees this demo screen.`;
  }
});

// ------------------------------------------------------------ annotations and control

function setControl(state) {
  if (state !== page.control) console.info(`mayday: control ${page.control} -> ${state}`);
  page.control = state;
  const name = page.advisorName || "The advisor";
  ui.prompt.hidden = state !== "requested";
  ui.banner.hidden = state !== "granted";
  ui.bannerText.textContent = `${name} has control of your screen.`;
  document.getElementById("control-prompt-text").textContent =
    `${name} asks to control your screen. They will be able to tap and scroll for you ` +
    "until you press Stop.";
}

/** Paused, the advisor sees a still black picture, and cannot draw or tap. */
function setPaused(paused) {
  page.paused = paused;
  screen.track.enabled = !paused;
  ui.pause.setAttribute("aria-pressed", String(paused));
  ui.pause.textContent = paused ? "Resume sharing" : "Pause sharing";
}

/** The advisor's tap or scroll, done on the demo screen (a real screen cannot be driven). */
function performInput(msg) {
  if (page.control !== "granted") return;
  if (screen.sharingDisplay) {
    ui.screenSource.textContent = "The advisor tapped, but only the demo screen can be driven.";
    return;
  }
  const [x, y] = msg.point;
  if (msg.action === "tap") demo.tapAt(x, y);
  else demo.scrollBy(msg.delta[1]);
}

async function consent(type) {
  if (!page.sessionId) return;
  try {
    await signaling.call(type, { session_id: page.sessionId });
  } catch (err) {
    console.info(`mayday: ${type} refused`, err);
  }
}

ui.grant.addEventListener("click", () => consent("control.grant"));
ui.deny.addEventListener("click", () => consent("control.deny"));
ui.revoke.addEventListener("click", () => consent("control.revoke"));
ui.pause.addEventListener("click", () => consent(page.paused ? "share.resume" : "share.pause"));

// ------------------------------------------------------------ buttons

ui.help.addEventListener("click", async () => {
  setState("requesting", "Asking for an advisor…");
  waitView.start();
  // Opened now, while the user waits in line, so the call does not wait for it.
  page.microphone ??= openMicrophone();
  try {
    const ack = await signaling.call("help.request", {
      topic: "Settings",
      language: navigator.language,
      device: { kind: "tablet", platform: navigator.platform || "web" },
    });
    page.requestId ??= ack.request_id;
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
    console.info("mayday: cancel refused", err);
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

// ------------------------------------------------------------ start

const token = signIn.initial();
if (token) {
  signaling.connect(token);
} else {
  setState("offline", "Sign in to ask for help.");
  gate.askToken("Paste a tablet (user) token: `mayday token --role user --sub tablet-1` prints one.");
}
