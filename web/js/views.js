// The pages. Each renders into `view` and returns nothing; errors go to the shell's banner.
import { del, get, patch, post, put, query } from "./api.js";
import { h, when, year } from "./dom.js";
import { addToList } from "./collections.js";
import { session } from "./session.js";

const POSTER_ALT = (movie) => `Poster of ${movie.title}`;

function poster(movie, size = "card") {
  return movie.poster_url
    ? h("img", { class: `poster ${size}`, src: movie.poster_url, alt: POSTER_ALT(movie), loading: "lazy" })
    : h("div", { class: `poster ${size} blank`, role: "img", "aria-label": POSTER_ALT(movie) }, movie.title);
}

function card(movie, extra) {
  return h(
    "li",
    { class: "card" },
    h(
      "a",
      { href: `#/movie/${movie.id}`, class: "card-link" },
      poster(movie),
      h("span", { class: "card-title" }, movie.title),
      h("span", { class: "card-meta" }, year(movie.release_date), movie.vote_count ? ` · ★ ${movie.vote_average.toFixed(1)}` : ""),
    ),
    extra,
  );
}

function grid(movies, extra = () => null) {
  if (!movies.length) return h("p", { class: "empty" }, "Nothing here yet.");
  return h("ul", { class: "grid" }, movies.map((movie) => card(movie, extra(movie))));
}

function pager(page, totalPages, go) {
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "← Previous"),
    h("span", {}, `Page ${page} of ${Math.max(totalPages, 1)}`),
    h("button", { type: "button", disabled: page >= totalPages, onclick: () => go(page + 1) }, "Next →"),
  );
}

function needsSignIn(view) {
  if (session.signedIn) return false;
  view.replaceChildren(
    h("section", {}, h("h1", {}, "Sign in to see this"), h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " or ", h("a", { href: "#/signup" }, "create an account"), ".")),
  );
  return true;
}

// --- auth ---------------------------------------------------------------------------------
function form(title, fields, submitLabel, onSubmit, level = "h1") {
  const status = h("p", { class: "form-status", role: "status" });
  const element = h(
    "form",
    {
      class: "panel",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(event.target));
        const button = event.target.querySelector("button[type=submit]");
        button.disabled = true;
        status.textContent = "";
        try {
          await onSubmit(data, status);
        } catch (error) {
          status.textContent = error.detail || String(error);
          status.classList.add("error");
        } finally {
          button.disabled = false;
        }
      },
    },
    h(level, {}, title),
    fields.map(([name, label, type, extra]) =>
      h("label", {}, label, h("input", { name, type, required: !(extra && extra.optional), autocomplete: extra && extra.autocomplete, minlength: extra && extra.minlength })),
    ),
    h("button", { type: "submit" }, submitLabel),
    status,
  );
  return element;
}

export function signIn(view) {
  view.replaceChildren(
    form(
      "Sign in",
      [
        ["email", "Email", "email", { autocomplete: "username" }],
        ["password", "Password", "password", { autocomplete: "current-password" }],
      ],
      "Sign in",
      async (data) => {
        session.start(await post("/auth/login", data, { auth: false }));
        location.hash = "#/";
      },
    ),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account")),
  );
}

export function signUp(view) {
  view.replaceChildren(
    form(
      "Create an account",
      [
        ["email", "Email", "email", { autocomplete: "username" }],
        ["display_name", "Display name (optional)", "text", { optional: true, autocomplete: "nickname" }],
        ["password", "Password (8 to 128 characters)", "password", { autocomplete: "new-password", minlength: 8 }],
      ],
      "Create account",
      async (data) => {
        if (!data.display_name) delete data.display_name;
        await post("/auth/register", data, { auth: false });
        session.start(await post("/auth/login", { email: data.email, password: data.password }, { auth: false }));
        location.hash = "#/";
      },
    ),
    h("p", {}, "Have an account? ", h("a", { href: "#/signin" }, "Sign in")),
  );
}

// --- browsing -----------------------------------------------------------------------------
export async function trending(view, params) {
  const window_ = params.get("window") === "week" ? "week" : "day";
  const page = Number(params.get("page")) || 1;
  const result = await get(`/movies/trending${query({ window: window_, page })}`);
  const tab = (value, label) =>
    h("a", { href: `#/?window=${value}`, class: value === window_ ? "tab active" : "tab", "aria-current": value === window_ ? "page" : null }, label);
  view.replaceChildren(
    h("h1", {}, "Trending"),
    h("nav", { class: "tabs", "aria-label": "Window" }, tab("day", "Today"), tab("week", "This week")),
    grid(result.results),
    pager(result.page, result.total_pages, (p) => (location.hash = `#/?window=${window_}&page=${p}`)),
  );
}

