"""The recommendation engine: pure functions from a taste profile and candidate lists to a
ranked, explained page. The service feeds it from the catalog; `make eval` from MovieLens,
through exactly these functions.

Stage 1 (`score_candidates`): each seed (a recent or highly rated favorite or rating) lends
its weight to the titles TMDb recommends for it, more to those near the top of its list;
titles several seeds agree on get a bonus; genre affinity with the profile (seeds' genres and
preferred genres) adds a little. With no seeds at all (a new user) trending order leads.
Stage 2 (`rerank`): for the best candidates, the titles TMDb recommends for *them* are
checked against everything the user liked: a candidate whose own neighbours are the user's
favorites moves up. Last (`finalize`) a diversity step keeps one seed from filling a page.
The weights were chosen with `make eval` (see BENCHMARKS.md).
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Movie = Mapping[str, Any]  # a MovieSummary as the catalog serves it

FAVORITE_WEIGHT = 1.0
WATCHED_WEIGHT = 0.3
WATCHLIST_WEIGHT = 0.5  # wanted, not yet seen: a signal of taste, and never recommended back
# On a list of the user's own: more than a glance (watched), less than wanting it (watchlist)
# or loving it; a list may gather titles for other reasons ("worst of 1998"). Never
# recommended back either: the user knows it.
LISTED_WEIGHT = 0.4
MIN_SEED_RATING = 7.0  # on TMDb's 0..10 scale
MAX_SEEDS = 50
SEED_HALF_LIFE = 4.0  # seeds' weight halves every 4 places back in time
LIKED_HALF_LIFE = 40.0  # a slower decay for the re-ranking stage

GENRE_NAMES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    36: "History",
    27: "Horror",
    10402: "Music",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    10770: "TV Movie",
    53: "Thriller",
    10752: "War",
    37: "Western",
}


@dataclass(frozen=True, slots=True)
class Signal:
    """One thing the user did with a movie."""

    movie_id: int
    kind: str  # favorite, rating, watched, watchlist, listed or not_interested (never a seed)
    at: float  # epoch seconds
    score: float | None = None  # ratings only, 0.5..10


@dataclass
class Profile:
    signals: list[Signal] = field(default_factory=list)
    preferred_genres: list[int] = field(default_factory=list)
    include_adult: bool = False

    def excluded(self) -> set[int]:
        """Everything the user already favorited, rated, watched, put on the watchlist or a
        list, or marked as not interesting."""
        return {signal.movie_id for signal in self.signals}


@dataclass(frozen=True, slots=True)
class Seed:
    movie_id: int
    weight: float


@dataclass(frozen=True, slots=True)
class Weights:
    support: float = 1.0
    agreement: float = 0.35
    genre: float = 0.3
    trending: float = 0.0  # with seeds; measured to hurt once seeds exist
    cold_trending: float = 1.0  # without seeds, trending and preferred genres lead
    cold_genre: float = 1.0
    preferred_genre: float = 0.6
    rank_decay: float = 0.5
    rerank: float = 0.5
    rerank_top: int = 30
    per_seed_cap: int = 4


@dataclass
class Scored:
    movie: Movie
    score: float
    reasons: list[str]
    main_seed: int | None = None


def _signal_weight(signal: Signal) -> float:
    if signal.kind == "favorite":
        return FAVORITE_WEIGHT
    if signal.kind == "rating" and signal.score is not None and signal.score >= MIN_SEED_RATING:
        return 0.4 + 0.6 * (signal.score - MIN_SEED_RATING) / (10 - MIN_SEED_RATING)
    if signal.kind == "watched":
        return WATCHED_WEIGHT
    if signal.kind == "watchlist":
        return WATCHLIST_WEIGHT
    if signal.kind == "listed":
        return LISTED_WEIGHT
    return 0.0


def choose_seeds(
    profile: Profile, max_seeds: int = MAX_SEEDS, half_life: float = SEED_HALF_LIFE
) -> list[Seed]:
    """The user's strongest recent signals, one seed per movie, strongest first."""
    by_movie: dict[int, tuple[float, float]] = {}
    for signal in profile.signals:
        weight = _signal_weight(signal)
        if weight <= 0:
            continue
        best, latest = by_movie.get(signal.movie_id, (0.0, 0.0))
        # A favorite that is also rated highly counts a little more than either alone.
        combined = max(best, weight) + 0.25 * min(best, weight)
        by_movie[signal.movie_id] = (combined, max(latest, signal.at))
    recent_first = sorted(by_movie.items(), key=lambda item: (-item[1][1], item[0]))
    seeds = [
        Seed(movie_id, weight * 0.5 ** (position / half_life))
        for position, (movie_id, (weight, _)) in enumerate(recent_first)
    ]
    seeds.sort(key=lambda seed: -seed.weight)
    return seeds[:max_seeds]


