// The tablet page: press Help, wait in line, see the advisor, share the screen.

import { Drawing } from "./annotations.js";
import { Call } from "./call.js";
import { runDemoScreen } from "./demo-screen.js";
import { MuteButton } from "./mute.js";
import { Pip } from "./pip.js";
import { RatingPrompt } from "./rating.js";
import { ScreenSource } from "./screen-source.js";
import { Gate, SignIn, linkRestored } from "./sign-in.js";
import { Signaling } from "./signaling.js";
import { TokenRefresh, sameSiteAddress } from "./token-refresh.js";
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
  video: $("advisor-pip"),
  advisorVideo: $("advisor-video"),
  pauseBanner: $("share-paused-banner"),
  transferBanner: $("transfer-banner"),
  refusedBox: $("token-refused"),
  refusedText: $("token-refused-text"),
  renew: $("token-renew"),
  accessCode: $("access-code"),
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
  leaveMessage: $("leave-message"),
  reply: $("message-reply"),
  replyFrom: $("message-reply-from"),
  replyText: $("message-reply-text"),
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
  // Nobody answered within the time to live: Help again, or leave a message.
  expired: ["help", "share"],
};
const TOGGLED = ["position", "help", "cancel", "video", "mute", "end", "share", "pause"];
const HELP_ENABLED = new Set(["ready", "ended", "advisor-left", "expired"]);
// What the server keeps through a drop of this page's socket.
const LIVE = new Set(["requesting", "queued", "no-advisor", "offered", "connecting", "connected"]);
const ADVISOR_AWAY_TEXT = "Your advisor's connection dropped; waiting for them to come back.";
const ADVISOR_LOST_TEXT = "Your advisor was disconnected; you are first in line for the next advisor.";
const MICROPHONE_PATIENCE_MS = 4000;
const READY_TEXT = "Need a hand? Press Help and an advisor joins you on video.";
const EXPIRED_TEXT =
  "Nobody could take your request in time. Leave a message below, or press Help again.";
const RENEW_KEY = "mayday.renew.tablet";
// Every refusal the server can give, in words for someone who is not a developer; the
// server's own message is for the console log only.
const HELP_ERRORS = {
  invalid_state: "You already asked for help and your request is still open. Please wait, or cancel it first.",
  rate_limited: "That was a lot of taps at once. Please wait a moment, then press Help again.",
  not_connected: "The help service can't be reached right now. Please try again in a moment.",
  timeout: "The help service did not answer in time. Please press Help again.",
};
const SOMETHING_WENT_WRONG = "Something went wrong on our side. Please press Help again.";

const page = {
  state: "offline",
  stateText: "", // the status line of the state, shown again after a drop
  started: null, // the session.started of the call, to start it anew
  advisorLost: null,
  requestId: null,
  call: null,
  sessionId: null,
  advisorName: "",
  microphone: null, // Promise<MediaStream | null>, opened at the first Help
  control: "off", // co-pilot consent in the current session
  paused: false, // screen sharing paused by the user
  offline: false, // the last help.queued said nobody can answer: a message may be left
  transferring: null, // what to say while a transferred call waits for its next advisor
  transferTo: null, // "to Bo" or "to a colleague who knows printers", from session.transferring
};

const demo = runDemoScreen(ui.screen, 15);
const overlay = new Drawing(ui.overlay);
const pip = new Pip({
  box: ui.video,
  frame: $("stage-frame"),
  dock: $("pip-dock"),
  screen: ui.screen,
  move: $("pip-move"),
  size: $("pip-size"),
  strokeBoxes: () => overlay.bounds(),
});
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
  onRefused: (why) => refused(why),
  live: () => LIVE.has(page.state),
});
const signaling = new Signaling({
  onMessage,
  onStatus: (status, detail) => gate.onStatus(status, detail),
  storageKey: "mayday.resume.tablet",
});
gate.signaling = signaling;
const tokenRefresh = new TokenRefresh({ signaling, signIn, page: "tablet" });
const rating = new RatingPrompt({
  form: $("rating-prompt"),
  question: $("rating-question"),
  stars: $("rating-stars"),
  comment: $("rating-comment"),
  send: $("rating-send"),
  skip: $("rating-skip"),
  error: $("rating-error"),
  thanks: $("rating-thanks"),
  rate: (fields) => signaling.call("session.rate", fields),
});

