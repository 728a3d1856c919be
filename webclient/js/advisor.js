// The advisor console: go available, take an offered request, see the user's screen.

import { Call } from "./call.js";
import { CallerView } from "./caller.js";
import { DrawTools } from "./draw-tools.js";
import { Inbox } from "./inbox.js";
import { MuteButton } from "./mute.js";
import { QueueSummary, formatSeconds } from "./queue-summary.js";
import { Ringer } from "./ring.js";
import { Gate, SignIn, linkRestored } from "./sign-in.js";
import { Signaling } from "./signaling.js";
import { TokenRefresh } from "./token-refresh.js";
import { StatusLine } from "./status-line.js";
import { Transfer } from "./transfer.js";

const $ = (id) => document.getElementById(id);
const ui = {
  who: $("who"),
  status: $("status"),
  signIn: $("sign-in"),
  toggle: $("availability-toggle"),
  mute: $("mute-button"),
  end: $("end-button"),
  timer: $("call-timer"),
  offer: $("offer"),
  offerUser: $("offer-user"),
  offerTopic: $("offer-topic"),
  offerWaited: $("offer-waited"),
  countdown: $("offer-countdown"),
  warning: $("offer-warning"),
  offerTransfer: $("offer-transfer"),
  transfer: $("transfer-button"),
  accept: $("accept-button"),
  decline: $("decline-button"),
  claimList: $("claim-list"),
  claimItems: $("claim-items"),
  caller: $("caller"),
  wrapUp: $("wrap-up"),
  wrapUpNote: $("wrap-up-note"),
  wrapUpSave: $("wrap-up-save"),
  wrapUpSkip: $("wrap-up-skip"),
  selfVideo: $("self-video"),
  screenVideo: $("screen-video"),
  audio: $("user-audio"),
  queue: $("queue-summary"),
  inbox: $("inbox"),
  toolbar: $("toolbar"),
  layer: $("annotation-layer"),
  controlRequest: $("control-request"),
  controlStatus: $("control-status"),
  sharePaused: $("share-paused"),
  mediaFailed: $("media-failed"),
};
const TOOL_NAMES = ["pen", "arrow", "box", "highlight", "laser", "tap", "undo", "clear"];

// Which controls each state shows; everything not listed is hidden. The caller's context
// and the wrap-up form also need something to show (see `setState`).
const IN_CALL = ["mute", "transfer", "end", "toolbar", "controlStatus", "caller", "timer"];
const SHOWN = {
  offline: [],
  refused: [],
  unreachable: ["toggle", "inbox"],
  away: ["toggle", "caller", "wrapUp", "inbox"],
  available: ["toggle", "caller", "wrapUp", "inbox"],
  offered: ["offer", "caller"],
  connecting: IN_CALL,
  connected: IN_CALL,
  failed: [...IN_CALL, "mediaFailed"],
  ended: ["toggle", "caller", "wrapUp", "inbox"],
};
const TOGGLED = [
  "toggle",
  "offer",
  "mute",
  "transfer",
  "end",
  "toolbar",
  "controlStatus",
  "timer",
  "mediaFailed",
  "inbox",
];
// What the console says of co-pilot control, by consent state.
const CONTROL_TEXT = {
  off: "Draw on the user's screen, or ask for control to tap for them.",
  requested: "Waiting for the user to allow control…",
  granted: "You have control: choose Tap, then tap or scroll on the user's screen.",
  denied: "The user did not allow control.",
  revoked: "The user took control back.",
};
const CAN_REQUEST = new Set(["off", "denied", "revoked"]);
const CAN_TOGGLE = new Set(["away", "available", "ended"]);
const IN_SESSION = new Set(["connecting", "connected", "failed"]);
const TIMED_OUT_TEXT = "You let an offer run out, so you were set away.";
const NOT_LIVE = new Set(["offline", "unreachable", "refused"]);
// Warn this long before an offer runs out (a third of a short reservation).
const WARN_BEFORE_S = 5;

const page = {
  me: null, // this advisor's id, from hello
  state: "offline",
  wantsAvailable: false,
  offer: null, // { request_id, timer, warned }
  // Claim mode: every request this advisor may claim, by request id, in arrival order.
  // The oldest is shown in the offer card, the others in the claim list below it.
  claims: new Map(),
  call: null,
  started: null, // the session.started of the call, to start it anew
  sessionId: null,
  requestId: null, // of the current or last call
  callStarted: null, // performance.now() at session.started
  callTimer: null,
  camera: null, // Promise<MediaStream>, opened once
  control: "off", // co-pilot consent in the current session
  paused: false, // the user paused screen sharing
  mediaFailed: false,
  wrapUp: null, // {sessionId, requestId} of the call whose note is still to write
};

