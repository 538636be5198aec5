"""When a title can be watched, per region: its theatrical and digital release dates and the
streaming services carrying it, read from TMDb's answer; what changed since the catalog last
looked (the announcements due); and a user's calendar entries. Rules only: the scheduled check
is release_check.py, the routes internal_api.py.

What the catalog has seen of a watched title is kept per region (`release_check.state`):
`{"theatrical": "2026-12-18", "digital": null, "streaming": {"8": {"since": "2026-12-06",
"name": "Netflix", "logo": "/n.png"}}, "announced": ["theatrical"]}`. A streaming service's
`since` is the day the catalog first saw it there, null when it was there at the first look
(TMDb does not say when a title arrived).

A release (theatrical, digital, or a streaming service) is announced when a look finds it that
the previous look at that region did not: what the first look at a region finds is where the
title stands, not news, so adding a title that is already out never announces the past. A
release date is announced once per region and kind.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from catalog.locale import DEFAULT_LOCALE
from catalog.models import TmdbMovieDetail, TmdbReleaseDate

DEFAULT_REGION = DEFAULT_LOCALE.region
THEATRICAL_TYPES = (2, 3)  # TMDb's release types: limited, theatrical
DIGITAL_TYPE = 4
KINDS = ("theatrical", "digital", "streaming")
APPEND_TO_RESPONSE = "release_dates,watch/providers"


@dataclass(frozen=True, slots=True)
class RegionFacts:
    theatrical: date | None
    digital: date | None
    streaming: dict[int, tuple[str, str | None]]  # provider id -> (name, logo path)


@dataclass(frozen=True, slots=True)
class Announcement:
    region: str
    kind: str
    available_on: date
    provider_id: int | None = None
    provider_name: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    movie_id: int
    on: date
    kind: str
    provider: dict[str, Any] | None = None


def facts_of(movie: TmdbMovieDetail, region: str) -> RegionFacts:
    """What TMDb's answer (with release_dates and watch/providers) says of one region."""
    releases = movie.release_dates.results if movie.release_dates else []
    dates: list[TmdbReleaseDate] = next(
        (r.release_dates for r in releases if r.iso_3166_1 == region), []
    )

    def earliest(types: tuple[int, ...]) -> date | None:
        found = [_day(d.release_date) for d in dates if d.type in types]
        known = [day for day in found if day is not None]
        return min(known) if known else None

    offers = movie.watch_providers.results.get(region) if movie.watch_providers else None
    streaming = (
        {p.provider_id: (p.provider_name, p.logo_path) for p in offers.flatrate} if offers else {}
    )
    return RegionFacts(
        theatrical=earliest(THEATRICAL_TYPES),
        digital=earliest((DIGITAL_TYPE,)),
        streaming=streaming,
    )


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def advance(
    state: dict[str, Any], facts: dict[str, RegionFacts], *, today: date
) -> tuple[dict[str, Any], list[Announcement]]:
    """The title's new state from what TMDb says now of each watched region, and what to
    announce. Regions no longer watched are dropped (a later watcher there starts afresh)."""
    new_state: dict[str, Any] = {}
    announcements: list[Announcement] = []
    for region, now in sorted(facts.items()):
        before = state.get(region)
        announced = set(before["announced"]) if before else set()
        for kind, day in (("theatrical", now.theatrical), ("digital", now.digital)):
            if day is not None and day <= today and kind not in announced:
                announced.add(kind)
                if before is not None:
                    announcements.append(Announcement(region, kind, day))
        seen: dict[str, Any] | None = before["streaming"] if before else None
        streaming = {}
        for provider_id, (name, logo) in sorted(now.streaming.items()):
            kept = seen.get(str(provider_id)) if seen is not None else None
            if seen is not None and kept is None:
                announcements.append(
                    Announcement(region, "streaming", today, provider_id, provider_name=name)
                )
            since = kept["since"] if kept else (today.isoformat() if seen is not None else None)
            streaming[str(provider_id)] = {"since": since, "name": name, "logo": logo}
        new_state[region] = {
            "theatrical": now.theatrical.isoformat() if now.theatrical else None,
            "digital": now.digital.isoformat() if now.digital else None,
            "streaming": streaming,
            "announced": sorted(announced),
        }
    return new_state, announcements


def calendar_entries(
    movie_id: int,
    region_state: dict[str, Any],
    *,
    providers: tuple[int, ...],
    start: date,
    end: date,
    logo_url: Any,
) -> list[CalendarEntry]:
    """A title's dates between `start` and `end` (inclusive) in one region: its releases, and
    its arrival on the user's services (when the catalog saw it arrive)."""
    entries = []
    for kind in ("theatrical", "digital"):
        day = _day(region_state.get(kind))
        if day is not None and start <= day <= end:
            entries.append(CalendarEntry(movie_id, day, kind))
    for provider_id, offer in region_state.get("streaming", {}).items():
        day = _day(offer.get("since"))
        if int(provider_id) in providers and day is not None and start <= day <= end:
            provider = {
                "id": int(provider_id),
                "name": offer["name"],
                "logo_url": logo_url(offer["logo"]),
            }
            entries.append(CalendarEntry(movie_id, day, "streaming", provider))
    return entries
