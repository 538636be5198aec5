// Lists of the user's own and imports from Letterboxd, IMDb and Trakt.
import { API, del, get, patch, post, put, query, request } from "./api.js";
import { h, when, year } from "./dom.js";
import { session } from "./session.js";

export function signInFirst(view) {
  if (session.signedIn) return false;
  view.replaceChildren(h("section", {}, h("h1", {}, "Sign in to see this"), h("p", {}, h("a", { href: "#/signin" }, "Sign in"), ".")));
  return true;
}

// --- lists --------------------------------------------------------------------------------
export async function lists(view, params, _id, rerender) {
  if (signInFirst(view)) return;
  const page = Number(params.get("page")) || 1;
  const mine = await get(`/lists${query({ page })}`);
  const status = h("p", { class: "form-status", role: "status" });
  const create = h(
    "form",
    {
      class: "panel",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        try {
          const made = await post("/lists", { name: data.get("name"), description: data.get("description") || null, public: data.has("public") });
          location.hash = `#/list/${made.id}`;
        } catch (error) {
          status.textContent = error.detail || String(error);
        }
      },
    },
    h("h2", {}, "A new list"),
    h("label", {}, "Name ", h("input", { name: "name", required: true, maxlength: 100 })),
    h("label", {}, "Description ", h("input", { name: "description", maxlength: 2000 })),
    h("label", {}, h("input", { type: "checkbox", name: "public" }), " Anyone with the link can see it"),
    h("button", { type: "submit" }, "Create"),
    status,
  );
  view.replaceChildren(
    h("h1", {}, "Your lists"),
    mine.results.length
      ? h("ul", { class: "lists" }, mine.results.map((l) => h("li", {}, h("a", { href: `#/list/${l.id}` }, l.name), ` · ${l.item_count} titles · ${l.public ? "public" : "private"}`)))
      : h("p", { class: "empty" }, "No lists yet."),
    create,
  );
  void rerender;
}

export async function list(view, _params, id, rerender) {
  const [shown, items] = await Promise.all([get(`/lists/${id}`), get(`/lists/${id}/items?limit=100`)]);
  const mine = session.signedIn && shown.owner.id === session.userId;
  const order = items.results.map((item) => item.movie.id);
  const move = (index, by) => async () => {
    const next = [...order];
    [next[index], next[index + by]] = [next[index + by], next[index]];
    await put(`/lists/${id}/order`, { movie_ids: next });
    await rerender();
  };
  view.replaceChildren(
    h("h1", {}, shown.name),
    shown.description ? h("p", {}, shown.description) : null,
    h("p", { class: "facts" }, `${shown.item_count} titles · ${shown.public ? "public" : "private"} · by ${shown.owner.display_name || "someone"}`),
    h("p", {}, h("button", { type: "button", onclick: () => downloadCsv(id, shown.name) }, "Download as CSV (Letterboxd)")),
    mine
      ? h("p", {}, h("button", { type: "button", onclick: async () => { await patch(`/lists/${id}`, { public: !shown.public }); await rerender(); } }, shown.public ? "Make it private" : "Make it public"),
          " ", h("button", { type: "button", onclick: async () => { await del(`/lists/${id}`); location.hash = "#/lists"; } }, "Delete the list"))
      : null,
    items.results.length
      ? h("ol", { class: "list-items" }, items.results.map((item, index) =>
          h("li", {},
            h("a", { href: `#/movie/${item.movie.id}` }, item.movie.title), ` (${year(item.movie.release_date)})`,
            item.note ? h("span", { class: "note" }, ` — ${item.note}`) : null,
            mine ? [
              h("button", { type: "button", disabled: index === 0, "aria-label": `Move ${item.movie.title} up`, onclick: move(index, -1) }, "↑"),
              h("button", { type: "button", disabled: index === order.length - 1, "aria-label": `Move ${item.movie.title} down`, onclick: move(index, 1) }, "↓"),
              h("button", { type: "button", "aria-label": `Take ${item.movie.title} off`, onclick: async () => { await del(`/lists/${id}/items/${item.movie.id}`); await rerender(); } }, "×"),
            ] : null)))
      : h("p", { class: "empty" }, "Nothing on it yet: add titles from their pages."),
  );
}

// A private list's CSV needs the token: fetched, then saved from memory.
async function downloadCsv(id, name) {
  const headers = session.accessToken ? { Authorization: `Bearer ${session.accessToken}` } : {};
  const response = await fetch(`${API}/lists/${id}/export.csv`, { headers });
  if (!response.ok) return;
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${name}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
}

// The "add to a list" control of a title's page.
export async function addToList(movieId, listIds, rerender) {
  const mine = await get("/lists?limit=100");
  if (!mine.results.length) return h("p", {}, h("a", { href: "#/lists" }, "Make a list"), " to keep this title on it.");
  const held = new Set(listIds || []);
  return h(
    "label",
    { class: "rate" },
    "On a list ",
    h(
      "select",
      {
        onchange: async (event) => {
          const listId = event.target.value;
          if (!listId) return;
          if (held.has(listId)) await del(`/lists/${listId}/items/${movieId}`);
          else await post(`/lists/${listId}/items`, { movie_id: Number(movieId) });
          await rerender();
        },
      },
      h("option", { value: "" }, "Add to or take off a list…"),
      mine.results.map((l) => h("option", { value: l.id }, `${held.has(l.id) ? "✓ " : ""}${l.name}`)),
    ),
  );
}

// --- imports ------------------------------------------------------------------------------
const RUNNING = new Set(["queued", "running"]);