export async function search(view, params) {
  const text = params.get("q") || "";
  const page = Number(params.get("page")) || 1;
  const box = h("input", { type: "search", name: "q", value: text, placeholder: "Title", "aria-label": "Search titles", required: true });
  const searchForm = h(
    "form",
    { class: "search", role: "search", onsubmit: (e) => { e.preventDefault(); location.hash = `#/search?q=${encodeURIComponent(box.value)}`; } },
    box,
    h("button", { type: "submit" }, "Search"),
  );
  view.replaceChildren(h("h1", {}, "Search"), searchForm);
  if (!text.trim()) return;
  const result = await get(`/movies/search${query({ query: text, page })}`);
  view.append(
    h("p", {}, `${result.total_results} results for “${text}”`),
    grid(result.results),
    pager(result.page, result.total_pages, (p) => (location.hash = `#/search?q=${encodeURIComponent(text)}&page=${p}`)),
  );
}

function stars(rating) {
  return rating.count ? `${rating.average.toFixed(1)} / 10 from ${rating.count} ${rating.count === 1 ? "rating" : "ratings"} here` : "No ratings here yet";
}

function toggle(label, on, onLabel, act) {
  return h("button", { type: "button", class: on ? "toggle on" : "toggle", "aria-pressed": on ? "true" : "false", onclick: act }, on ? onLabel : label);
}

export async function movie(view, _params, id, rerender) {
  const [detail, similar, reviews, mine] = await Promise.all([
    get(`/movies/${id}`),
    get(`/movies/${id}/similar`),
    get(`/movies/${id}/reviews`),
    session.signedIn ? get(`/movies/${id}/me`) : Promise.resolve(null),
  ]);
  const act = (action) => async () => {
    await action();
    await rerender();
  };
  const facts = [
    year(detail.release_date),
    detail.runtime ? `${detail.runtime} min` : null,
    detail.certification,
    detail.genres.map((g) => g.name).join(", "),
  ].filter(Boolean);
  const trailer = (detail.videos || [])[0];
  const offers = detail.watch_providers;
  const onLists = mine ? await addToList(id, mine.list_ids, rerender) : null;
  const actions = mine
    ? h(
        "div",
        { class: "actions" },
        toggle("♡ Favorite", mine.favorite, "♥ Favorite", act(() => (mine.favorite ? del(`/favorites/${id}`) : post("/favorites", { movie_id: Number(id) })))),
        toggle("+ Watchlist", mine.on_watchlist, "✓ On watchlist", act(() => (mine.on_watchlist ? del(`/watchlist/${id}`) : post("/watchlist", { movie_id: Number(id) })))),
        toggle("Mark watched", Boolean(mine.watched_at), `Watched ${when(mine.watched_at)}`, act(() => (mine.watched_at ? del(`/me/history/${id}`) : post("/me/history", { movie_id: Number(id) })))),
        toggle("Not interested", mine.not_interested, "Hidden from suggestions", act(() => (mine.not_interested ? del(`/movies/${id}/not-interested`) : put(`/movies/${id}/not-interested`)))),
        h(
          "label",
          { class: "rate" },
          "Your rating ",
          h(
            "select",
            {
              name: "score",
              "aria-label": "Your rating",
              onchange: act(async () => {
                const value = view.querySelector("select[name=score]").value;
                return value ? put(`/movies/${id}/rating`, { score: Number(value) }) : del(`/movies/${id}/rating`);
              }),
            },
            h("option", { value: "" }, mine.rating ? "Remove" : "—"),
            Array.from({ length: 20 }, (_, i) => (i + 1) / 2).map((score) => h("option", { value: score, selected: mine.rating === score }, score.toFixed(1))),
          ),
        ),
        onLists,
      )
    : h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " to rate, review and keep this title.");
  const reviewForm =
    mine && !mine.review_id
      ? form(
          "Write a review",
          [["body", "Your review", "text"]],
          "Post review",
          async (data) => {
            await post(`/movies/${id}/reviews`, { body: data.body });
            await rerender();
          },
          "h2",
        )
      : null;
  view.replaceChildren(
    h(
      "article",
      { class: "detail" },
      detail.backdrop_url ? h("img", { class: "backdrop", src: detail.backdrop_url, alt: `Backdrop of ${detail.title}` }) : null,
      h(
        "div",
        { class: "detail-body" },
        poster(detail, "large"),
        h(
          "div",
          { class: "detail-text" },
          h("h1", {}, detail.title),
          detail.tagline ? h("p", { class: "tagline" }, detail.tagline) : null,
          h("p", { class: "facts" }, facts.join(" · ")),
          h("p", { class: "community" }, "Community: ", stars(detail.community_rating), ` · TMDb ★ ${detail.vote_average.toFixed(1)}`),
          h("p", {}, detail.overview),
          trailer ? h("p", {}, h("a", { href: trailer.url, rel: "noopener", target: "_blank" }, `▶ ${trailer.type} on ${trailer.site}`)) : null,
          offers && offers.flatrate.length ? h("p", {}, `Streaming (${offers.region}): `, offers.flatrate.map((p) => p.name).join(", ")) : null,
          actions,
        ),
      ),
      detail.credits && detail.credits.cast.length
        ? h("section", {}, h("h2", {}, "Cast"), h("ul", { class: "cast" }, detail.credits.cast.slice(0, 8).map((c) => h("li", {}, h("strong", {}, c.name), " as ", c.character))))
        : null,
      h(
        "section",
        {},
        h("h2", {}, `Reviews (${reviews.total_results})`),
        reviewForm,
        reviews.results.length
          ? h("ul", { class: "reviews" }, reviews.results.map((r) => h("li", {}, h("p", {}, r.body), h("p", { class: "byline" }, `${r.author.display_name}${r.score ? ` · ${r.score}/10` : ""} · ${when(r.created_at)}`))))
          : h("p", { class: "empty" }, "No reviews yet."),
      ),
      h("section", {}, h("h2", {}, "Similar titles"), grid(similar.results.slice(0, 12))),
    ),
  );
}

