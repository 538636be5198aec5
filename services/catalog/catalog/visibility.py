"""Who sees adult titles: the one rule, for every answer the catalog gives.

TMDb marks some titles adult. A viewer sees them only if they turned `include_adult` on (the
catalog's copy of their preferences, `preferences.py`); anonymous callers and every caller
while that copy is unknown never do. A cached entry carries the ids of the adult titles in it
(`Entry.adult_ids`), so the rule is applied to bytes already cached, per request:
- a page of titles loses its adult ones (`visible_page`), its total counted down with them;
- a title that is itself adult is not there at all (`hides`: a 404, as an unknown id);
- a person's credits lose their adult titles (`visible_credits`);
- another service asking for a viewer gets the ids it must treat as unknown (`hidden_ids`);
- the fast path, which answers anonymous callers only, serves an entry only when it holds no
  adult title (`anonymous_sees_all`), and leaves the rest to the routes.
"""

from collections.abc import Iterable
from typing import Any

import orjson

from catalog.cache import Entry


def hides(entry: Entry, *, allows_adult: bool) -> bool:
    """True when the entry holds adult titles this viewer has not allowed."""
    return bool(entry.adult_ids) and not allows_adult


def anonymous_sees_all(entry: Entry) -> bool:
    """True when an anonymous caller may be given the entry's bytes as they are."""
    return not entry.adult_ids


def visible_page(entry: Entry, *, allows_adult: bool) -> bytes:
    """A page's bytes as this viewer may see them (parsed only when it holds adult titles)."""
    if not hides(entry, allows_adult=allows_adult):
        return entry.body
    payload = orjson.loads(entry.body)
    kept = [movie for movie in payload["results"] if movie["id"] not in entry.adult_ids]
    payload["total_results"] = max(
        0, payload["total_results"] - (len(payload["results"]) - len(kept))
    )
    payload["results"] = kept
    return orjson.dumps(payload)


def visible_credits(
    credits: list[dict[str, Any]], entry: Entry, *, allows_adult: bool
) -> list[dict[str, Any]]:
    """A person's credits (parsed from `entry`) as this viewer may see them."""
    if not hides(entry, allows_adult=allows_adult):
        return credits
    return [credit for credit in credits if credit["id"] not in entry.adult_ids]


def hidden_ids(adult_ids: Iterable[int], *, allows_adult: bool) -> list[int]:
    """The ids another service must treat as unknown when it acts for this viewer."""
    return [] if allows_adult else list(adult_ids)
