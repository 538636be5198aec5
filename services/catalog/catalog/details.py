"""A movie's details with their parts (credits, videos, providers, ...), cached as bytes that
are joined, never parsed, on the way out.

The cached body is the details' JSON object on its first line and one `name<TAB>json` line per
part; JSON as orjson writes it never holds a raw newline or tab, so the lines split cleanly.
An answer is the object with the parts it asks for and the community rating spliced in.
"""

from collections.abc import Callable, Iterable

import orjson

from catalog.locale import Locale
from catalog.models import (
    DETAIL_PARTS,
    CastMember,
    Collection,
    CrewMember,
    ExternalIds,
    Keyword,
    Provider,
    TmdbMovieDetail,
    TmdbProvider,
    TmdbReleaseDate,
    Video,
    WatchProviders,
)

PARTS = DETAIL_PARTS
# What the one TMDb call asks for (the collection's parts are one more call, cached apart).
APPEND_TO_RESPONSE = "credits,videos,release_dates,watch/providers,external_ids,keywords"
TOP_BILLED = 20
CREW_DEPARTMENTS = frozenset({"Directing", "Writing"})
VIDEO_TYPES = ("Trailer", "Teaser")  # in this order after "official first"
VIDEO_URLS = {
    "YouTube": "https://www.youtube.com/watch?v={key}",
    "Vimeo": "https://vimeo.com/{key}",
}
THEATRICAL = 3  # TMDb's release type; its certification is the one a region knows a film by


def pack(base: bytes, parts: dict[str, bytes]) -> bytes:
    return b"\n".join([base, *(name.encode() + b"\t" + value for name, value in parts.items())])


def unpack(body: bytes) -> tuple[bytes, dict[str, bytes]]:
    base, *lines = body.split(b"\n")
    parts = {}
    for line in lines:
        name, _, value = line.partition(b"\t")
        parts[name.decode()] = value
    return base, parts


def assemble(
    body: bytes, include: Iterable[str], community: bytes, *, providers: tuple[int, ...] = ()
) -> bytes:
    """The answer: the details, the parts named in `include` and the community rating; with
    `providers` (the services the user has), `watch_providers.mine` names those streaming it."""
    base, parts = unpack(body)
    pieces = [base[:-1]]
    for name in include:
        if name in parts:
            value = parts[name]
            if name == "watch_providers" and providers:
                value = _with_mine(value, providers)
            pieces += [b',"', name.encode(), b'":', value]
    pieces += [b',"community_rating":', community, b"}"]
    return b"".join(pieces)


def _with_mine(watch_providers: bytes, providers: tuple[int, ...]) -> bytes:
    offers = orjson.loads(watch_providers)
    offers["mine"] = [p for p in offers.get("flatrate") or [] if p["id"] in providers]
    return orjson.dumps(offers)


def base_of(body: bytes) -> bytes:
    return body.split(b"\n", 1)[0]


def build_parts(
    movie: TmdbMovieDetail,
    *,
    locale: Locale,
    image: Callable[[str | None], str | None],
    collection: Collection | None,
) -> dict[str, bytes]:
    """Every part, serialised, from TMDb's appended answer."""
    values: dict[str, object] = {
        "credits": _credits(movie, image),
        "videos": _videos(movie),
        "watch_providers": _providers(movie, locale.region, image),
        "certification": _certification(movie, locale.region),
        "collection": collection.model_dump(mode="json") if collection else None,
        "external_ids": ExternalIds(
            imdb_id=(movie.external_ids.imdb_id if movie.external_ids else None)
        ).model_dump(),
        "keywords": [
            Keyword(id=k.id, name=k.name).model_dump()
            for k in (movie.keywords.keywords if movie.keywords else [])
        ],
    }
    return {name: orjson.dumps(values[name]) for name in PARTS}


def _credits(movie: TmdbMovieDetail, image: Callable[[str | None], str | None]) -> object:
    credits = movie.credits
    cast = sorted(credits.cast, key=lambda c: c.order)[:TOP_BILLED] if credits else []
    crew = [c for c in credits.crew if c.department in CREW_DEPARTMENTS] if credits else []
    return {
        "cast": [
            CastMember(
                id=c.id,
                name=c.name,
                character=c.character or None,
                profile_url=image(c.profile_path),
                order=c.order,
            ).model_dump()
            for c in cast
        ],
        "crew": [
            CrewMember(id=c.id, name=c.name, job=c.job, department=c.department).model_dump()
            for c in sorted(crew, key=lambda c: (c.department != "Directing", c.name))
        ],
    }


def _videos(movie: TmdbMovieDetail) -> object:
    found = [
        v
        for v in (movie.videos.results if movie.videos else [])
        if v.site in VIDEO_URLS and v.type in VIDEO_TYPES
    ]
    found.sort(key=lambda v: (not v.official, VIDEO_TYPES.index(v.type or "Trailer")))
    return [
        Video(
            site=v.site,
            key=v.key,
            url=VIDEO_URLS[v.site].format(key=v.key),
            type=v.type or "Trailer",
            official=v.official,
            name=v.name,
        ).model_dump()
        for v in found
    ]


def _providers(
    movie: TmdbMovieDetail, region: str, image: Callable[[str | None], str | None]
) -> object:
    offers = movie.watch_providers.results.get(region) if movie.watch_providers else None

    def listed(providers: list[TmdbProvider]) -> list[Provider]:
        ranked = sorted(providers, key=lambda p: p.display_priority)
        return [
            Provider(id=p.provider_id, name=p.provider_name, logo_url=image(p.logo_path))
            for p in ranked
        ]

    return WatchProviders(
        region=region,
        link=offers.link if offers else None,
        flatrate=listed(offers.flatrate) if offers else [],
        rent=listed(offers.rent) if offers else [],
        buy=listed(offers.buy) if offers else [],
    ).model_dump()


def _certification(movie: TmdbMovieDetail, region: str) -> str | None:
    releases = movie.release_dates.results if movie.release_dates else []
    dates: list[TmdbReleaseDate] = next(
        (r.release_dates for r in releases if r.iso_3166_1 == region), []
    )
    rated = [d for d in dates if d.certification]
    rated.sort(key=lambda d: d.type != THEATRICAL)
    return rated[0].certification if rated else None
