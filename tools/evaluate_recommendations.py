"""Offline evaluation of the recommendation engine on MovieLens 100K: `make eval`.

Per-user temporal split: each user's last 20% of ratings (by time) are the test set;
positives are ratings >= 4. The sandbox's co-rating recommendations are rebuilt from the
training ratings only. Each user's training positives (as favorites) and training ratings go
into the same engine the service runs; the top 10, without anything rated in training, are
scored against the test positives. Baselines: `popularity` (most rated in training) and
`tmdb_seeds` (the round-robin union of TMDb recommendations for the five most recent
favorites, what simple backends do). `hybrid, rated 3+ also on a list` is the hybrid with
every training title rated 3 or more also on one of the user's lists (the weak `listed`
signal), to see what lists do to the ranking.
"""

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommendations.engine import (
    Profile,
    Signal,
    Weights,
    choose_seeds,
    finalize,
    rerank,
    score_candidates,
)
from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import Rating, load_movies, load_ratings
from tmdb_sandbox.world import Clock, World
from tools.report import write_section

ROOT = Path(__file__).resolve().parent.parent
TOP_K = 10
# The list variant: every title rated 3 or more is also on one of the user's lists (a list
# gathers more than what one loves), to see what the weak signal does to the ranking.
LISTED_FROM = 3
TEST_SHARE = 0.2
POSITIVE = 4.0
RELATED_PER_SEED = 20  # one TMDb page, as the service fetches
TRENDING_SIZE = 40
TMDB_SEEDS = 5
RERANK_TOP = Weights().rerank_top


@dataclass
class Split:
    train: list[Rating]
    test_positives: set[int]


def split_users(ratings: list[Rating]) -> dict[int, Split]:
    by_user: dict[int, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_user[rating.user_id].append(rating)
    splits = {}
    for user, own in by_user.items():
        own.sort(key=lambda r: (r.timestamp, r.movie_id))
        cut = len(own) - max(1, round(len(own) * TEST_SHARE))
        splits[user] = Split(own[:cut], {r.movie_id for r in own[cut:] if r.rating >= POSITIVE})
    return splits


class Evaluator:
    def __init__(self, data_dir: Path) -> None:
        self.movies = load_movies(data_dir)
        self.splits = split_users(load_ratings(data_dir))
        training = [r for split in self.splits.values() for r in split.train]
        last = max(r.timestamp for r in training)
        first = min(r.timestamp for r in training)
        clock = Clock(first_ts=first, last_ts=last + 1, start_day=(last - first) / 86400, speed=0.0)
        self.world = World(self.movies, training, clock)
        self.popular = [m for m, _ in Counter(r.movie_id for r in training).most_common()]
        self._related: dict[int, list[dict[str, Any]]] = {}
        self._summaries: dict[int, dict[str, Any]] = {}
        self.users = [
            user
            for user, split in sorted(self.splits.items())
            if split.test_positives and any(r.rating >= POSITIVE for r in split.train)
        ]

    def summary(self, movie_id: int) -> dict[str, Any]:
        if movie_id not in self._summaries:
            self._summaries[movie_id] = self.world.list_item(movie_id)
        return self._summaries[movie_id]

    def related(self, movie_id: int) -> list[dict[str, Any]]:
        if movie_id not in self._related:
            ids = self.world.index.co_rated(movie_id, limit=RELATED_PER_SEED)
            self._related[movie_id] = [self.summary(m) for m in ids]
        return self._related[movie_id]

    def trending_at(self, timestamp: float) -> list[dict[str, Any]]:
        hour = int(timestamp // 3600)
        return [self.summary(m) for m in self.world._trending("week", hour)[:TRENDING_SIZE]]

    # --- methods ------------------------------------------------------------------------------
    def popularity(self, split: Split) -> list[int]:
        seen = {r.movie_id for r in split.train}
        return [m for m in self.popular if m not in seen][:TOP_K]

    def tmdb_seeds(self, split: Split) -> list[int]:
        seen = {r.movie_id for r in split.train}
        favorites = [
            r.movie_id
            for r in sorted(split.train, key=lambda r: -r.timestamp)
            if r.rating >= POSITIVE
        ]
        lists = [[m["id"] for m in self.related(f)[:20]] for f in favorites[:TMDB_SEEDS]]
        chosen: list[int] = []
        for position in range(max((len(x) for x in lists), default=0)):
            for movie_ids in lists:
                if (
                    position < len(movie_ids)
                    and movie_ids[position] not in seen
                    and movie_ids[position] not in chosen
                ):
                    chosen.append(movie_ids[position])
        return chosen[:TOP_K]

    def hybrid(self, split: Split, *, listed: bool = False) -> list[int]:
        signals = []
        for r in split.train:
            signals.append(Signal(r.movie_id, "rating", r.timestamp, r.rating * 2))
            if r.rating >= POSITIVE:
                signals.append(Signal(r.movie_id, "favorite", r.timestamp))
            if listed and r.rating >= LISTED_FROM:
                signals.append(Signal(r.movie_id, "listed", r.timestamp))
        profile = Profile(signals=signals)
        seeds = choose_seeds(profile)
        scored = score_candidates(
            profile,
            seeds=seeds,
            seed_movies={s.movie_id: self.summary(s.movie_id) for s in seeds},
            related={s.movie_id: self.related(s.movie_id) for s in seeds},
            trending=self.trending_at(max(r.timestamp for r in split.train)),
        )
        head = [int(item.movie["id"]) for item in scored[:RERANK_TOP]]
        reranked = rerank(profile, scored, {m: [n["id"] for n in self.related(m)] for m in head})
        return [int(item.movie["id"]) for item in finalize(reranked, limit=TOP_K)]


def ndcg(recommended: Sequence[int], relevant: set[int]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, m in enumerate(recommended[:TOP_K]) if m in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), TOP_K)))
    return dcg / ideal if ideal else 0.0