def genre_taste(
    seeds: Sequence[Seed],
    seed_movies: Mapping[int, Movie],
    preferred: Sequence[int],
    weights: Weights,
) -> dict[int, float]:
    """Share of the profile's taste per genre (sums to 1)."""
    taste: dict[int, float] = defaultdict(float)
    for seed in seeds:
        movie = seed_movies.get(seed.movie_id)
        genres = movie.get("genre_ids", []) if movie else []
        for genre in genres:
            taste[genre] += seed.weight / len(genres)
    seed_total = sum(taste.values()) or 1.0
    for genre in list(taste):
        taste[genre] /= seed_total
    for genre in preferred:
        taste[genre] += weights.preferred_genre / len(preferred)
    total = sum(taste.values()) or 1.0
    return {genre: share / total for genre, share in taste.items()}


def score_candidates(
    profile: Profile,
    *,
    seeds: Sequence[Seed],
    seed_movies: Mapping[int, Movie],
    related: Mapping[int, Sequence[Movie]],
    trending: Sequence[Movie],
    genre_picks: Sequence[Movie] = (),
    adult_ids: frozenset[int] = frozenset(),
    weights: Weights | None = None,
) -> list[Scored]:
    """Stage 1: every candidate scored and explained, best first."""
    weights = weights or Weights()
    excluded = profile.excluded()
    taste = genre_taste(seeds, seed_movies, profile.preferred_genres, weights)
    movies: dict[int, Movie] = {}
    support: dict[int, float] = defaultdict(float)
    backers: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for seed in seeds:
        for position, movie in enumerate(related.get(seed.movie_id, ())):
            contribution = seed.weight / (1 + position) ** weights.rank_decay
            movie_id = int(movie["id"])
            movies.setdefault(movie_id, movie)
            support[movie_id] += contribution
            backers[movie_id].append((contribution, seed.movie_id))
    trend_rank = {int(movie["id"]): position for position, movie in enumerate(trending)}
    for movie in (*trending, *genre_picks):
        movies.setdefault(int(movie["id"]), movie)
    genre_picked = {int(movie["id"]) for movie in genre_picks}
    trend_weight = weights.trending if seeds else weights.cold_trending
    genre_weight = weights.genre if seeds else weights.cold_genre
    top_support = max(support.values(), default=0.0) or 1.0

    scored: list[Scored] = []
    for movie_id, movie in movies.items():
        if movie_id in excluded or (movie_id in adult_ids and not profile.include_adult):
            continue
        genres = movie.get("genre_ids") or []
        affinity = (
            sum(taste.get(g, 0.0) for g in genres) / math.sqrt(len(genres)) if genres else 0.0
        )
        trend = 1.0 - trend_rank[movie_id] / len(trend_rank) if movie_id in trend_rank else 0.0
        score = (
            weights.support * support.get(movie_id, 0.0) / top_support
            + weights.agreement * math.log1p(len(backers.get(movie_id, ())))
            + genre_weight * affinity
            + trend_weight * trend
        )
        ranked_backers = sorted(backers.get(movie_id, []), reverse=True)
        scored.append(
            Scored(
                movie=movie,
                score=score,
                reasons=_reasons(
                    [seed for _, seed in ranked_backers[:2]],
                    seed_movies=seed_movies,
                    genres=genres,
                    taste=taste,
                    trending=movie_id in trend_rank,
                    genre_pick=movie_id in genre_picked,
                    preferred=profile.preferred_genres,
                ),
                main_seed=ranked_backers[0][1] if ranked_backers else None,
            )
        )
    scored.sort(key=lambda item: (-item.score, int(item.movie["id"])))
    return scored