const statusLine = new StatusLine(ui.status);
const queueSummary = new QueueSummary(ui.queue);
const mute = new MuteButton(ui.mute);
const ringer = new Ringer();
const caller = new CallerView({
  root: ui.caller,
  facts: $("caller-facts"),
  history: $("caller-history"),
  notes: $("caller-notes"),
});
const signIn = new SignIn("advisor", ui.signIn);
const gate = new Gate({
  signIn,
  setState,
  state: () => page.state,
  status: ui.status,
  kind: "advisor",
  article: "an",
  thisPage: "; this is the advisor console",
  leave: () => leave(),
  // The server keeps an advisor's presence and call through a drop of the socket.
  live: () => !NOT_LIVE.has(page.state),
});
const signaling = new Signaling({
  onMessage,
  onStatus: (status, detail) => gate.onStatus(status, detail),
  storageKey: "mayday.resume.advisor",
});
gate.signaling = signaling;
// Hidden while an offer or a call needs the advisor; what was typed in it stays.
const inbox = new Inbox({
  root: ui.inbox,
  count: $("inbox-count"),
  countWord: $("inbox-count-word"),
  list: $("inbox-items"),
  empty: $("inbox-empty"),
  note: $("inbox-note"),
  signaling,
});
const tokenRefresh = new TokenRefresh({ signaling, signIn, page: "advisor" });
// In a frame, the parent page answers `mayday.token-expiring` with a new token.
window.addEventListener("message", (event) => {
  if (event.source !== window.parent || window.parent === window) return;
  const { type, token: fresh } = event.data ?? {};
  if (type === "mayday.token" && typeof fresh === "string" && fresh) tokenRefresh.offer(fresh);
});
// The call's transfer: the dialog, and what the console says while one is pending.
const transfer = new Transfer({
  button: ui.transfer,
  form: $("transfer-form"),
  status: $("transfer-status"),
  signaling,
  sessionId: () => page.sessionId,
  onNote: (text) => statusLine.note(text),
  me: () => page.me,
});
const tools = new DrawTools({
  layer: ui.layer,
  video: ui.screenVideo,
  buttons: Object.fromEntries(TOOL_NAMES.map((name) => [name, $(`tool-${name}`)])),
  signaling,
  onNote: (text) => {
    ui.controlStatus.textContent = text;
  },
});

/** The one place the console changes state; `note` is a fading line of what just happened. */
function setState(state, text, note = "") {
  if (state !== page.state) console.info(`mayday: advisor ${page.state} -> ${state}`);
  page.state = state;
  document.body.dataset.state = state;
  if (text !== undefined) statusLine.set(text, note);
  const shown = new Set(SHOWN[state]);
  for (const name of TOGGLED) ui[name].hidden = !shown.has(name);
  ui.wrapUp.hidden = !(shown.has("wrapUp") && page.wrapUp !== null);
  const showCaller = shown.has("caller") && (state === "offered" || IN_SESSION.has(state) || page.wrapUp);
  ui.caller.hidden = !(showCaller && caller.caller !== null);
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
  setState(page.wantsAvailable ? "available" : "away", text, note);
}

// ------------------------------------------------------------ the connection

function leave() {
  hideOffer();
  clearClaims();
  endCall();
}

// ------------------------------------------------------------ server frames

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      onHello(msg);
      break;
    case "advisor.state":
      onAdvisorState(msg);
      break;
    case "help.offer":
      if (msg.mode === "claim") addClaim(msg);
      else showOffer(msg);
      break;
    case "help.withdrawn":
      onWithdrawn(msg);
      break;
    case "session.started":
      hideOffer();
      clearClaims();
      startCall(msg);
      break;
    case "signal":
      if (page.call && msg.session_id === page.sessionId) page.call.handleSignal(msg);
      break;
    case "session.ended":
      onEnded(msg);
      break;
    case "session.transferred":
      transfer.onTransferred(msg);
      break;
    case "transfer.failed":
      transfer.onFailed(msg);
      break;
    case "peer.disconnected":
      if (msg.session_id === page.sessionId) {
        ui.status.textContent = "The user's connection dropped; waiting for them to come back.";
      }
      break;
    case "peer.reconnected":
      if (msg.session_id === page.sessionId) onPeerBack(msg);
      break;
    case "queue.summary":
      queueSummary.show(msg);
      break;
    case "annotation.snapshot":
      if (msg.session_id !== page.sessionId) break;
      tools.load(msg.strokes);
      setPaused(msg.paused);
      setControl(msg.control);
      break;
    case "control.state":
      if (msg.session_id === page.sessionId) setControl(msg.state);
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
      console.warn(`mayday: advisor console ignores unknown frame type "${msg.type}"`, msg);
  }
}

