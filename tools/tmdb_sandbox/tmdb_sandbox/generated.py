"""What MovieLens does not have, generated: people and credits, videos, release dates and
certifications, watch providers, keywords, external ids, runtimes, translated overviews.

Everything here is derived from a movie's or person's id through a seeded generator, so it is
the same on every start and every machine, and it is plainly made up (names from short lists,
IMDb ids that are the movie id padded). Collections are the one part taken from the data:
titles that share a stem ("Star Trek", "Die Hard") form one.
"""

import hashlib
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from tmdb_sandbox.data import Movie
from tmdb_sandbox.releases import DIGITAL, STORES, THEATRICAL, Releases

FIRST_NAMES = (
    "Ada", "Bruno", "Carmen", "Dev", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Kira", "Luca", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
    "Umar", "Vera", "Wim", "Xenia", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Berg", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Hale", "Ivanova",
    "Jensen", "Kowalski", "Lind", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi",
    "Sato", "Torres", "Ueda", "Varga", "Weber", "Young",
)  # fmt: skip
PLACES = (
    "Lyon, France",
    "Osaka, Japan",
    "Austin, Texas, USA",
    "Porto, Portugal",
    "Leeds, England, UK",
    "Graz, Austria",
    "Cork, Ireland",
    "Quebec City, Canada",
)
ROLES = ("Detective", "Pilot", "Teacher", "Stranger", "Mother", "Captain", "Doctor", "Thief")
ACTORS = range(1001, 1481)  # person ids by department
DIRECTORS = range(1481, 1541)
WRITERS = range(1541, 1601)
CAST_SIZE = 8
REGIONS = ("US", "GB", "DE", "FR", "CA", "ES", "IT")
PROVIDERS = {  # TMDb's own provider ids
    8: "Netflix",
    9: "Amazon Prime Video",
    337: "Disney Plus",
    2: "Apple TV",
    3: "Google Play Movies",
    10: "Amazon Video",
}
CERTIFICATIONS = {  # by region: for families, for most, for horror and crime
    "US": ("G", "PG-13", "R"),
    "GB": ("U", "12A", "18"),
    "DE": ("0", "12", "16"),
    "FR": ("U", "U", "16"),
    "CA": ("G", "PG", "18A"),
    "ES": ("A", "12", "18"),
    "IT": ("T", "T", "VM14"),
}
KEYWORDS = {
    28: ("explosion", "chase"), 12: ("quest", "journey"), 16: ("cartoon", "talking animal"),
    35: ("slapstick", "misunderstanding"), 80: ("heist", "detective"), 99: ("interview",),
    18: ("family relationships", "coming of age"), 10751: ("friendship",),
    14: ("magic", "dragon"), 36: ("period piece",), 27: ("haunted house", "monster"),
    10402: ("musician",), 9648: ("whodunit",), 10749: ("love", "wedding"),
    878: ("space", "robot"), 53: ("conspiracy",), 10752: ("battle",), 37: ("gunfight",),
}  # fmt: skip
OVERVIEWS = {  # the sandbox's translations: a generated sentence per language
    "fr": "Un film ({genres}) de {year}.",
    "de": "Ein Film ({genres}) aus dem Jahr {year}.",
    "es": "Una película ({genres}) de {year}.",
    "it": "Un film ({genres}) del {year}.",
}
_ROMAN_OR_NUMBER = re.compile(r"\s+(?:[IVX]+|\d+(?:\s+\d+/\d+)?)$")
UNKNOWN_RUNTIME_EVERY = 50  # TMDb sends runtime 0 when it does not know it


def _rng(*seed: object) -> random.Random:
    return random.Random(hashlib.sha256(repr(seed).encode()).digest())


def _key(rng: random.Random, length: int = 11) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    department: str
    gender: int
    birthday: str
    place_of_birth: str


def _department(person_id: int) -> str:
    if person_id in DIRECTORS:
        return "Directing"
    return "Writing" if person_id in WRITERS else "Acting"


@cache
def person(person_id: int) -> Person | None:
    if not ACTORS.start <= person_id < WRITERS.stop:
        return None
    rng = _rng("person", person_id)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return Person(
        id=person_id,
        name=f"{first} {last}",
        department=_department(person_id),
        gender=rng.choice((1, 2)),
        birthday=f"{rng.randint(1930, 1990)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        place_of_birth=rng.choice(PLACES),
    )


def everyone() -> list[Person]:
    return [p for i in range(ACTORS.start, WRITERS.stop) if (p := person(i)) is not None]


def profile_path(person_id: int) -> str:
    return f"/sandbox-person-{person_id}.svg"


def logo_path(provider_id: int) -> str:
    return f"/sandbox-provider-{provider_id}.svg"


