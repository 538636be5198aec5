// The shell: navigation, the router (#/path?query), the error banner, the live unread count.
import { ApiError, get, post } from "./api.js";
import { h } from "./dom.js";
import { LiveNotifications } from "./live.js";
import { session } from "./session.js";
import * as collections from "./collections.js";
import * as releases from "./releases.js";
import * as views from "./views.js";

const ROUTES = [
  [/^\/$/, views.trending],
  [/^\/search$/, views.search],
  [/^\/movie\/(\d+)$/, views.movie],
  [/^\/favorites$/, views.favorites],
  [/^\/watchlist$/, views.watchlist],
  [/^\/history$/, views.history],
  [/^\/lists$/, collections.lists],
  [/^\/list\/([0-9a-f-]{36})$/, collections.list],
  [/^\/imports$/, collections.imports],
  [/^\/webhooks$/, collections.webhooks],
  [/^\/calendar$/, releases.calendar],
  [/^\/recommendations$/, views.recommendations],
  [/^\/notifications$/, views.notifications],
  [/^\/profile$/, views.profile],
  [/^\/signin$/, views.signIn],
  [/^\/signup$/, views.signUp],
];

const view = document.getElementById("view");
let rendering = 0;
const banner = document.getElementById("banner");
const live = new LiveNotifications();

const shell = {
  unread: 0,
  async refreshUnread() {
    if (!session.signedIn) return this.showUnread(0);
    try {
      const page = await get("/notifications?unread=true&limit=1");
      this.showUnread(page.total_results);
    } catch {
      // the badge waits for the next event
    }
  },
  showUnread(count) {
    this.unread = count;
    const badge = document.getElementById("unread");
    badge.textContent = count ? String(count) : "";
    badge.hidden = !count;
    badge.setAttribute("aria-label", `${count} unread notifications`);
  },
};

function showError(error, retry) {
  let message = error instanceof ApiError ? error.detail : `Something went wrong: ${error}`;
  if (error instanceof ApiError && error.status === 429) {
    message = `Too many requests; try again in ${error.retryAfterS || "a few"} seconds.`;
  }
  const retryable = error instanceof ApiError && (error.status === 503 || error.status === 0 || error.status === 504);
  banner.replaceChildren(
    h("span", {}, message),
    retryable ? h("button", { type: "button", onclick: retry }, "Retry") : null,
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => banner.replaceChildren() }, "×"),
  );
  banner.hidden = false;
}

async function render() {
  banner.hidden = true;
  banner.replaceChildren();
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(search);
  const route = ROUTES.find(([pattern]) => pattern.test(path || "/"));
  const [pattern, page] = route || ROUTES[0];
  const id = ((path || "/").match(pattern) || [])[1];
  for (const link of document.querySelectorAll("nav.main a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#${path || "/"}`);
  }
  view.setAttribute("aria-busy", "true");
  // A page still loading when the user has moved on must not draw over the newer one.
  const generation = ++rendering;
  const current = new Proxy(view, {
    get(target, name) {
      if (name === "replaceChildren") {
        return (...children) => generation === rendering && target.replaceChildren(...children);
      }
      const value = target[name];
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    await page(current, params, id, render, shell);
    view.focus({ preventScroll: true });
  } catch (error) {
    if (generation !== rendering) return; // the user has moved on
    if (!(error instanceof ApiError && error.status === 401 && !session.signedIn)) showError(error, render);
  } finally {
    view.removeAttribute("aria-busy");
  }
}

function drawAccount() {
  const account = document.getElementById("account");
  for (const element of document.querySelectorAll("[data-signed-in]")) element.hidden = !session.signedIn;
  account.replaceChildren(
    session.signedIn
      ? h("button", {
          type: "button",
          onclick: async () => {
            try {
              await post("/auth/logout");
            } catch {
              // signed out here whatever the server says
            }
            live.stop();
            session.clear();
            location.hash = "#/signin";
          },
        }, "Sign out")
      : h("a", { href: "#/signin" }, "Sign in"),
  );
}

live.addEventListener("notification", (event) => {
  shell.showUnread(shell.unread + 1);
  const note = h("div", { class: "toast", role: "status" }, h("strong", {}, event.detail.title), " ", event.detail.body);
  document.body.append(note);
  setTimeout(() => note.remove(), 6000);
});

session.addEventListener("change", drawAccount);
session.addEventListener("ended", (event) => {
  live.stop();
  location.hash = "#/signin";
  showError(new ApiError(401, event.detail));
});

async function start() {
  if (session.signedIn && !session.accessToken) await session.refresh(); // after a reload
  drawAccount();
  if (session.signedIn) {
    live.start();
    shell.refreshUnread();
  }
  session.addEventListener("change", () => {
    if (session.signedIn && !live.controller) {
      live.start();
      shell.refreshUnread();
    }
  });
  window.addEventListener("hashchange", render);
  await render();
}

start();
