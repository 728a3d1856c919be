// The page's token, renewed before it expires (docs/protocol.md, "Token expiry and
// refresh"). About a minute before, the server sends `auth.expiring`; the page asks
// the integrator for a new token in one of two ways, and sends it with `auth.refresh`:
//
// - a refresh address: the page's link carries `refresh=PATH`, an address on the
//   page's own site (kept for the tab), which answers `{"token": NEW}`; or
// - in a frame: the page posts `{type: "mayday.token-expiring", expires_in_s}` to its
//   parent, which answers with `{type: "mayday.token", token: NEW}` (`offer`).
//
// Without either, the socket closes at the deadline and the page shows its
// refused-token message and way back.

export class TokenRefresh {
  /**
   * @param {object} o
   * @param {import("./signaling.js").Signaling} o.signaling
   * @param {import("./sign-in.js").SignIn} o.signIn keeps the token for the tab
   * @param {string} o.page "tablet" or "advisor": each page keeps its own address
   */
  constructor({ signaling, signIn, page }) {
    this.signaling = signaling;
    this.signIn = signIn;
    this.key = `mayday.refresh.${page}`;
    this.address = sameSiteAddress("refresh", this.key);
  }

  /** The server's notice: get a new token from the integrator. */
  async onExpiring(msg) {
    if (this.address) {
      await this._fetch();
    } else if (window.parent !== window) {
      window.parent.postMessage({ type: "mayday.token-expiring", expires_in_s: msg.expires_in_s }, "*");
    } else {
      console.info("mayday: the token expires soon and this page has no way to renew it");
    }
  }

  /** A new token from the integrator (the parent frame, or the refresh address). */
  async offer(token) {
    try {
      await this.signaling.call("auth.refresh", { token });
    } catch (err) {
      console.info(`mayday: token refresh refused: ${err.code}`);
      return;
    }
    this.signaling.token = token; // for every later reconnect
    this.signIn.remember(token);
  }

  async _fetch() {
    let token = null;
    try {
      const response = await fetch(this.address, { credentials: "same-origin" });
      if (response.ok) token = (await response.json()).token;
    } catch (err) {
      console.info("mayday: the refresh address did not answer", err);
    }
    if (typeof token === "string" && token) await this.offer(token);
  }
}

/**
 * An integrator's address given as `?PARAM=` in this link (kept for the tab under
 * `key`), or an earlier link's; null when none, or when it is on another site: a link
 * must not send the user, or the page's requests, to a stranger.
 */
export function sameSiteAddress(param, key) {
  let value = new URL(location.href).searchParams.get(param);
  try {
    if (value) sessionStorage.setItem(key, value);
    else value = sessionStorage.getItem(key);
  } catch {
    // no storage: only this link's own parameter counts
  }
  if (!value) return null;
  const url = new URL(value, location.href);
  if (url.origin !== location.origin) {
    console.info(`mayday: ${param} address ignored: not on this site`, value);
    return null;
  }
  return url.href;
}
