"""The sandbox's movie world: MovieLens movies and ratings seen through a moving clock.

Everything time-dependent (vote averages, popularity, trending, recommendations) uses only
ratings made before the clock, so the world changes as the clock walks the data's timeline.
"""

import math
import re
import time
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from tmdb_sandbox import generated, titles
from tmdb_sandbox.data import GENRE_NAMES, Movie, Rating
from tmdb_sandbox.releases import Releases

DAY_S = 86_400.0
POPULARITY_WINDOW_S = 30 * DAY_S
TRENDING_WINDOWS_S = {"day": DAY_S, "week": 7 * DAY_S}
NOW_PLAYING_S = 30 * DAY_S  # first rated within this before the clock: "in cinemas"
UPCOMING_S = 30 * DAY_S  # first rated within this after the clock: "coming soon"
TOP_RATED_MIN_VOTES = 50
DISCOVER_SORTS = ("popularity", "vote_average", "vote_count", "primary_release_date", "title")


@dataclass
class _Series:
    """One movie's or user's ratings, oldest first, with running sums for fast averages."""

    timestamps: list[float]
    others: list[int]  # the user (for a movie) or the movie (for a user)
    ratings: list[float]
    rating_sums: list[float]


def _series(entries: list[tuple[float, int, float]]) -> _Series:
    entries.sort()
    ratings = [rating for _, _, rating in entries]
    return _Series(
        timestamps=[ts for ts, _, _ in entries],
        others=[other for _, other, _ in entries],
        ratings=ratings,
        rating_sums=list(accumulate(ratings)),
    )


class RatingsIndex:
    """Ratings by movie and by user, each sorted by time."""

    def __init__(self, ratings: Iterable[Rating]) -> None:
        by_movie: dict[int, list[tuple[float, int, float]]] = defaultdict(list)
        by_user: dict[int, list[tuple[float, int, float]]] = defaultdict(list)
        everything = []
        for r in ratings:
            by_movie[r.movie_id].append((r.timestamp, r.user_id, r.rating))
            by_user[r.user_id].append((r.timestamp, r.movie_id, r.rating))
            everything.append((r.timestamp, r.movie_id))
        self.by_movie = {movie: _series(entries) for movie, entries in by_movie.items()}
        self.by_user = {user: _series(entries) for user, entries in by_user.items()}
        everything.sort()
        self.timestamps = [ts for ts, _ in everything]
        self.movie_ids = [movie for _, movie in everything]
        self.first_ts = self.timestamps[0] if everything else 0.0
        self.last_ts = self.timestamps[-1] if everything else 0.0

    def stats(self, movie_id: int, before: float) -> tuple[float, int]:
        """(mean rating on TMDb's 0..10 scale, count) of ratings before `before`."""
        series = self.by_movie.get(movie_id)
        if series is None:
            return 0.0, 0
        count = bisect_left(series.timestamps, before)
        if count == 0:
            return 0.0, 0
        return round(series.rating_sums[count - 1] / count * 2, 3), count

    def activity(self, start: float, end: float) -> Counter[int]:
        """How many ratings each movie got in [start, end)."""
        low = bisect_left(self.timestamps, start)
        high = bisect_left(self.timestamps, end)
        return Counter(self.movie_ids[low:high])

    def co_rated(self, movie_id: int, before: float = math.inf, limit: int = 40) -> list[int]:
        """Movies most often rated by the same users, cosine-normalised (item co-rating)."""
        series = self.by_movie.get(movie_id)
        if series is None:
            return []
        raters = series.others[: bisect_left(series.timestamps, before)]
        if not raters:
            return []
        co_counts: Counter[int] = Counter()
        for user in raters:
            user_series = self.by_user[user]
            co_counts.update(user_series.others[: bisect_left(user_series.timestamps, before)])
        del co_counts[movie_id]
        own = len(raters)

        def score(other: int) -> float:
            other_series = self.by_movie[other]
            others_count = bisect_left(other_series.timestamps, before)
            return co_counts[other] / math.sqrt(own * max(others_count, 1))

        ranked = sorted(co_counts, key=lambda other: (-score(other), other))
        return ranked[:limit]