class Credits:
    """Who is in and behind each movie, and the reverse index for people's filmographies."""

    def __init__(self, movies: dict[int, Movie]) -> None:
        self.cast: dict[int, list[tuple[int, str]]] = {}
        self.crew: dict[int, list[tuple[int, str, str]]] = {}
        self.by_person: dict[int, list[int]] = defaultdict(list)
        for movie_id in sorted(movies):
            rng = _rng("credits", movie_id)
            actors = rng.sample(ACTORS, CAST_SIZE)
            self.cast[movie_id] = [
                (actor, f"{rng.choice(ROLES)} {rng.choice(FIRST_NAMES)}") for actor in actors
            ]
            crew = [(rng.choice(DIRECTORS), "Directing", "Director")]
            crew += [(writer, "Writing", "Screenplay") for writer in rng.sample(WRITERS, 2)]
            self.crew[movie_id] = crew
            for person_id in {*actors, *(p for p, _, _ in crew)}:
                self.by_person[person_id].append(movie_id)

    def of(self, movie_id: int) -> dict[str, object]:
        cast = [
            {
                **_person_item(actor_id),
                "cast_id": order + 1,
                "character": character,
                "credit_id": f"sandbox-{movie_id}-{actor_id}",
                "order": order,
            }
            for order, (actor_id, character) in enumerate(self.cast[movie_id])
        ]
        crew = [
            {
                **_person_item(person_id),
                "credit_id": f"sandbox-{movie_id}-{person_id}-{job}",
                "department": department,
                "job": job,
            }
            for person_id, department, job in self.crew[movie_id]
        ]
        return {"id": movie_id, "cast": cast, "crew": crew}

    def roles(self, person_id: int, movie_id: int) -> tuple[list[str], list[tuple[str, str]]]:
        """(characters played, (department, job) pairs) of one person in one movie."""
        characters = [c for p, c in self.cast.get(movie_id, []) if p == person_id]
        jobs = [(d, j) for p, d, j in self.crew.get(movie_id, []) if p == person_id]
        return characters, jobs


def _person_item(person_id: int) -> dict[str, object]:
    found = person(person_id)
    assert found is not None
    return {
        "adult": False,
        "gender": found.gender,
        "id": found.id,
        "known_for_department": found.department,
        "name": found.name,
        "original_name": found.name,
        "popularity": round(_rng("popularity", person_id).uniform(1, 40), 3),
        "profile_path": profile_path(person_id),
    }


def person_item(person_id: int) -> dict[str, object]:
    return _person_item(person_id)


def person_details(person_id: int) -> dict[str, object] | None:
    found = person(person_id)
    if found is None:
        return None
    return {
        **_person_item(person_id),
        "also_known_as": [],
        "biography": (
            f"{found.name} is a person generated by the TMDb sandbox "
            f"({found.department.lower()}), born in {found.place_of_birth}."
        ),
        "birthday": found.birthday,
        "deathday": None,
        "homepage": None,
        "imdb_id": f"nm{person_id:07d}",
        "place_of_birth": found.place_of_birth,
    }


def runtime(movie_id: int) -> int:
    if movie_id % UNKNOWN_RUNTIME_EVERY == 0:
        return 0
    return _rng("runtime", movie_id).randint(78, 155)


def videos(movie: Movie) -> dict[str, object]:
    rng = _rng("videos", movie.id)
    found = [
        {
            "iso_639_1": "en",
            "iso_3166_1": "US",
            "name": f"{movie.title} | Official Trailer",
            "key": _key(rng),
            "site": "YouTube",
            "size": 1080,
            "type": "Trailer",
            "official": True,
            "published_at": f"{movie.year or 2000}-01-01T12:00:00.000Z",
            "id": f"sandbox-video-{movie.id}-1",
        }
    ]
    if rng.random() < 0.6:
        found.insert(
            0,
            {
                "iso_639_1": "en",
                "iso_3166_1": "US",
                "name": f"{movie.title} | Teaser",
                "key": str(rng.randint(10_000_000, 99_999_999)),
                "site": "Vimeo",
                "size": 720,
                "type": "Teaser",
                "official": False,
                "published_at": f"{movie.year or 2000}-01-01T12:00:00.000Z",
                "id": f"sandbox-video-{movie.id}-2",
            },
        )
    return {"id": movie.id, "results": found}


def certification(movie: Movie, region: str) -> str:
    family, most, mature = CERTIFICATIONS[region]
    genres = set(movie.genre_ids)
    if genres & {27, 80, 53}:
        return mature
    return family if genres & {16, 10751} else most