function report(job) {
  const created = Object.entries(job.created).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") || "nothing new";
  return h(
    "li",
    { class: "import" },
    h("strong", {}, `${job.source} · ${job.status}`),
    ` · ${job.processed} of ${job.rows} rows · ${job.matched} matched · created: ${created} · ${when(job.created_at)}`,
    RUNNING.has(job.status) ? h("progress", { max: job.rows || 1, value: job.processed, "aria-label": "Progress" }) : null,
    job.error ? h("p", { class: "error" }, job.error) : null,
    job.unmatched.length
      ? h("details", {}, h("summary", {}, `${job.unmatched.length} rows not brought over`),
          h("table", {}, h("tr", {}, h("th", {}, "Row"), h("th", {}, "Title"), h("th", {}, "Year"), h("th", {}, "Why")),
            job.unmatched.map((u) => h("tr", {}, h("td", {}, u.row), h("td", {}, u.title || ""), h("td", {}, u.year || ""), h("td", {}, u.reason)))))
      : null,
  );
}

export async function imports(view, _params, _id, rerender) {
  if (signInFirst(view)) return;
  const jobs = await get("/me/imports");
  const status = h("p", { class: "form-status", role: "status" });
  const upload = h(
    "form",
    {
      class: "panel",
      onsubmit: async (event) => {
        event.preventDefault();
        status.textContent = "Uploading…";
        try {
          await request("POST", "/me/imports", { upload: new FormData(event.target) });
          await rerender();
        } catch (error) {
          status.textContent = error.detail || String(error);
        }
      },
    },
    h("h2", {}, "Bring your history over"),
    h("label", {}, "From ", h("select", { name: "source" }, h("option", { value: "letterboxd" }, "Letterboxd (the export .zip, or one of its CSVs)"), h("option", { value: "imdb" }, "IMDb (ratings, watchlist or a list, CSV)"), h("option", { value: "trakt" }, "Trakt (the export .zip, or one of its JSON files)"))),
    h("label", {}, "File ", h("input", { type: "file", name: "file", required: true, accept: ".zip,.csv,.json" })),
    h("button", { type: "submit" }, "Import"),
    status,
  );
  view.replaceChildren(
    h("h1", {}, "Imports"),
    upload,
    jobs.results.length ? h("ul", { class: "imports" }, jobs.results.map(report)) : h("p", { class: "empty" }, "No imports yet."),
  );
  if (jobs.results.some((job) => RUNNING.has(job.status))) {
    setTimeout(() => {
      if (location.hash.startsWith("#/imports")) rerender();
    }, 1000);
  }
}

// --- webhooks -----------------------------------------------------------------------------
export async function webhooks(view, params, _id, rerender) {
  if (signInFirst(view)) return;
  const hooks = await get("/me/webhooks");
  const shown = params.get("hook");
  const log = shown ? await get(`/me/webhooks/${shown}/deliveries?limit=50`) : null;
  const status = h("p", { class: "form-status", role: "status" });
  const secret = h("p", { class: "secret", role: "status" });
  const create = h(
    "form",
    {
      class: "panel",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        try {
          const made = await post("/me/webhooks", { url: data.get("url"), events: data.getAll("event"), description: data.get("description") || null });
          secret.replaceChildren("Signing secret (shown this once): ", h("code", {}, made.secret));
          status.textContent = "";
          const list = await get("/me/webhooks");
          view.querySelector("ul.webhooks")?.replaceChildren(...list.results.map(item));
        } catch (error) {
          status.textContent = error.detail || String(error);
        }
      },
    },
    h("h2", {}, "Deliver my notifications to a URL"),
    h("label", {}, "URL ", h("input", { name: "url", type: "url", required: true, placeholder: "https://hooks.example.com/movies" })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "event", value: "notification.created", checked: true }), "Every notification"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "event", value: "import.finished" }), "The end of my imports"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "event", value: "release.available" }), "Titles on my watchlist out or on my services"),
    h("label", {}, "Description ", h("input", { name: "description", maxlength: 500 })),
    h("button", { type: "submit" }, "Add"),
    status,
    secret,
  );
  function item(hook) {
    return h(
      "li",
      {},
      h("a", { href: `#/webhooks?hook=${hook.id}` }, hook.url),
      ` · ${hook.events.join(", ")}${hook.disabled_at ? " · turned off" : ""} `,
      h("button", { type: "button", onclick: async () => { await post(`/me/webhooks/${hook.id}/test`); location.hash = `#/webhooks?hook=${hook.id}`; await rerender(); } }, "Send a test"),
      " ",
      h("button", { type: "button", onclick: async () => { await del(`/me/webhooks/${hook.id}`); location.hash = "#/webhooks"; await rerender(); } }, "Remove"),
    );
  }
  view.replaceChildren(
    h("h1", {}, "Webhooks"),
    h("ul", { class: "webhooks" }, hooks.results.map(item)),
    create,
    log
      ? h("section", {}, h("h2", {}, "Deliveries"),
          log.results.length
            ? h("table", { class: "deliveries" },
                h("tr", {}, h("th", {}, "When"), h("th", {}, "Event"), h("th", {}, "Status"), h("th", {}, "Attempts"), h("th", {}, "Last answer"), h("th", {}, "Next attempt")),
                log.results.map((d) => h("tr", {}, h("td", {}, when(d.created_at)), h("td", {}, d.event), h("td", {}, d.status), h("td", {}, d.attempts), h("td", {}, d.last_status || d.last_error || ""), h("td", {}, when(d.next_attempt_at)))))
            : h("p", { class: "empty" }, "No deliveries yet."))
      : null,
  );
}
