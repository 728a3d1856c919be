// Where a page's token comes from, and where it is kept.
//
// A link with `?token=` (what `make run` prints) signs in at once; the token
// then moves to this tab's sessionStorage and leaves the address bar, so it
// is not bookmarked, shared in a screenshot or kept in the history. Without
// one, the page shows a form to paste a token into. A refused token is
// forgotten and the form comes back.

import { unreachableText } from "./signaling.js";

const STORAGE_PREFIX = "mayday.token.";
export const RECONNECTING_TEXT = "Reconnecting…";
const REPLACED_TEXT = "This page is open in another window, which took over. Reload to use it here.";
const TOO_MANY_TEXT = "Too many help pages are open for this account. Close one, then reload this page.";

/** The link is back (a hello came): the page says where it stands again. */
export function linkRestored() {
  delete document.body.dataset.link;
}

export class SignIn {
  /**
   * @param {string} page "tablet" or "advisor": each page keeps its own token
   * @param {HTMLFormElement} form holding an `input[name=token]` and a `.sign-in-note`
   */
  constructor(page, form) {
    this.key = STORAGE_PREFIX + page;
    this.form = form;
    this.input = form.querySelector("[name=token]");
    this.note = form.querySelector(".sign-in-note");
    this.pending = null;
  }

  /** The token from the address (removed from it) or from this tab's storage; "" if none. */
  initial() {
    const fromAddress = takeTokenFromAddress();
    if (fromAddress) this.remember(fromAddress);
    return fromAddress || this.stored();
  }

  /** Show the form with `message`; resolves with the token the user submits. */
  ask(message) {
    this.note.textContent = message;
    this.form.hidden = false;
    if (this.pending) return this.pending;
    this.input.value = "";
    this.input.focus();
    this.pending = new Promise((resolve) => {
      const submitted = (event) => {
        event.preventDefault();
        const token = this.input.value.trim();
        if (!token) {
          this.note.textContent = "Paste a token first.";
          return;
        }
        this.form.removeEventListener("submit", submitted);
        this.form.hidden = true;
        this.pending = null;
        this.remember(token);
        resolve(token);
      };
      this.form.addEventListener("submit", submitted);
    });
    return this.pending;
  }

  remember(token) {
    try {
      sessionStorage.setItem(this.key, token);
    } catch (err) {
      console.info("mayday: no session storage; the token lasts until the page closes", err);
    }
  }

  forget() {
    try {
      sessionStorage.removeItem(this.key);
    } catch {
      // Nothing was stored.
    }
  }

  stored() {
    try {
      return sessionStorage.getItem(this.key) || "";
    } catch {
      return "";
    }
  }
}

/** `?token=` from the address, which is rewritten without it; "" if none. */
function takeTokenFromAddress() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return "";
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  return token.trim();
}

/**
 * What every page does with its connection's status and with tokens it cannot use:
 * say when the service is unreachable, bring the form back for a token the server
 * refused or one for another role, and connect with the next token.
 */
export class Gate {
  /**
   * @param {object} o
   * @param {SignIn} o.signIn
   * @param {(state: string, text?: string) => void} o.setState the page's one setter
   * @param {() => string} o.state the page's current state
   * @param {HTMLElement} o.status the status line
   * @param {string} o.kind the token the page needs: "tablet (user)", "advisor", "ops"
   * @param {string} o.article "a" or "an", for that kind
   * @param {string} o.thisPage ends "Token refused: it is for the … role"
   * @param {() => void} [o.leave] ends what the page was doing when the link drops
   * @param {() => void} [o.onWrongRole] extra tidying when a token has the wrong role
   * @param {(why: string) => void} [o.onRefused] the page's own words and way back when
   *   its token is refused (why: "refused" or "wrong_role"), instead of the token form
   * @param {() => boolean} [o.live] whether the page has something the server keeps
   *   through a drop (a request, a call): then a drop only says "Reconnecting…"
   */
  constructor(o) {
    const defaults = { leave: () => {}, onWrongRole: () => {}, onRefused: null, live: () => false };
    Object.assign(this, defaults, o);
    this.signaling = null; // set by the page: the Signaling takes this gate's onStatus
  }

  onStatus(status, detail) {
    switch (status) {
      case "connecting":
        if (this.state() === "offline") this.status.textContent = "Connecting to the help service…";
        break;
      case "closed":
        if (detail.retryInMs === null) break; // closed on purpose
        if (detail.resuming && this.live()) {
          // The server keeps the request or the call through the grace, and the call's
          // media does not go through this socket: carry on, say what happens.
          document.body.dataset.link = "reconnecting";
          this.status.textContent = RECONNECTING_TEXT;
          break;
        }
        this.leave();
        this.setState("unreachable", unreachableText(detail));
        break;
      case "replaced":
        this.leave();
        this.setState("offline", detail.code === 4429 ? TOO_MANY_TEXT : REPLACED_TEXT);
        break;
      case "refused":
        this.leave();
        this.signIn.forget();
        if (this.onRefused) {
          this.onRefused("refused");
          break;
        }
        this.setState("refused", `Token refused: ${detail.message}.`);
        this.askToken(`The server refused that token. Paste a new ${this.kind} token.`);
        break;
      default: // "open": the hello frame says who we are
        break;
    }
  }

  async askToken(message) {
    const token = await this.signIn.ask(message);
    this.setState("offline", "Connecting to the help service…");
    this.signaling.connect(token);
  }

  /** A token for another role connects, but this page cannot use it. */
  wrongRole(role) {
    this.signaling.stop();
    this.signIn.forget();
    this.onWrongRole();
    if (this.onRefused) {
      this.onRefused("wrong_role");
      return;
    }
    this.setState("refused", `Token refused: it is for the ${role} role${this.thisPage}.`);
    this.askToken(`Paste ${this.article} ${this.kind} token.`);
  }
}