def rerank(
    profile: Profile,
    scored: list[Scored],
    candidate_related: Mapping[int, Sequence[int]],
    weights: Weights | None = None,
) -> list[Scored]:
    """Stage 2: move up the candidates whose own neighbours (by id, in TMDb's order) are what
    the user liked."""
    weights = weights or Weights()
    top, rest = scored[: weights.rerank_top], scored[weights.rerank_top :]
    if not top or not candidate_related:
        return scored
    liked = {seed.movie_id: seed.weight for seed in choose_seeds(profile, 10_000, LIKED_HALF_LIFE)}
    closeness = {
        int(item.movie["id"]): sum(
            liked.get(int(neighbour), 0.0) / (1 + position) ** weights.rank_decay
            for position, neighbour in enumerate(candidate_related.get(int(item.movie["id"]), ()))
        )
        for item in top
    }
    best_score = max(item.score for item in top) or 1.0
    best_closeness = max(closeness.values()) or 1.0
    for item in top:
        item.score = (
            item.score / best_score
            + weights.rerank * closeness[int(item.movie["id"])] / best_closeness
        )
    top.sort(key=lambda item: (-item.score, int(item.movie["id"])))
    floor = min(item.score for item in top)
    for item in rest:  # keep the rest below the re-ranked head, in their own order
        item.score = min(item.score / best_score, floor)
    return top + rest


def finalize(scored: list[Scored], *, limit: int, weights: Weights | None = None) -> list[Scored]:
    """Diversify, cut to `limit` and round the scores for clients."""
    weights = weights or Weights()
    chosen = diversify(scored, per_seed_cap=weights.per_seed_cap)[:limit]
    for item in chosen:
        item.score = round(item.score, 6)
    return chosen


def rank(
    profile: Profile, *, limit: int = 100, weights: Weights | None = None, **lists: Any
) -> list[Scored]:
    """Stage 1 and the diversity step, for callers without candidates' own lists."""
    return finalize(
        score_candidates(profile, weights=weights, **lists), limit=limit, weights=weights
    )


def diversify(scored: list[Scored], *, per_seed_cap: int) -> list[Scored]:
    """Let no single seed supply more than `per_seed_cap` of any ten in a row."""
    chosen: list[Scored] = []
    deferred: list[Scored] = []
    per_seed: dict[int, int] = defaultdict(int)
    for item in scored:
        if item.main_seed is not None and per_seed[item.main_seed] >= per_seed_cap:
            deferred.append(item)
            continue
        if item.main_seed is not None:
            per_seed[item.main_seed] += 1
        chosen.append(item)
        if len(chosen) % 10 == 0:
            per_seed.clear()
    return chosen + deferred


def _reasons(
    seed_ids: Sequence[int],
    *,
    seed_movies: Mapping[int, Movie],
    genres: Sequence[int],
    taste: Mapping[int, float],
    trending: bool,
    genre_pick: bool,
    preferred: Sequence[int],
) -> list[str]:
    reasons = []
    for seed_id in seed_ids:
        title = seed_movies.get(seed_id, {}).get("title")
        if title:
            reasons.append(f"Because you liked {title}")
    liked_genres = [g for g in genres if g in preferred] or sorted(
        genres, key=lambda g: -taste.get(g, 0.0)
    )[:1]
    if (genre_pick or not reasons) and liked_genres and liked_genres[0] in GENRE_NAMES:
        reasons.append(f"Popular in {GENRE_NAMES[liked_genres[0]]}")
    if trending:
        reasons.append("Trending this week")
    return reasons or ["Popular right now"]