def evaluate(
    evaluator: Evaluator, methods: dict[str, Callable[[Split], list[int]]]
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        hits = ndcgs = precision = 0.0
        shown: set[int] = set()
        for user in evaluator.users:
            split = evaluator.splits[user]
            recommended = method(split)
            shown.update(recommended)
            found = len(set(recommended[:TOP_K]) & split.test_positives)
            hits += found > 0
            precision += found / TOP_K
            ndcgs += ndcg(recommended, split.test_positives)
        count = len(evaluator.users)
        results[name] = {
            "hr@10": round(hits / count, 4),
            "ndcg@10": round(ndcgs / count, 4),
            "precision@10": round(precision / count, 4),
            "coverage": round(len(shown) / len(evaluator.movies), 4),
        }
    return results


def table(results: dict[str, dict[str, float]], users: int, command: str) -> str:
    best_baseline = max(results["popularity"]["ndcg@10"], results["tmdb_seeds"]["ndcg@10"])
    lines = [
        f"Command: `{command}` ({datetime.now(UTC):%Y-%m-%d}, {users} users, MovieLens 100K,",
        "per-user temporal split 80/20, positives = ratings >= 4).",
        "",
        "| method | NDCG@10 | HR@10 | precision@10 | catalog coverage |",
        "|---|---|---|---|---|",
    ]
    for name, metrics in results.items():
        lines.append(
            f"| {name} | {metrics['ndcg@10']:.4f} | {metrics['hr@10']:.4f} | "
            f"{metrics['precision@10']:.4f} | {metrics['coverage']:.4f} |"
        )
    lines += [
        "",
        f"hybrid / best baseline (NDCG@10): {results['hybrid']['ndcg@10'] / best_baseline:.2f}x",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument(
        "--users", type=int, help="evaluate only the first N users (a quick check; never writes)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    evaluator = Evaluator(SandboxSettings().data_dir)
    if args.users:
        evaluator.users = evaluator.users[: args.users]
        args.no_write = True
    results = evaluate(
        evaluator,
        {
            "popularity": evaluator.popularity,
            "tmdb_seeds": evaluator.tmdb_seeds,
            "hybrid": evaluator.hybrid,
            "hybrid, rated 3+ also on a list": lambda split: evaluator.hybrid(split, listed=True),
        },
    )
    section = table(results, len(evaluator.users), "make eval")
    print(section, file=sys.stderr)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if not args.no_write:
        write_section(
            ROOT / "BENCHMARKS.md",
            "eval",
            section,
            heading="Recommendation quality (offline)",
            title="Benchmarks",
        )
    print(
        json.dumps(
            {
                "users": len(evaluator.users),
                "ndcg@10": {name: metrics["ndcg@10"] for name, metrics in results.items()},
                "hr@10": {name: metrics["hr@10"] for name, metrics in results.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