// --- the user's lists ---------------------------------------------------------------------
async function listPage(view, params, { title, path, movieOf, extra }) {
  if (needsSignIn(view)) return;
  const page = Number(params.get("page")) || 1;
  const result = await get(`${path}${query({ page })}`);
  view.replaceChildren(
    h("h1", {}, title),
    grid(result.results.map(movieOf), extra),
    pager(result.page, result.total_pages, (p) => (location.hash = `#${path}?page=${p}`)),
  );
}

export const favorites = (view, params) =>
  listPage(view, params, { title: "Favorites", path: "/favorites", movieOf: (item) => item.movie });
export const watchlist = (view, params) =>
  listPage(view, params, { title: "Watchlist", path: "/watchlist", movieOf: (item) => item.movie });

export async function history(view, params) {
  if (needsSignIn(view)) return;
  const page = Number(params.get("page")) || 1;
  const result = await get(`/me/history${query({ page })}`);
  const watchedAt = new Map(result.results.map((item) => [item.movie.id, item.watched_at]));
  view.replaceChildren(
    h("h1", {}, "Watch history"),
    grid(result.results.map((item) => item.movie), (m) => h("span", { class: "card-meta" }, `Watched ${when(watchedAt.get(m.id))}`)),
    pager(result.page, result.total_pages, (p) => (location.hash = `#/history?page=${p}`)),
  );
}

export async function recommendations(view, params) {
  if (needsSignIn(view)) return;
  const page = Number(params.get("page")) || 1;
  const result = await get(`/recommendations${query({ page })}`);
  view.replaceChildren(
    h("h1", {}, "For you"),
    grid(result.results, (m) => h("ul", { class: "reasons" }, m.reasons.map((reason) => h("li", {}, reason)))),
    pager(result.page, result.total_pages, (p) => (location.hash = `#/recommendations?page=${p}`)),
  );
}

