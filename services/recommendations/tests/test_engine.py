"""The ranking engine: seeds, scoring, exclusions, reasons, cold start and diversity."""

from recommendations.engine import (
    Profile,
    Scored,
    Signal,
    Weights,
    choose_seeds,
    diversify,
    rank,
    rerank,
)


def movie(movie_id: int, genres: tuple[int, ...] = (18,), votes: int = 10) -> dict[str, object]:
    return {
        "id": movie_id,
        "title": f"Movie {movie_id}",
        "overview": "",
        "release_date": None,
        "genre_ids": list(genres),
        "vote_average": 7.0,
        "vote_count": votes,
        "popularity": 1.0,
        "poster_url": None,
    }


def test_seeds_prefer_recent_and_strong_signals() -> None:
    profile = Profile(
        signals=[
            Signal(1, "favorite", at=100),
            Signal(2, "favorite", at=300),
            Signal(3, "rating", at=200, score=10),
            Signal(4, "rating", at=400, score=4),
            Signal(5, "watched", at=50),
        ]
    )
    seeds = choose_seeds(profile)
    assert [s.movie_id for s in seeds][:3] == [2, 3, 1]  # recent first, among equals
    assert 4 not in [s.movie_id for s in seeds]  # a low rating is no seed
    assert seeds[-1].movie_id == 5  # watched counts, a little


def test_favorite_and_high_rating_of_one_movie_make_one_stronger_seed() -> None:
    both = choose_seeds(
        Profile(signals=[Signal(1, "favorite", 1), Signal(1, "rating", 1, score=10)])
    )
    alone = choose_seeds(Profile(signals=[Signal(1, "favorite", 1)]))
    assert len(both) == 1 and both[0].weight > alone[0].weight


def test_agreeing_seeds_rank_a_candidate_first_and_exclusions_hold() -> None:
    profile = Profile(
        signals=[
            Signal(1, "favorite", 10),
            Signal(2, "favorite", 20),
            Signal(9, "watched", 5),
            Signal(8, "rating", 3, score=2),
        ]
    )
    seeds = choose_seeds(profile)
    related = {1: [movie(50), movie(51), movie(9)], 2: [movie(51), movie(52), movie(8)]}
    ranked = rank(
        profile,
        seeds=seeds,
        seed_movies={1: movie(1), 2: movie(2)},
        related=related,
        trending=[movie(60), movie(1)],
    )
    ids = [int(item.movie["id"]) for item in ranked]
    assert ids[0] == 51  # recommended by both seeds
    assert not {1, 2, 8, 9} & set(ids)  # favorited, rated or watched never come back
    assert 60 in ids


def test_reasons_name_the_seed_and_trending() -> None:
    profile = Profile(signals=[Signal(1, "favorite", 10)])
    ranked = rank(
        profile,
        seeds=choose_seeds(profile),
        seed_movies={1: {**movie(1), "title": "Heat"}},
        related={1: [movie(50)]},
        trending=[movie(50), movie(70)],
    )
    by_id = {int(item.movie["id"]): item for item in ranked}
    assert by_id[50].reasons == ["Because you liked Heat", "Trending this week"]
    assert by_id[70].reasons and all(r for r in by_id[70].reasons)


def test_cold_start_uses_trending_and_preferred_genres() -> None:
    profile = Profile(preferred_genres=[28])
    ranked = rank(
        profile,
        seeds=[],
        seed_movies={},
        related={},
        trending=[movie(1, (18,)), movie(2, (28,))],
        genre_picks=[movie(3, (28,))],
    )
    ids = [int(item.movie["id"]) for item in ranked]
    assert ids[0] == 2  # trending and in a liked genre
    assert "Popular in Action" in next(i for i in ranked if i.movie["id"] == 3).reasons
    assert all(item.reasons for item in ranked)


def test_adult_titles_only_when_allowed() -> None:
    kwargs = {
        "seeds": [],
        "seed_movies": {},
        "related": {},
        "trending": [movie(1), movie(2)],
        "adult_ids": frozenset({2}),
    }
    assert [i.movie["id"] for i in rank(Profile(), **kwargs)] == [1]  # type: ignore[arg-type]
    allowed = rank(Profile(include_adult=True), **kwargs)  # type: ignore[arg-type]
    assert {i.movie["id"] for i in allowed} == {1, 2}


def test_one_seed_does_not_fill_the_page() -> None:
    profile = Profile(signals=[Signal(1, "favorite", 20), Signal(2, "favorite", 10)])
    related = {1: [movie(i) for i in range(100, 120)], 2: [movie(i) for i in range(200, 205)]}
    ranked = rank(
        profile,
        seeds=choose_seeds(profile),
        seed_movies={},
        related=related,
        trending=[],
        weights=Weights(per_seed_cap=4),
    )
    first_ten = [int(item.movie["id"]) for item in ranked[:10]]
    assert sum(1 for i in first_ten if i < 200) <= 6
    assert any(i >= 200 for i in first_ten[:6])


def test_diversify_keeps_everything() -> None:
    items = [Scored(movie(i), 1.0 - i / 100, ["x"], main_seed=1) for i in range(12)]
    result = diversify(items, per_seed_cap=3)
    assert sorted(int(i.movie["id"]) for i in result) == list(range(12))


def test_rerank_moves_up_candidates_whose_neighbours_the_user_liked() -> None:
    profile = Profile(
        signals=[Signal(1, "favorite", 30), Signal(2, "favorite", 20), Signal(3, "favorite", 10)]
    )
    scored = [
        Scored(movie(50), 1.0, ["a"]),
        Scored(movie(51), 0.9, ["b"]),
        Scored(movie(52), 0.1, ["c"]),
    ]
    neighbours = {50: [99], 51: [98], 52: [1, 2, 3]}
    reranked = rerank(profile, scored, neighbours, Weights(rerank=2.0, rerank_top=3))
    assert int(reranked[0].movie["id"]) == 52


def test_rerank_without_lists_changes_nothing() -> None:
    scored = [Scored(movie(50), 1.0, ["a"]), Scored(movie(51), 0.9, ["b"])]
    assert rerank(Profile(), scored, {}) == scored
