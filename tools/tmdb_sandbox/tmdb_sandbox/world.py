"""The sandbox's movie world: MovieLens movies and ratings seen through a moving clock.

Everything time-dependent (vote averages, popularity, trending, recommendations) uses only
ratings made before the clock, so the world changes as the clock walks the data's timeline.
"""

import math
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from tmdb_sandbox.data import GENRE_NAMES, Movie, Rating

DAY_S = 86_400.0
POPULARITY_WINDOW_S = 30 * DAY_S
TRENDING_WINDOWS_S = {"day": DAY_S, "week": 7 * DAY_S}


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

    def search(self, query: str) -> list[int]:
        needle = query.casefold().strip()
        hits = [m for m in self.movies.values() if needle in m.title.casefold()]
        counts = {
            m.id: len(self.index.by_movie[m.id].timestamps) if m.id in self.index.by_movie else 0
            for m in hits
        }
        hits.sort(key=lambda m: (not m.title.casefold().startswith(needle), -counts[m.id], m.id))
        return [m.id for m in hits]

    def discover(
        self,
        *,
        all_genres: set[int],
        any_genres: set[int],
        sort_by: str,
        min_votes: int,
        year: int | None,
    ) -> list[int]:
        now = self.clock.data_time()
        popularity = self.popularity()
        chosen = []
        for movie in self.movies.values():
            genres = set(movie.genre_ids)
            if all_genres and not all_genres <= genres:
                continue
            if any_genres and not any_genres & genres:
                continue
            if year is not None and movie.year != year:
                continue
            average, count = self.index.stats(movie.id, now)
            if count < min_votes:
                continue
            chosen.append((movie, average, count))
        keys: dict[str, Callable[[tuple[Movie, float, int]], tuple[float, int]]] = {
            "popularity.desc": lambda e: (-popularity.get(e[0].id, 0.0), e[0].id),
            "vote_average.desc": lambda e: (-e[1], e[0].id),
            "vote_count.desc": lambda e: (-e[2], e[0].id),
            "primary_release_date.desc": lambda e: (-(e[0].year or 0), e[0].id),
        }
        chosen.sort(key=keys.get(sort_by, keys["popularity.desc"]))
        return [movie.id for movie, _, _ in chosen]

    # --- TMDb shapes ------------------------------------------------------------------------
    def _overview(self, movie: Movie, average: float, count: int) -> str:
        genres = ", ".join(GENRE_NAMES[g] for g in movie.genre_ids) or "uncategorised"
        year = f"{movie.year} " if movie.year else ""
        rating = f"rated {average / 2:.1f}/5 by {count} viewers" if count else "not yet rated"
        return f"A {year}{genres.lower()} film, {rating}."

    def list_item(self, movie_id: int) -> dict[str, object]:
        movie = self.movies[movie_id]
        average, count = self.index.stats(movie_id, self.clock.data_time())
        return {
            "adult": movie_id in self.adult_ids,
            "backdrop_path": None,
            "genre_ids": list(movie.genre_ids),
            "id": movie.id,
            "original_language": "en",
            "original_title": movie.title,
            "overview": self._overview(movie, average, count),
            "popularity": self.popularity().get(movie_id, 0.6),
            "poster_path": None,
            "release_date": f"{movie.year}-01-01" if movie.year else "",
            "title": movie.title,
            "video": False,
            "vote_average": average,
            "vote_count": count,
        }

    def details(self, movie_id: int) -> dict[str, object]:
        item = self.list_item(movie_id)
        genre_ids = item.pop("genre_ids")
        assert isinstance(genre_ids, list)
        return {
            **item,
            "belongs_to_collection": None,
            "budget": 0,
            "genres": [{"id": g, "name": GENRE_NAMES[g]} for g in genre_ids],
            "homepage": "",
            "imdb_id": None,
            "production_companies": [],
            "revenue": 0,
            "runtime": None,
            "spoken_languages": [{"iso_639_1": "en", "name": "English", "english_name": "English"}],
            "status": "Released",
            "tagline": "",
        }