class Clock:
    """Walks the data's timeline at `speed` data days per real minute, wrapping around."""

    def __init__(
        self,
        *,
        first_ts: float,
        last_ts: float,
        start_day: float,
        speed: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.first_ts = first_ts
        self.span_s = max(last_ts - first_ts, DAY_S)
        self.speed = speed
        self.now = now
        self.set_day(start_day)

    def set_day(self, day: float) -> None:
        self._origin_real = self.now()
        self._origin_offset_s = day * DAY_S

    def data_time(self) -> float:
        elapsed_min = (self.now() - self._origin_real) / 60.0
        offset_s = (self._origin_offset_s + elapsed_min * self.speed * DAY_S) % self.span_s
        return self.first_ts + offset_s


class World:
    def __init__(
        self,
        movies: dict[int, Movie],
        ratings: list[Rating],
        clock: Clock,
        adult_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.movies = movies
        self.adult_ids = adult_ids  # MovieLens has no such flag; tests name some titles
        self.index = RatingsIndex(ratings)
        self.clock = clock
        self.genres = [
            {"id": gid, "name": name}
            for gid, name in sorted(GENRE_NAMES.items(), key=lambda g: g[1])
        ]
        self.credits = generated.Credits(movies)
        self.collections = generated.Collections(movies)
        self.first_rated = {
            movie_id: series.timestamps[0] for movie_id, series in self.index.by_movie.items()
        }
        self.releases = Releases(self.first_rated, clock.data_time, clock.now)

    # --- time-dependent facts, cached per data hour ------------------------------------------
    def _hour(self) -> int:
        return int(self.clock.data_time() // 3600)

    def popularity(self) -> dict[int, float]:
        return self._popularity(self._hour())

    @lru_cache(maxsize=8)  # noqa: B019  (the world lives as long as the process)
    def _popularity(self, hour: int) -> dict[int, float]:
        end = (hour + 1) * 3600.0
        activity = self.index.activity(end - POPULARITY_WINDOW_S, end)
        return {movie_id: round(count * 1.7 + 0.6, 3) for movie_id, count in activity.items()}

    def trending(self, window: str) -> list[int]:
        return self._trending(window, self._hour())

    @lru_cache(maxsize=16)  # noqa: B019
    def _trending(self, window: str, hour: int) -> list[int]:
        end = (hour + 1) * 3600.0
        activity = self.index.activity(end - TRENDING_WINDOWS_S[window], end)
        popularity = self._popularity(hour)
        return sorted(activity, key=lambda m: (-activity[m], -popularity.get(m, 0.0), m))

    def recommendations(self, movie_id: int) -> list[int]:
        return self._recommendations(movie_id, self._hour())

    @lru_cache(maxsize=4096)  # noqa: B019
    def _recommendations(self, movie_id: int, hour: int) -> list[int]:
        return self.index.co_rated(movie_id, before=(hour + 1) * 3600.0)

    @lru_cache(maxsize=4096)  # noqa: B019
    def similar(self, movie_id: int) -> list[int]:
        """Same genres first, then nearest year; most-rated breaks ties."""
        movie = self.movies[movie_id]
        genres = set(movie.genre_ids)
        if not genres:
            return []
        scored = []
        for other in self.movies.values():
            shared = genres & set(other.genre_ids)
            if other.id == movie_id or not shared:
                continue
            jaccard = len(shared) / len(genres | set(other.genre_ids))
            year_gap = (
                abs((movie.year or 0) - (other.year or 0)) if movie.year and other.year else 10
            )
            votes = (
                len(self.index.by_movie[other.id].timestamps)
                if other.id in self.index.by_movie
                else 0
            )
            scored.append((-(jaccard - 0.03 * min(year_gap, 10)), -votes, other.id))
        scored.sort()
        return [movie_id for _, _, movie_id in scored[:40]]

    def search(self, query: str, *, year: int | None = None) -> list[int]:
        """Titles containing the query, accents and case aside (as TMDb's search), of `year`
        when given; the best known first."""
        needle = _folded(query)
        hits = [
            m
            for m in self.movies.values()
            if needle in _folded(m.title) and (year is None or m.year == year)
        ]
        counts = {
            m.id: len(self.index.by_movie[m.id].timestamps) if m.id in self.index.by_movie else 0
            for m in hits
        }
        hits.sort(key=lambda m: (not _folded(m.title).startswith(needle), -counts[m.id], m.id))
        return [m.id for m in hits]

    def by_imdb_id(self, imdb_id: str) -> int | None:
        match = re.fullmatch(r"tt(\d{7,8})", imdb_id)
        movie_id = int(match.group(1)) if match else None
        return movie_id if movie_id in self.movies else None

    def discover(self, query: "DiscoverQuery") -> list[int]:
        now = self.clock.data_time()
        popularity = self.popularity()
        chosen = []
        for movie in self.movies.values():
            if not query.admits(movie, self):
                continue
            average, count = self.index.stats(movie.id, now)
            if count < query.min_votes or average < query.min_rating:
                continue
            chosen.append((movie, average, count))
        keys: dict[str, Callable[[tuple[Movie, float, int]], tuple[object, ...]]] = {
            "popularity": lambda e: (popularity.get(e[0].id, 0.0), -e[0].id),
            "vote_average": lambda e: (e[1], -e[0].id),
            "vote_count": lambda e: (e[2], -e[0].id),
            "primary_release_date": lambda e: (e[0].year or 0, -e[0].id),
            "title": lambda e: (e[0].title.casefold(), -e[0].id),
        }
        chosen.sort(key=keys[query.sort], reverse=query.descending)
        return [movie.id for movie, _, _ in chosen]

    def popular(self) -> list[int]:
        popularity = self.popularity()
        return sorted(popularity, key=lambda m: (-popularity[m], m))

    def top_rated(self) -> list[int]:
        now = self.clock.data_time()
        stats = {m: self.index.stats(m, now) for m in self.movies}
        rated = [m for m, (_, count) in stats.items() if count >= TOP_RATED_MIN_VOTES]
        return sorted(rated, key=lambda m: (-stats[m][0], m))

    def now_playing(self, region: str) -> tuple[list[int], float, float]:
        """Titles that opened in the region in the last 30 days (`releases.py`)."""
        now = self.clock.data_time()
        opened = self._openings(region)
        chosen = [m for m, ts in opened.items() if now - NOW_PLAYING_S <= ts < now]
        chosen.sort(key=lambda m: (-opened[m], m))
        return chosen, now - NOW_PLAYING_S, now

    def upcoming(self, region: str) -> tuple[list[int], float, float]:
        """Titles opening in the region in the next 30 days."""
        now = self.clock.data_time()
        opened = self._openings(region)
        chosen = [m for m, ts in opened.items() if now <= ts < now + UPCOMING_S]
        chosen.sort(key=lambda m: (opened[m], m))
        return chosen, now, now + UPCOMING_S

    def _openings(self, region: str) -> dict[int, float]:
        return {m: self.releases.opening_ts(movie, region) for m, movie in self.movies.items()}

    def search_people(self, query: str) -> list[int]:
        needle = query.casefold().strip()
        hits = [p for p in generated.everyone() if needle in p.name.casefold()]
        hits.sort(key=lambda p: (not p.name.casefold().startswith(needle), p.id))
        return [p.id for p in hits]

    def person_movies(self, person_id: int) -> list[int]:
        return sorted(
            self.credits.by_person.get(person_id, []),
            key=lambda m: (-(self.movies[m].year or 0), m),
        )

    # --- TMDb shapes ------------------------------------------------------------------------
    def _overview(self, movie: Movie, average: float, count: int, language: str) -> str:
        genres = ", ".join(GENRE_NAMES[g] for g in movie.genre_ids) or "uncategorised"
        year = f"{movie.year} " if movie.year else ""
        rating = f"rated {average / 2:.1f}/5 by {count} viewers" if count else "not yet rated"
        english = f"A {year}{genres.lower()} film, {rating}."
        return generated.overview(language, english, genres.lower(), movie.year)

    def list_item(self, movie_id: int, language: str = "en") -> dict[str, object]:
        movie = self.movies[movie_id]
        average, count = self.index.stats(movie_id, self.clock.data_time())
        return {
            "adult": movie_id in self.adult_ids,
            "backdrop_path": f"/sandbox-backdrop-{movie_id}.svg",
            "genre_ids": list(movie.genre_ids),
            "id": movie.id,
            "media_type": "movie",
            "original_language": "en",
            "original_title": movie.title,
            "overview": self._overview(movie, average, count, language),
            "popularity": self.popularity().get(movie_id, 0.6),
            "poster_path": f"/sandbox-poster-{movie_id}.svg",
            "release_date": f"{movie.year}-01-01" if movie.year else "",
            "title": titles.title(movie_id, language, movie.title),
            "video": False,
            "vote_average": average,
            "vote_count": count,
        }

    def details(
        self, movie_id: int, language: str = "en", append: tuple[str, ...] = ()
    ) -> dict[str, object]:
        """TMDb's /movie/{id}, with the parts `append_to_response` names added under their names."""
        movie = self.movies[movie_id]
        item = self.list_item(movie_id, language)
        item.pop("genre_ids")
        item.pop("media_type")
        found: dict[str, object] = {
            **item,
            "belongs_to_collection": self.collections.belongs_to(movie_id),
            "budget": 0,
            "genres": [{"id": g, "name": GENRE_NAMES[g]} for g in movie.genre_ids],
            "homepage": "",
            "imdb_id": f"tt{movie_id:07d}",
            "production_companies": [],
            "revenue": 0,
            "runtime": generated.runtime(movie_id),
            "spoken_languages": [{"iso_639_1": "en", "name": "English", "english_name": "English"}],
            "status": "Released",
            "tagline": "",
        }
        parts = {
            "credits": lambda: self.credits.of(movie_id),
            "videos": lambda: generated.videos(movie),
            "release_dates": lambda: generated.release_dates(movie, self.releases),
            "watch/providers": lambda: generated.watch_providers(movie, self.releases),
            "external_ids": lambda: generated.external_ids(movie_id),
            "keywords": lambda: generated.keywords(movie),
        }
        for name in append:
            if name in parts:
                part = parts[name]()
                if isinstance(part, dict) and name not in ("external_ids",):
                    part = {k: v for k, v in part.items() if k != "id"}
                found[name] = part
        return found

    def collection(self, collection_id: int, language: str = "en") -> dict[str, object] | None:
        found = self.collections.by_id.get(collection_id)
        if found is None:
            return None
        name, movie_ids = found
        return {
            "id": collection_id,
            "name": name,
            "overview": f"The {name.removesuffix(' Collection')} films in the sandbox.",
            "poster_path": None,
            "backdrop_path": None,
            "parts": [self.list_item(m, language) for m in movie_ids],
        }

    def person_credits(self, person_id: int, language: str = "en") -> dict[str, object]:
        cast, crew = [], []
        for movie_id in self.person_movies(person_id):
            characters, jobs = self.credits.roles(person_id, movie_id)
            item = self.list_item(movie_id, language)
            item.pop("media_type")
            for character in characters:
                cast.append({**item, "character": character, "credit_id": f"c{movie_id}"})
            for department, job in jobs:
                crew.append(
                    {**item, "department": department, "job": job, "credit_id": f"j{movie_id}"}
                )
        return {"id": person_id, "cast": cast, "crew": crew}

    def person_search_item(self, person_id: int, language: str = "en") -> dict[str, object]:
        known_for = [self.list_item(m, language) for m in self.person_movies(person_id)[:3]]
        return {**generated.person_item(person_id), "known_for": known_for}


@dataclass(frozen=True, slots=True)
class DiscoverQuery:
    """TMDb's /discover/movie filters, parsed (comma in with_genres means all, | means any)."""

    all_genres: frozenset[int] = frozenset()
    any_genres: frozenset[int] = frozenset()
    without_genres: frozenset[int] = frozenset()
    year: int | None = None
    date_from: str | None = None  # YYYY-MM-DD
    date_to: str | None = None
    min_rating: float = 0.0
    min_votes: int = 0
    original_language: str | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    providers: frozenset[int] = frozenset()
    watch_region: str = "US"
    sort: str = "popularity"
    descending: bool = True

    def admits(self, movie: Movie, world: World) -> bool:
        genres = set(movie.genre_ids)
        if self.all_genres and not self.all_genres <= genres:
            return False
        if self.any_genres and not self.any_genres & genres:
            return False
        if self.without_genres & genres:
            return False
        if self.year is not None and movie.year != self.year:
            return False
        released = f"{movie.year}-01-01" if movie.year else None
        if self.date_from and (released is None or released < self.date_from):
            return False
        if self.date_to and (released is None or released > self.date_to):
            return False
        if self.original_language and self.original_language != "en":
            return False  # every sandbox title is in English
        length = generated.runtime(movie.id)
        if self.runtime_min is not None and length < self.runtime_min:
            return False
        if self.runtime_max is not None and length > self.runtime_max:
            return False
        return not self.providers or generated.offered_by(
            movie, set(self.providers), self.watch_region, world.releases
        )


@lru_cache(maxsize=8192)
def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