function onHello(msg) {
  if (msg.role !== "advisor") {
    gate.wrongRole(msg.role);
    return;
  }
  ui.who.textContent = `${msg.name} (advisor)`;
  page.me = msg.sub;
  linkRestored();
  inbox.start();
  if (msg.resumed && !NOT_LIVE.has(page.state)) {
    statusLine.set(statusLine.text); // taken up where it was: nothing was lost
    return;
  }
  // A new stream: what the console held is void; the server sends what is open.
  leave();
  // Past the grace the server forgot this advisor: say again what we were.
  if (page.wantsAvailable) signaling.send("advisor.state", { state: "available" });
  idle();
}

/** The user is back; without their state (a reload) the call starts anew. */
function onPeerBack(msg) {
  ui.status.textContent = "The user is back.";
  if (msg.resumed === false && page.call) {
    page.call.close();
    page.call = newCall(page.started);
    setState("connecting", `The user is back. Connecting to ${page.started.peer.name} again…`);
  }
}

function onAdvisorState(msg) {
  page.wantsAvailable = msg.state === "available";
  if (!page.wantsAvailable) clearClaims();
  if (msg.reason === "offer_timeout") {
    hideOffer();
    idle(TIMED_OUT_TEXT);
  } else if (CAN_TOGGLE.has(page.state)) {
    idle();
  }
}

function onWithdrawn(msg) {
  if (page.claims.has(msg.request_id)) {
    if (page.offer?.request_id === msg.request_id) {
      nextOrIdle(msg.request_id, withdrawnText(msg.reason));
    } else {
      page.claims.delete(msg.request_id);
      renderClaimList();
    }
    return;
  }
  if (page.offer?.request_id !== msg.request_id) return;
  hideOffer();
  if (msg.reason === "timeout") {
    // The server sets an advisor who let an offer lapse away (advisor.state follows).
    page.wantsAvailable = false;
    idle(TIMED_OUT_TEXT);
  } else {
    idle(withdrawnText(msg.reason));
  }
}

function withdrawnText(reason) {
  switch (reason) {
    case "cancelled":
      return "The user cancelled the request.";
    case "abandoned":
      return "The user left before you answered.";
    case "claimed":
      return "Another advisor claimed it first.";
    case "offered":
      return "It is being offered to an advisor again.";
    case "expired":
      return "The request waited too long and was closed.";
    case "advisor_away":
      return "You went away, so the offer went to another advisor.";
    case "session_ended":
      return "The call being transferred to you ended first.";
    case "user_dropped":
      return "The user's connection dropped, so the transfer was called off.";
    default:
      return "The offer was withdrawn.";
  }
}

function onEnded(msg) {
  if (msg.session_id !== page.sessionId) return;
  const callerId = caller.caller?.id;
  const handedOn = msg.reason === "transferred" ? transfer.endedText() : null;
  endCall();
  let text = msg.by === "advisor" ? "You ended the call." : "The user ended the call.";
  if (handedOn) text = handedOn;
  if (msg.by === "user" && msg.reason === "disconnected") text = "The user's connection dropped.";
  if (msg.reason === "user_lost") text = "The user's connection dropped and did not come back.";
  if (callerId) page.wrapUp = { sessionId: msg.session_id, requestId: msg.request_id };
  ui.wrapUpNote.value = "";
  const next = page.wantsAvailable ? "You are available for the next request." : "You are away.";
  setState("ended", next, `Call ended. ${text}`);
}

// ------------------------------------------------------------ offers