def release_dates(movie: Movie, releases: Releases) -> dict[str, object]:
    results = []
    for region in REGIONS:
        dates = [(THEATRICAL, releases.opening_ts(movie, region))]
        dates.append((DIGITAL, releases.digital_ts(movie, region)))
        results.append(
            {
                "iso_3166_1": region,
                "release_dates": [
                    {
                        "certification": certification(movie, region) if kind == THEATRICAL else "",
                        "descriptors": [],
                        "iso_639_1": "",
                        "note": "",
                        "release_date": releases.calendar_date(ts),
                        "type": kind,
                    }
                    for kind, ts in dates
                ],
            }
        )
    return {"id": movie.id, "results": results}


def _offer(provider_id: int, priority: int) -> dict[str, object]:
    return {
        "logo_path": logo_path(provider_id),
        "provider_id": provider_id,
        "provider_name": PROVIDERS[provider_id],
        "display_priority": priority,
    }


def watch_providers(movie: Movie, releases: Releases) -> dict[str, object]:
    """Where the title is offered now, per region: streaming as `releases` says (it moves with
    the clock), to rent or buy once its digital release is out."""
    slug = re.sub(r"[^a-z0-9]+", "-", movie.title.lower()).strip("-")
    results: dict[str, object] = {}
    for region in REGIONS:
        rng = _rng("providers", movie.id, region)
        offered = rng.random() >= 0.15  # else not offered in this region (but as tests say)
        stores = sorted(rng.sample(STORES, rng.randint(1, 3)))
        streaming = releases.streaming(movie, region, offered=offered)
        offers: dict[str, object] = {
            "link": f"https://www.themoviedb.org/movie/{movie.id}-{slug}/watch?locale={region}"
        }
        if streaming:
            offers["flatrate"] = [_offer(p, i) for i, p in enumerate(streaming)]
        if offered and releases.digital_out(movie, region):
            offers["rent"] = [_offer(p, i) for i, p in enumerate(stores)]
            offers["buy"] = [_offer(p, i) for i, p in enumerate(stores)]
        if len(offers) > 1:
            results[region] = offers
    return {"id": movie.id, "results": results}


def offered_by(movie: Movie, provider_ids: set[int], region: str, releases: Releases) -> bool:
    offers = watch_providers(movie, releases)["results"]
    assert isinstance(offers, dict)
    regional = offers.get(region)
    if not regional:
        return False
    listed = {
        offer["provider_id"]
        for kind in ("flatrate", "rent", "buy")
        for offer in regional.get(kind, [])
    }
    return bool(listed & provider_ids)


def keywords(movie: Movie) -> dict[str, object]:
    found = [
        {"id": genre_id * 10 + index, "name": name}
        for genre_id in movie.genre_ids
        for index, name in enumerate(KEYWORDS.get(genre_id, ()))
    ]
    return {"id": movie.id, "keywords": found}


def external_ids(movie_id: int) -> dict[str, object]:
    return {
        "id": movie_id,
        "imdb_id": f"tt{movie_id:07d}",
        "wikidata_id": None,
        "facebook_id": None,
        "instagram_id": None,
        "twitter_id": None,
    }


def overview(language: str, english: str, genres: str, year: int | None) -> str:
    template = OVERVIEWS.get(language)
    if template is None:
        return english
    return template.format(genres=genres, year=year or "?")


def _stem(title: str) -> str:
    return _ROMAN_OR_NUMBER.sub("", title.split(":", 1)[0]).strip().casefold()


class Collections:
    """Titles sharing a stem, two or more of them, as TMDb collections (ids from 90001)."""

    def __init__(self, movies: dict[int, Movie]) -> None:
        groups: dict[str, list[Movie]] = defaultdict(list)
        for movie in movies.values():
            stem = _stem(movie.title)
            if len(stem) >= 3:
                groups[stem].append(movie)
        self.by_id: dict[int, tuple[str, list[int]]] = {}
        self.of_movie: dict[int, int] = {}
        collection_id = 90_000
        for stem in sorted(groups):
            members = sorted(groups[stem], key=lambda m: (m.year or 0, m.id))
            if len(members) < 2:
                continue
            collection_id += 1
            name = members[0].title.split(":", 1)[0]
            name = _ROMAN_OR_NUMBER.sub("", name).strip()
            self.by_id[collection_id] = (f"{name} Collection", [m.id for m in members])
            for member in members:
                self.of_movie[member.id] = collection_id

    def belongs_to(self, movie_id: int) -> dict[str, object] | None:
        collection_id = self.of_movie.get(movie_id)
        if collection_id is None:
            return None
        return {
            "id": collection_id,
            "name": self.by_id[collection_id][0],
            "poster_path": None,
            "backdrop_path": None,
        }
