// The signed-in session. The access token lives in memory only; the refresh token in
// sessionStorage (this tab, until it is closed), so a reload keeps the user signed in while
// nothing outlives the tab. The access token is refreshed a minute before it expires; a
// refused refresh (revoked, spent) ends the session.
const KEY = "movies.refresh";
const EARLY_S = 60;

class Session extends EventTarget {
  constructor() {
    super();
    this.accessToken = null;
    this.timer = null;
    this.refreshing = null;
  }

  get signedIn() {
    return Boolean(this.accessToken || sessionStorage.getItem(KEY));
  }

  // The signed-in user's id, from the access token's subject (null when there is none).
  get userId() {
    if (!this.accessToken) return null;
    try {
      const payload = this.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(payload)).sub || null;
    } catch {
      return null;
    }
  }

  start(pair) {
    this.accessToken = pair.access_token;
    sessionStorage.setItem(KEY, pair.refresh_token);
    clearTimeout(this.timer);
    const inS = Math.max(5, (pair.expires_in || 900) - EARLY_S);
    this.timer = setTimeout(() => this.refresh(), inS * 1000);
    this.dispatchEvent(new Event("change"));
  }

  // One refresh at a time, however many requests were refused together.
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this._refresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async _refresh() {
    const token = sessionStorage.getItem(KEY);
    if (!token) return false;
    let response;
    try {
      response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
    } catch {
      return false; // offline: keep the session, the next request tries again
    }
    if (!response.ok) {
      this.ended("Your session has ended; please sign in again.");
      return false;
    }
    this.start(await response.json());
    return true;
  }

  clear() {
    clearTimeout(this.timer);
    this.accessToken = null;
    sessionStorage.removeItem(KEY);
    this.dispatchEvent(new Event("change"));
  }

  ended(message) {
    const was = this.signedIn;
    this.clear();
    if (was) this.dispatchEvent(new CustomEvent("ended", { detail: message }));
  }
}

export const session = new Session();