function setState(state, text) {
  if (state !== page.state) console.info(`mayday: tablet ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) {
    page.stateText = text;
    ui.status.textContent = text;
  }
  const shown = new Set(SHOWN[state]);
  if (!ScreenSource.supported) shown.delete("share");
  for (const name of TOGGLED) ui[name].hidden = !shown.has(name);
  ui.leaveMessage.hidden = !((state === "no-advisor" && page.offline) || state === "expired");
  ui.help.disabled = !HELP_ENABLED.has(state);
  if (state !== "refused") ui.refusedBox.hidden = true;
  pip.update();
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
    case "message.replied":
      showReply(msg);
      break;
    case "help.closed":
      forgetRequest();
      // An expired request whose user is here: the server offers the message form.
      if (msg.leave_message === true) setState("expired", EXPIRED_TEXT);
      else setState("ready", closedText(msg.outcome));
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
    case "session.transferring":
      if (msg.session_id === page.sessionId) onTransferring(msg);
      break;
    case "transfer.failed":
      if (msg.session_id === page.sessionId) onTransferFailed();
      break;
    case "peer.disconnected":
      if (msg.session_id === page.sessionId) ui.status.textContent = ADVISOR_AWAY_TEXT;
      break;
    case "peer.reconnected":
      if (msg.session_id === page.sessionId) onPeerBack(msg);
      break;
    case "annotation":
      if (msg.session_id !== page.sessionId) break;
      overlay.apply(msg);
      if (msg.kind !== "laser") pip.update();
      break;
    case "annotation.snapshot":
      if (msg.session_id !== page.sessionId) break;
      overlay.load(msg.strokes);
      pip.update();
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
    case "auth.expiring":
      tokenRefresh.onExpiring(msg);
      break;
    case "error":
      // Candidates still in flight when a session ends are refused: expected, not a fault.
      if (msg.code === "invalid_state" && page.sessionId === null) {
        console.info(`mayday: late frame refused: ${msg.message}`);
      } else {
        console.warn(`mayday: server error ${msg.code}: ${msg.message}`);
      }
      break;
    case "delivery.failed":
      // A signal acked on its way to the peer's node reached no socket: the peer is
      // gone for now, and peer.disconnected or session.ended says what happens next.
      console.info(`mayday: a signal did not reach the peer: ${msg.message}`);
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
  ui.who.textContent = msg.name;
  ui.accessCode.hidden = true;
  linkRestored();
  if (msg.resumed && LIVE.has(page.state)) {
    ui.status.textContent = page.stateText; // taken up where it was: nothing was lost
    return;
  }
  // A new stream: what the page held is void; the server sends what is open.
  leave();
  setState("ready", READY_TEXT);
}

/** The advisor is back; without their state (a reload) the call starts anew. */
function onPeerBack(msg) {
  ui.status.textContent = `${page.advisorName || "Your advisor"} is back.`;
  if (msg.resumed === false && page.call) {
    page.call.close();
    page.call = newCall(page.started);
    setState("connecting", `${page.advisorName} is back. Connecting video again…`);
  }
}

function onQueued(msg) {
  if (page.sessionId !== null) return;
  page.requestId = msg.request_id;
  page.offline = msg.offline === true;
  // Kept after the call: the reference a support person or a test asks for.
  document.body.dataset.requestId = msg.request_id;
  waitView.show(msg);
  if (page.advisorLost && msg.state === "queued") {
    setState("queued", ADVISOR_LOST_TEXT);
  } else if (page.transferring && msg.state === "queued") {
    setState("queued", page.transferring);
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
    case "message":
      return "Your message was sent. An advisor's reply will show here when you open Help.";
    default:
      return "Your request was closed. Press Help to ask again.";
  }
}

function onEnded(msg) {
  if (msg.session_id !== page.sessionId) return;
  const name = page.advisorName || "The advisor";
  if (msg.reason === "advisor_lost") {
    // The request goes back to the head of the queue: keep it, wait for the next advisor.
    endCall();
    page.advisorLost = name;
    setState("queued", ADVISOR_LOST_TEXT);
    return;
  }
  if (msg.reason === "transferred") {
    // Handed on: a new session follows (warm) or the request waits again (cold).
    endCall();
    page.transferring = page.transferTo
      ? `You are being transferred ${page.transferTo}…`
      : `You are being transferred from ${name} to another advisor…`;
    showTransferBanner(null);
    setState("queued", page.transferring);
    return;
  }
  leave();
  // The call is over (not waiting for the next advisor): ask how it went.
  rating.offer(msg.session_id, page.advisorName);
  if (msg.by === "advisor" && msg.reason === "disconnected") {
    setState("advisor-left", `${name} left: their connection dropped. Press Help to ask again.`);
    return;
  }
  const who = msg.by === "user" ? "You ended the call." : `${name} ended the call.`;
  setState("ended", `Call ended. ${who} Press Help if you need more help.`);
}

/** Where the advisor is handing this call on: said at once, while the call goes on (warm). */
function onTransferring(msg) {
  const skills = msg.to.skills ?? [];
  page.transferTo = msg.to.name
    ? `to ${msg.to.name}`
    : `to a colleague who knows ${skills.join(", ") || "this"}`;
  showTransferBanner(`You are being transferred ${page.transferTo}…`);
}

/** The colleague did not take the call: the user stays with their advisor. */
function onTransferFailed() {
  page.transferTo = null;
  showTransferBanner(null);
}

function showTransferBanner(text) {
  ui.transferBanner.textContent = text ?? "";
  ui.transferBanner.hidden = !text;
}

/** An advisor's reply to a message this user left: shown, then marked read. */
function showReply(msg) {
  ui.replyFrom.textContent = `${msg.advisor.name} replied to your message:`;
  ui.replyText.textContent = msg.text;
  ui.reply.hidden = false;
  ui.reply.dataset.messageId = msg.message_id;
  signaling.call("message.read", { message_id: msg.message_id }).catch((err) => {
    // Shown again at the next open: no harm.
    console.info("mayday: message.read refused", err);
  });
}

function forgetRequest() {
  page.offline = false;
  page.transferring = null;
  page.transferTo = null;
  showTransferBanner(null);
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
  page.transferring = null;
  if (started.session_id !== page.sessionId) {
    // A new session (a warm transfer taken): no transfer of it is pending.
    page.transferTo = null;
    showTransferBanner(null);
  }
  waitView.stop();
  rating.dismiss();
  if (page.call) page.call.close(); // the same session sent again: a new call
  page.sessionId = started.session_id;
  page.started = started;
  page.requestId = started.request_id;
  document.body.dataset.requestId = started.request_id;
  page.advisorName = started.peer.name;
  mute.set(false);
  setState("connecting", `${started.peer.name} is joining. Connecting video…`);
  page.call = newCall(started);
}

function newCall(started) {
  const call = new Call({
    signaling,
    started,
    localStream: localMedia(),
    remoteVideo: ui.advisorVideo,
    remoteAudio: ui.audio,
    onState: (state) => onMediaState(state, started.peer.name),
  });
  call.start();
  return call;
}

function onMediaState(state, name) {
  switch (state) {
    case "first_frame":
      setState("connected", callText());
      break;
    case "disconnected":
      setState("connecting", "The video connection is unstable. Reconnecting…");
      break;
    case "failed":
      setState("connecting", "The video stopped working. Please end the call and press Help again.");
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
  pip.update();
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
  showPaused();
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
  document.getElementById("control-prompt-text").textContent =
    `${name} asks to control your screen. They will be able to tap and scroll for you ` +
    "until you press Stop.";
  showPaused();
}

/** Paused, the advisor sees a still black picture, and cannot draw or tap. */
function setPaused(paused) {
  page.paused = paused;
  screen.track.enabled = !paused;
  ui.pause.setAttribute("aria-pressed", String(paused));
  ui.pause.textContent = paused ? "Resume sharing" : "Pause sharing";
  showPaused();
  if (page.state === "connected") setState("connected", callText());
}

/** Every line that speaks of what the advisor sees says the same while sharing is paused. */
function showPaused() {
  const name = page.advisorName || "The advisor";
  const paused = page.paused && page.sessionId !== null;
  ui.pauseBanner.hidden = !paused;
  ui.pauseBanner.textContent = `Sharing paused: ${name} sees a dark screen and cannot draw or tap.`;
  ui.bannerText.textContent = paused
    ? `Sharing paused: ${name} cannot see or control your screen until you resume.`
    : `${name} has control of your screen.`;
  document.body.dataset.paused = String(paused);
  if (paused) {
    ui.screenSource.textContent = `Sharing is paused. Press Resume sharing to let ${name} see your screen again.`;
  } else {
    ui.screenSource.textContent = screen.sharingDisplay
      ? "The advisor sees your real screen until this call ends."
      : "During a call the advisor sees this demo screen.";
  }
}

/** What the status says during a call. */
function callText() {
  const name = page.advisorName || "The advisor";
  return page.paused
    ? `Sharing paused. You are talking with ${name}; they can hear you but cannot see your screen.`
    : `You are talking with ${name}. They can see your screen.`;
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
    ui.screenSource.textContent = "That did not work. Please try again.";
  }
}

ui.grant.addEventListener("click", () => consent("control.grant"));
ui.deny.addEventListener("click", () => consent("control.deny"));
ui.revoke.addEventListener("click", () => consent("control.revoke"));
ui.pause.addEventListener("click", () => consent(page.paused ? "share.resume" : "share.pause"));

// ------------------------------------------------------------ buttons

ui.help.addEventListener("click", async () => {
  rating.dismiss(); // the prompt never stands in the way of asking again
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
    console.info("mayday: help.request refused", err);
    setState("ready", HELP_ERRORS[err.code] ?? SOMETHING_WENT_WRONG);
  }
});

ui.leaveMessage.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(ui.leaveMessage);
  const text = String(form.get("text") || "").trim();
  if (!text) return;
  const fields = { text };
  const contact = String(form.get("contact") || "").trim();
  if (contact) fields.contact = contact;
  if (page.requestId) fields.request_id = page.requestId;
  try {
    await signaling.call("message.leave", fields);
    ui.leaveMessage.reset();
    // The request it replaced is closed (help.closed, outcome message); without one
    // (none waiting, or the one that expired):
    if (page.state === "no-advisor" || page.state === "expired") {
      setState("ready", closedText("message"));
    }
  } catch (err) {
    console.info("mayday: message.leave refused", err);
    ui.status.textContent =
      err.code === "rate_limited"
        ? "You already left several messages. Please wait for a reply."
        : "Your message could not be sent. Please try again.";
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

// ------------------------------------------------------------ a refused link

/**
 * The link's token was refused (expired, or not a tablet's): say so in plain words and
 * offer the way back the integrator set up: `?renew=/same-origin/path` in the tablet
 * link (the button goes there, and the integrator sends the page back with a new
 * token), or, in a frame, a `mayday.token-refused` message to the parent page, which
 * may answer `{type: "mayday.token", token}`. See docs/protocol.md.
 */
function refused(why) {
  ui.refusedText.textContent = "Please open Help again from your app: it will give this page a new link.";
  setState(
    "refused",
    why === "wrong_role"
      ? "This link does not open the help page."
      : "This help link has expired or is no longer valid.",
  );
  const renew = renewUrl();
  ui.renew.hidden = renew === null;
  if (renew !== null) ui.refusedText.textContent = "Press the button to get a new link.";
  ui.refusedBox.hidden = false;
  ui.accessCode.hidden = false;
  ui.accessCode.open = false;
  if (window.parent !== window) window.parent.postMessage({ type: "mayday.token-refused", reason: why }, "*");
  gate.askToken("Enter the access code you were given.");
}

/** The integrator's renewal address, from this link or an earlier one in this tab. */
function renewUrl() {
  return sameSiteAddress("renew", RENEW_KEY);
}

ui.renew.addEventListener("click", () => {
  const renew = renewUrl();
  if (renew) location.assign(renew);
});

// A parent page (the integrator's app in a frame) may hand over a new token.
window.addEventListener("message", (event) => {
  if (event.source !== window.parent || window.parent === window) return;
  const { type, token: fresh } = event.data ?? {};
  if (type !== "mayday.token" || typeof fresh !== "string" || !fresh) return;
  if (signaling.isOpen) {
    tokenRefresh.offer(fresh); // a renewal before the old one expires
    return;
  }
  signIn.remember(fresh);
  ui.refusedBox.hidden = true;
  setState("offline", "Connecting to the help service…");
  signaling.connect(fresh);
});

// ------------------------------------------------------------ start

renewUrl(); // kept for this tab now: the address may change before a refusal
const token = signIn.initial();
if (token) {
  signaling.connect(token);
} else {
  setState("offline", "Sign in to ask for help.");
  ui.accessCode.hidden = false;
  ui.accessCode.open = true;
  gate.askToken("Enter the access code you were given.");
}