function showOffer(msg) {
  hideOffer();
  stashWrapUp();
  const now = performance.now();
  // No expiry in claim mode: the request is open to every free advisor until one takes it.
  const expiresAt = msg.expires_in_s === null ? null : now + msg.expires_in_s * 1000;
  const warnAt = msg.expires_in_s === null ? null : Math.min(WARN_BEFORE_S, msg.expires_in_s / 3);
  const waitingSince = now - msg.waited_s * 1000;
  const offer = { request_id: msg.request_id, timer: null, warned: false };
  const tick = () => {
    ui.countdown.textContent = countdownText(expiresAt);
    ui.offerWaited.textContent = formatSeconds((performance.now() - waitingSince) / 1000);
    if (expiresAt !== null && !offer.warned && secondsLeft(expiresAt) <= warnAt) warn(offer, expiresAt);
    if (offer.warned) ui.warning.textContent = warningText(expiresAt);
  };
  offer.timer = setInterval(tick, 250);
  page.offer = offer;
  ui.warning.hidden = true;
  tick();
  ui.offerUser.textContent = msg.user.name;
  const about = [msg.topic, msg.language, ...(msg.skills || [])].filter(Boolean);
  ui.offerTopic.textContent = about.length ? about.join(" · ") : "No topic given";
  ui.accept.disabled = false;
  ui.decline.disabled = false;
  showOfferTransfer(msg.transfer);
  caller.show(msg);
  loadHistory(msg.request_id);
  const what = [msg.topic, expiresAt === null ? "" : `answer within ${msg.expires_in_s} s`];
  ringer.start(`Help request: ${msg.user.name}`, what.filter(Boolean).join(" · "));
  setState("offered", `${msg.user.name} needs help. Accept to start the call.`);
}

/** An offer a colleague transferred: who from, and their note, shown as text. */
function showOfferTransfer(from) {
  ui.offerTransfer.hidden = !from;
  if (!from) return;
  const note = from.note ? `: “${from.note}”` : " (no note)";
  ui.offerTransfer.textContent = `Transferred by ${from.from.name}${note}`;
}

/** The last seconds of an offer: say what a timeout does, and ring faster. */
function warn(offer, expiresAt) {
  offer.warned = true;
  ui.warning.textContent = warningText(expiresAt);
  ui.warning.hidden = false;
  ringer.hurry();
}

function warningText(expiresAt) {
  const left = Math.ceil(secondsLeft(expiresAt));
  return `${left} s left: answer now, or you will be set away.`;
}

async function loadHistory(requestId) {
  try {
    const ack = await signaling.call("help.history", { request_id: requestId });
    if (page.offer?.request_id === requestId || page.requestId === requestId) {
      caller.setHistory(ack.requests);
    }
  } catch (err) {
    console.info("mayday: no history for this caller", err);
    if (page.offer?.request_id === requestId || page.requestId === requestId) caller.setHistory(null);
  }
}

// ------------------------------------------------------------ claim mode

function addClaim(msg) {
  page.claims.set(msg.request_id, { ...msg, since: performance.now() - msg.waited_s * 1000 });
  if (page.state === "offered" || CAN_TOGGLE.has(page.state)) showClaims();
}

/** The longest-waiting claimable request in the offer card, the others listed below. */
function showClaims() {
  const oldest = [...page.claims.values()].sort((a, b) => a.since - b.since)[0];
  if (page.offer?.request_id !== oldest.request_id) {
    const waited = (performance.now() - oldest.since) / 1000;
    showOffer({ ...oldest, waited_s: waited });
  }
  renderClaimList();
}

function renderClaimList() {
  const others = [...page.claims.values()]
    .filter((c) => c.request_id !== page.offer?.request_id)
    .sort((a, b) => a.since - b.since);
  ui.claimItems.replaceChildren(...others.map(claimItem));
  ui.claimList.hidden = others.length === 0 || page.state !== "offered";
}

function claimItem(claim) {
  const item = document.createElement("li");
  item.dataset.requestId = claim.request_id;
  const waited = formatSeconds((performance.now() - claim.since) / 1000);
  const about = [claim.topic, claim.language].filter(Boolean).join(" · ");
  const label = document.createElement("span");
  label.textContent = `${claim.user.name}${about ? ` · ${about}` : ""} · waiting ${waited}`;
  const button = document.createElement("button");
  button.textContent = "Claim";
  button.dataset.testid = "claim-button";
  button.setAttribute("aria-label", `Claim ${claim.user.name}'s request`);
  button.addEventListener("click", () => claimRequest(claim.request_id));
  item.append(label, button);
  return item;
}

async function claimRequest(requestId) {
  ui.accept.disabled = ui.decline.disabled = true;
  try {
    await signaling.call("help.accept", { request_id: requestId });
  } catch (err) {
    page.claims.delete(requestId);
    ui.accept.disabled = ui.decline.disabled = false;
    setState("offered", statusLine.text, `Too late: ${err.message}.`);
    renderClaimList();
  }
}

