// The release calendar: the services a user has, release alerts on or off, and their
// watchlist's and favorites' dates (releases in their region, arrivals on their services).
import { get, patch, query } from "./api.js";
import { signInFirst } from "./collections.js";
import { h } from "./dom.js";

// The services preferences.providers accepts (shared/shared/providers.py; a test keeps them equal).
export const PROVIDERS = {
  2: "Apple TV",
  3: "Google Play Movies",
  7: "Fandango At Home",
  8: "Netflix",
  9: "Amazon Prime Video",
  10: "Amazon Video",
  15: "Hulu",
  29: "Sky Go",
  35: "Rakuten TV",
  39: "Now TV",
  68: "Microsoft Store",
  119: "Amazon Prime Video",
  188: "YouTube Premium",
  192: "YouTube",
  283: "Crunchyroll",
  337: "Disney Plus",
  350: "Apple TV Plus",
  381: "Canal+",
  386: "Peacock",
  387: "Peacock Premium",
  531: "Paramount Plus",
  1899: "Max",
};

const KINDS = { theatrical: "In cinemas", digital: "To rent or buy" };

function describe(entry) {
  return entry.kind === "streaming" ? `On ${entry.provider.name}` : KINDS[entry.kind];
}

export async function calendar(view, params, _id, rerender) {
  if (signInFirst(view)) return;
  const span = { from: params.get("from") || undefined, to: params.get("to") || undefined };
  const [me, dates] = await Promise.all([get("/me"), get(`/me/calendar${query(span)}`)]);
  const prefs = me.preferences;
  const saved = h("p", { class: "form-status", role: "status" });
  const services = h(
    "form",
    {
      class: "panel services",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        try {
          await patch("/me", {
            preferences: {
              providers: data.getAll("provider").map(Number),
              notify: { ...prefs.notify, releases: data.has("notify_releases") },
            },
          });
          saved.textContent = "Saved.";
          saved.classList.remove("error");
          await rerender();
        } catch (error) {
          saved.textContent = error.detail;
          saved.classList.add("error");
        }
      },
    },
    h("h2", {}, "Your services"),
    h(
      "fieldset",
      {},
      h("legend", {}, `Where you watch (region ${prefs.region || "US"})`),
      Object.entries(PROVIDERS).map(([id, name]) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "provider", value: id, checked: prefs.providers.includes(Number(id)) }), name),
      ),
    ),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "notify_releases", checked: prefs.notify.releases }), "Tell me when titles on my watchlist come out or arrive on my services"),
    h("button", { type: "submit" }, "Save"),
    saved,
  );
  view.replaceChildren(
    h("h1", {}, "Calendar"),
    dates.results.length
      ? h(
          "table",
          { class: "calendar" },
          h("tr", {}, h("th", {}, "Date"), h("th", {}, "Title"), h("th", {}, "Where")),
          dates.results.map((entry) =>
            h("tr", { class: entry.kind }, h("td", {}, entry.date), h("td", {}, h("a", { href: `#/movie/${entry.movie.id}` }, entry.movie.title)), h("td", {}, describe(entry))),
          ),
        )
      : h("p", { class: "empty" }, "Nothing from your watchlist or favorites comes out in these weeks."),
    services,
  );
}