export async function notifications(view, _params, _id, rerender, shell) {
  if (needsSignIn(view)) return;
  const result = await get("/notifications");
  // The titles the notifications name (cached at the catalog, so a few quick reads).
  const ids = [...new Set(result.results.flatMap((n) => n.movie_ids.slice(0, 5)))].slice(0, 40);
  const found = await Promise.allSettled(ids.map((m) => get(`/movies/${m}?include=`)));
  const titles = new Map(found.filter((r) => r.status === "fulfilled").map((r) => [r.value.id, r.value.title]));
  view.replaceChildren(
    h("h1", {}, "Notifications"),
    h("button", { type: "button", onclick: async () => { await post("/notifications/read-all"); await shell.refreshUnread(); await rerender(); } }, "Mark all read"),
    result.results.length
      ? h(
          "ul",
          { class: "notifications" },
          result.results.map((n) =>
            h(
              "li",
              { class: n.read_at ? "read" : "unread" },
              h("strong", {}, n.title),
              h("p", {}, n.body),
              h("p", { class: "byline" }, when(n.created_at)),
              n.movie_ids.length
                ? h("p", {}, n.movie_ids.slice(0, 5).map((m) => h("a", { href: `#/movie/${m}`, class: "chip" }, titles.get(m) || `Movie ${m}`)))
                : null,
              n.read_at ? null : h("button", { type: "button", onclick: async () => { await post(`/notifications/${n.id}/read`); await shell.refreshUnread(); await rerender(); } }, "Mark read"),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No notifications yet."),
  );
}

// --- profile ------------------------------------------------------------------------------
export async function profile(view) {
  if (needsSignIn(view)) return;
  const [me, genres] = await Promise.all([get("/me"), get("/genres")]);
  const prefs = me.preferences;
  const saved = h("p", { class: "form-status", role: "status" });
  const check = (name, label, checked) => h("label", { class: "check" }, h("input", { type: "checkbox", name, checked }), label);
  const settings = h(
    "form",
    {
      class: "panel",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        try {
          await patch("/me", {
            display_name: data.get("display_name"),
            preferences: {
              genres: data.getAll("genre").map(Number),
              language: data.get("language"),
              region: data.get("region"),
              include_adult: data.has("include_adult"),
              remove_watched_from_watchlist: data.has("remove_watched_from_watchlist"),
              notify: { ...prefs.notify, trending: data.has("notify_trending"), recommendations: data.has("notify_recommendations") },
            },
          });
          saved.textContent = "Saved.";
          saved.classList.remove("error");
        } catch (error) {
          saved.textContent = error.detail;
          saved.classList.add("error");
        }
      },
    },
    h("h1", {}, "Profile"),
    h("p", {}, me.email),
    h("label", {}, "Display name", h("input", { name: "display_name", value: me.display_name, required: true, maxlength: 50 })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Preferred genres"),
      genres.map((g) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "genre", value: g.id, checked: prefs.genres.includes(g.id) }), g.name)),
    ),
    h("label", {}, "Language (ISO 639-1)", h("input", { name: "language", value: prefs.language, pattern: "[a-z]{2}", maxlength: 2 })),
    h("label", {}, "Region (ISO 3166-1)", h("input", { name: "region", value: prefs.region, pattern: "[A-Z]{2}", maxlength: 2 })),
    check("include_adult", "Show adult titles", prefs.include_adult),
    check("remove_watched_from_watchlist", "Take watched titles off my watchlist", prefs.remove_watched_from_watchlist),
    check("notify_trending", "Notify me of new trending titles", prefs.notify.trending),
    check("notify_recommendations", "Notify me of new recommendations", prefs.notify.recommendations),
    h("button", { type: "submit" }, "Save"),
    saved,
  );
  const password = form(
    "Change password",
    [
      ["current_password", "Current password", "password", { autocomplete: "current-password" }],
      ["new_password", "New password", "password", { autocomplete: "new-password", minlength: 8 }],
    ],
    "Change password",
    async (data, status) => {
      await post("/me/password", data);
      status.textContent = "Password changed; your other sessions have ended.";
      status.classList.remove("error");
    },
    "h2",
  );
  const privacy = h(
    "section",
    { class: "panel" },
    h("h2", {}, "Your data"),
    h("button", {
      type: "button",
      onclick: async () => {
        const exported = await get("/me/export");
        const link = h("a", { href: URL.createObjectURL(new Blob([JSON.stringify(exported, null, 2)], { type: "application/json" })), download: "movies-export.json" });
        link.click();
      },
    }, "Download everything (JSON)"),
    form(
      "Delete account",
      [["password", "Password", "password", { autocomplete: "current-password" }]],
      "Delete my account",
      async (data) => {
        if (!window.confirm("Delete your account and everything it holds? This cannot be undone.")) return;
        await post("/me/delete", data);
        session.clear();
        location.hash = "#/signin";
      },
      "h3",
    ),
  );
  view.replaceChildren(settings, password, privacy);
}