/** The offer card's request is gone for us: the next claimable one, or idle. */
function nextOrIdle(requestId, note) {
  page.claims.delete(requestId);
  if (page.claims.size) {
    showClaims();
    setState("offered", `${ui.offerUser.textContent} is also waiting.`, note);
    return;
  }
  hideOffer();
  caller.hide();
  renderClaimList();
  idle(note);
}

function clearClaims() {
  page.claims.clear();
  ui.claimItems.replaceChildren();
  ui.claimList.hidden = true;
}

function secondsLeft(expiresAt) {
  return Math.max(0, (expiresAt - performance.now()) / 1000);
}

function countdownText(expiresAt) {
  if (expiresAt === null) return "open to every free advisor";
  return `answer within ${Math.ceil(secondsLeft(expiresAt))} s`;
}

function hideOffer() {
  if (page.offer) clearInterval(page.offer.timer);
  page.offer = null;
  ui.warning.hidden = true;
  ringer.stop();
}

async function accept() {
  if (!page.offer || ui.accept.disabled) return;
  const requestId = page.offer.request_id;
  ui.accept.disabled = ui.decline.disabled = true;
  ringer.stop();
  try {
    await signaling.call("help.accept", { request_id: requestId });
  } catch (err) {
    nextOrIdle(requestId, `Too late: ${err.message}.`);
  }
}

async function decline() {
  if (!page.offer || ui.decline.disabled) return;
  const requestId = page.offer.request_id;
  nextOrIdle(requestId, "Declined; the request goes to another advisor.");
  try {
    await signaling.call("help.decline", { request_id: requestId });
  } catch (err) {
    console.info("mayday: decline refused", err);
  }
}

ui.accept.addEventListener("click", accept);
ui.decline.addEventListener("click", decline);

// A and D answer an offer from anywhere on the page, except while typing.
document.addEventListener("keydown", (event) => {
  if (page.state !== "offered" || event.repeat) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  const key = event.key.toLowerCase();
  if (key === "a") accept();
  else if (key === "d") decline();
  else return;
  event.preventDefault();
});

// ------------------------------------------------------------ the call

function startCall(started) {
  if (page.call) page.call.close(); // the same session sent again: a new call
  if (started.session_id !== page.sessionId) transfer.reset();
  page.started = started;
  page.sessionId = started.session_id;
  page.requestId = started.request_id;
  page.mediaFailed = false;
  tools.setSession(started.session_id);
  page.control = "off";
  setPaused(false);
  mute.set(false);
  if (caller.caller?.id !== started.peer.id) {
    // A console that reconnected mid-call: what the session says of the caller.
    caller.show({ user: started.peer, waited_s: 0, device: {} });
    loadHistory(started.request_id);
  }
  caller.answered();
  startTimer();
  setState("connecting", `Connecting to ${started.peer.name}…`);
  page.call = newCall(started);
}

function newCall(started) {
  const call = new Call({
    signaling,
    started,
    localStream: openCamera(),
    remoteVideo: ui.screenVideo,
    remoteAudio: ui.audio,
    onState: (state) => onMediaState(state, started.peer.name),
  });
  call.start();
  return call;
}

function onMediaState(state, name) {
  if (page.mediaFailed) return; // the call cannot come back; only ending it helps
  switch (state) {
    case "first_frame":
      setState("connected", `In a call with ${name}. You see their screen; they see you.`);
      break;
    case "disconnected":
      setState("connecting", "The video connection is unstable. Reconnecting…");
      break;
    case "failed":
      mediaFailed(name);
      break;
    default:
      break;
  }
}

/** The media is gone: nothing on screen is live, so nothing may act on it. */
function mediaFailed(name) {
  page.mediaFailed = true;
  tools.setEnabled(false);
  ui.controlRequest.disabled = true;
  ui.screenVideo.classList.add("stale");
  ui.controlStatus.textContent = "Drawing and control are off: the video connection failed.";
  setState("failed", `The video connection to ${name} failed. End the call; they can press Help again.`);
}

function startTimer() {
  page.callStarted = performance.now();
  const tick = () => {
    ui.timer.textContent = `Call time ${clockText((performance.now() - page.callStarted) / 1000)}`;
  };
  clearInterval(page.callTimer);
  page.callTimer = setInterval(tick, 1000);
  tick();
}

function clockText(s) {
  const whole = Math.max(0, Math.floor(s));
  const mm = String(Math.floor(whole / 60) % 60).padStart(2, "0");
  const ss = String(whole % 60).padStart(2, "0");
  return whole >= 3600 ? `${Math.floor(whole / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

function endCall() {
  transfer.reset();
  if (page.call) page.call.close();
  page.call = null;
  page.sessionId = null;
  clearInterval(page.callTimer);
  page.callTimer = null;
  tools.setSession(null);
  tools.setEnabled(false);
  ui.sharePaused.hidden = true;
  ui.screenVideo.classList.remove("stale");
}

// ------------------------------------------------------------ the wrap-up note

/** A note typed but not saved is never lost: an offer that interrupts sends it. */
function stashWrapUp() {
  const text = ui.wrapUpNote.value.trim();
  if (page.wrapUp && text) {
    saveNote(page.wrapUp, text).catch((err) => {
      statusLine.note(`The note on the last call could not be saved: ${err.message}.`);
    });
  }
  page.wrapUp = null;
  ui.wrapUp.hidden = true;
}

/** The note goes to the server, which shows it to whoever takes this caller next. */
function saveNote(wrapUp, text) {
  return signaling.call("session.note", { session_id: wrapUp.sessionId, text });
}

ui.wrapUp.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = ui.wrapUpNote.value.trim();
  const wrapUp = page.wrapUp;
  if (!wrapUp) return;
  if (!text) {
    ui.wrapUpNote.focus();
    return;
  }
  ui.wrapUpSave.disabled = true;
  try {
    await saveNote(wrapUp, text);
  } catch (err) {
    // The form stays, with the text, so the advisor can try again or skip.
    statusLine.note(`The note could not be saved: ${err.message}. Try again, or skip it.`);
    return;
  } finally {
    ui.wrapUpSave.disabled = false;
  }
  if (page.wrapUp !== wrapUp) return; // an offer came meanwhile and took the screen
  page.wrapUp = null;
  caller.hide();
  setState(page.state);
  statusLine.note("Note saved.");
});

ui.wrapUpSkip.addEventListener("click", () => {
  page.wrapUp = null;
  caller.hide();
  setState(page.state);
});

// ------------------------------------------------------------ drawing and control

function setControl(state) {
  if (state !== page.control) console.info(`mayday: control ${page.control} -> ${state}`);
  page.control = state;
  if (page.mediaFailed) return;
  ui.controlStatus.textContent = page.paused ? "The user paused screen sharing." : CONTROL_TEXT[state];
  ui.controlRequest.disabled = page.paused || !CAN_REQUEST.has(state);
  // Granted: ready to tap. Afterwards the tool stays, so a tap shows the server's refusal.
  if (state === "granted") tools.select("tap");
}

function setPaused(paused) {
  page.paused = paused;
  ui.sharePaused.hidden = !paused;
  tools.setEnabled(page.sessionId !== null && !paused && !page.mediaFailed);
  setControl(page.control);
}

ui.controlRequest.addEventListener("click", async () => {
  if (!page.sessionId) return;
  try {
    await signaling.call("control.request", { session_id: page.sessionId });
  } catch (err) {
    ui.controlStatus.textContent = `Could not ask for control: ${err.message}.`;
  }
});

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
    const choices = [{ video: true, audio: true }, { video: true }, { audio: true }];
    const stream = await firstMedia(choices);
    ui.selfVideo.srcObject = stream;
    ui.selfVideo.hidden = stream.getVideoTracks().length === 0;
    mute.use(stream);
    return stream;
  })();
  return page.camera;
}

async function firstMedia(choices) {
  for (const wanted of choices) {
    try {
      return await navigator.mediaDevices.getUserMedia(wanted);
    } catch (err) {
      console.info("mayday: media refused", wanted, err);
    }
  }
  console.warn("mayday: no camera or microphone; the user will neither see nor hear you");
  return new MediaStream();
}

ui.toggle.addEventListener("click", async () => {
  const state = page.wantsAvailable ? "away" : "available";
  if (state === "available") {
    openCamera();
    ringer.unlock(); // a click: the one moment a page may start sound
  }
  try {
    await signaling.call("advisor.state", { state });
  } catch (err) {
    statusLine.note(`Could not change availability: ${err.message}.`);
  }
});

// ------------------------------------------------------------ start

const token = signIn.initial();
if (token) {
  signaling.connect(token);
} else {
  setState("offline", "Sign in to take requests.");
  gate.askToken("Paste an advisor token: `mayday token --role advisor --sub ada` prints one.");
}
