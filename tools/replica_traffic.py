"""Traffic for `make compose-check`, and what it must leave behind.

Several users, each sending every request to the next gateway replica in turn: reads
(trending, details, favorites, ratings, recommendations, notifications, the profile),
favorite adds and removes, ratings set and cleared, and now and then a logout followed by a
new login. Each user remembers what its acknowledged writes should leave; a write with no
answer (or a 5xx) may have happened or not, and is left out of the comparison.

Checks afterwards:
- acknowledged writes: every user's favorites and ratings, read back through the gateway,
  are what the acknowledged writes left;
- events exactly once: the catalog's community ratings (a sum and a count, changed by one
  delta per `rating.*` event, so an event lost or applied twice shows) equal the ratings in
  the library's database, and the recommendations' taste profiles hold exactly the users'
  favorites and ratings; every `favorite.*` and `rating.*` event the library published is in
  each consumer's inbox;
- logouts: a token logged out at one replica is refused at every replica within a second.
"""

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tools.queries import rows

PASSWORD = "a long compose-check passphrase"
MOVIES = list(range(1, 120))
LOGOUT_REFUSED_WITHIN_S = 1.0


@dataclass
class Outcome:
    at: float
    op: str
    status: int | None  # None: no answer
    sent: float = 0.0  # when the request went out (time.monotonic(), as `at`)


class User:
    def __init__(self, urls: list[str], index: int) -> None:
        self.clients = _clients(urls)
        self.turn = index
        self.random = random.Random(index)
        self.email = f"traffic-{index}-{uuid.uuid4().hex[:8]}@example.com"
        self.favorites: set[int] = set()  # what the acknowledged writes left
        self.ratings: dict[int, float] = {}
        self.uncertain_favorites: set[int] = set()  # a write with no clear answer
        self.uncertain_ratings: set[int] = set()
        self.token = ""
        self.logouts: list[dict[str, Any]] = []  # each logout: how soon every replica refused
        registered = self._client().post(
            "/auth/register", json={"email": self.email, "password": PASSWORD}
        )
        registered.raise_for_status()
        self.user_id = registered.json()["id"]
        self._log_in()

    def _client(self) -> httpx.Client:
        self.turn += 1
        return self.clients[self.turn % len(self.clients)]

    def _call(self, op: str, method: str, path: str, **kwargs: Any) -> Outcome:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent = time.monotonic()
        try:
            response = self._client().request(method, path, headers=headers, **kwargs)
            status: int | None = response.status_code
        except httpx.HTTPError:
            status = None
        return Outcome(time.monotonic(), op, status, sent)

    def _log_in(self) -> Outcome:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self._client().post(
                    "/auth/login", json={"email": self.email, "password": PASSWORD}
                )
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                self.token = response.json()["access_token"]
                return Outcome(time.monotonic(), "login", 200)
            if time.monotonic() > deadline:
                status = None if response is None else response.status_code
                return Outcome(time.monotonic(), "login", status)
            time.sleep(0.5)

    def step(self) -> list[Outcome]:
        roll = self.random.random()
        movie = self.random.choice(MOVIES)
        if roll < 0.30:
            path = self.random.choice(
                ["/movies/trending", f"/movies/{movie}", "/favorites", "/me/ratings",
                 "/recommendations", "/notifications", "/me"]
            )  # fmt: skip
            return [self._call("read", "GET", path)]
        if roll < 0.60:
            return [self._toggle_favorite(movie)]
        if roll < 0.95:
            return [self._rate(movie)]
        return self._log_out_and_in()

    def _toggle_favorite(self, movie: int) -> Outcome:
        if movie in self.favorites:
            outcome = self._call("favorite", "DELETE", f"/favorites/{movie}")
            meanings = {204: False, 404: False}
        else:
            outcome = self._call("favorite", "POST", "/favorites", json={"movie_id": movie})
            meanings = {201: True, 200: True}
        _learn(self.favorites, self.uncertain_favorites, movie, outcome, meanings)
        return outcome

    def _rate(self, movie: int) -> Outcome:
        if movie in self.ratings and self.random.random() < 0.3:
            outcome = self._call("rating", "DELETE", f"/movies/{movie}/rating")
            if outcome.status in (204, 404):
                self.ratings.pop(movie, None)
                self.uncertain_ratings.discard(movie)
            elif _unclear(outcome):
                self.uncertain_ratings.add(movie)
            return outcome
        score = self.random.randint(1, 20) / 2
        outcome = self._call("rating", "PUT", f"/movies/{movie}/rating", json={"score": score})
        if outcome.status == 200:
            self.ratings[movie] = score
            self.uncertain_ratings.discard(movie)
        elif _unclear(outcome):
            self.uncertain_ratings.add(movie)
        return outcome

    def _log_out_and_in(self) -> list[Outcome]:
        """Log out at one replica, then ask every replica at once with the old token until
        each refuses it: 401, or 503 from a replica that cannot check it right now (it fails
        closed); any 2xx is a logout some replica did not see. A replica that does not answer
        at all (the one just killed) accepts nothing and is counted apart."""
        old = {"Authorization": f"Bearer {self.token}"}
        outcome = self._call("logout", "POST", "/auth/logout")
        outcomes = [outcome]
        if outcome.status == 204:
            ended = time.monotonic()
            with ThreadPoolExecutor(len(self.clients)) as pool:
                answers = list(pool.map(lambda c: _until_refused(c, old, ended), self.clients))
            refusals = [after for kind, after, _ in answers if kind in (401, 503)]
            self.logouts.append(
                {"refused everywhere after s": max(refusals, default=0.0),
                 "accepted": sum(accepted for _, _, accepted in answers),
                 "replicas still accepting": sum(1 for kind, _, _ in answers if kind == 200),
                 "replicas not answering": sum(1 for kind, _, _ in answers if kind is None),
                 "refused with 503": sum(1 for kind, _, _ in answers if kind == 503)}
            )  # fmt: skip
        self.token = ""
        outcomes.append(self._log_in())
        return outcomes

    # --- afterwards -----------------------------------------------------------------------
    def read_back(self) -> tuple[set[int], dict[int, float]]:
        if not self.token and (login := self._log_in()).status != 200:
            raise RuntimeError(f"{self.email} cannot log in again (answered {login.status})")
        favorites = {item["movie"]["id"] for item in self._all("/favorites")}
        ratings = {item["movie_id"]: float(item["score"]) for item in self._all("/me/ratings")}
        return favorites, ratings

    def _all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = _get_page(self.clients[0], path, page, self.token)
            items += body["results"]
            if page >= body["total_pages"]:
                return items
            page += 1

    def missing_writes(self) -> dict[str, int]:
        favorites, ratings = self.read_back()
        wrong_favorites = (favorites ^ self.favorites) - self.uncertain_favorites
        wrong_ratings = {
            movie
            for movie in set(ratings) | set(self.ratings)
            if ratings.get(movie) != self.ratings.get(movie)
        } - self.uncertain_ratings
        return {"favorites": len(wrong_favorites), "ratings": len(wrong_ratings)}


def _until_refused(
    client: httpx.Client, headers: dict[str, str], since: float, give_up_s: float = 5.0
) -> tuple[int | None, float, int]:
    """Ask one replica with a logged-out token until it refuses: (401 or 503, or 200 if it
    still accepted when giving up, or None if it did not answer; seconds after `since`; how
    many times it accepted)."""
    accepted = 0
    while time.monotonic() - since < give_up_s:
        try:
            status = client.get("/me", headers=headers).status_code
        except httpx.TransportError:
            return None, time.monotonic() - since, accepted
        if status >= 300:
            return (503 if status == 503 else 401), time.monotonic() - since, accepted
        accepted += 1
    return 200, time.monotonic() - since, accepted


def _clients(urls: list[str]) -> list[httpx.Client]:
    return [httpx.Client(base_url=f"{url}/api/v1", timeout=10) for url in urls]


def _unclear(outcome: Outcome) -> bool:
    return outcome.status is None or outcome.status >= 500


def _learn(
    believed: set[int], uncertain: set[int], movie: int, outcome: Outcome, meanings: dict[int, bool]
) -> None:
    if outcome.status in meanings:
        uncertain.discard(movie)
        (believed.add if meanings[outcome.status] else believed.discard)(movie)
    elif _unclear(outcome):
        uncertain.add(movie)


def _get_page(client: httpx.Client, path: str, page: int, token: str) -> dict[str, Any]:
    """One page of a list, waiting out a 503 or 429 for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get(
            path, params={"page": page, "limit": 100}, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        if response.status_code not in (429, 503) or time.monotonic() > deadline:
            raise RuntimeError(f"{path} page {page}: {response.status_code} {response.text}")
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))


@dataclass
class Traffic:
    urls: list[str]
    users: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    people: list[User] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.people = [User(self.urls, index) for index in range(self.users)]
        for user in self.people:
            thread = threading.Thread(target=self._drive, args=(user,))
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _drive(self, user: User) -> None:
        while not self.stopping.is_set():
            outcomes = user.step()
            with self.lock:
                self.outcomes += outcomes
            time.sleep(0.03)

    def since(self, index: int) -> list[Outcome]:
        with self.lock:
            return self.outcomes[index:]

    def retarget(self, urls: list[str]) -> None:
        """The gateway replicas' addresses now (a replica started again may have a new one)."""
        for user in self.people:
            user.clients = _clients(urls)

    def count(self) -> int:
        with self.lock:
            return len(self.outcomes)

    def summary(self) -> dict[str, Any]:
        logouts = [entry for user in self.people for entry in user.logouts]
        missing = [user.missing_writes() for user in self.people]
        by_op: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.status is not None and outcome.status < 300:
                by_op[outcome.op] = by_op.get(outcome.op, 0) + 1
        return {
            "acknowledged": by_op,
            "missing favorites": sum(m["favorites"] for m in missing),
            "missing ratings": sum(m["ratings"] for m in missing),
            "logouts": len(logouts),
            "logged-out tokens accepted": sum(entry["accepted"] for entry in logouts),
            "refused with 503 (failing closed)": sum(
                entry["refused with 503"] for entry in logouts
            ),
            "checks at a replica not answering": sum(
                entry["replicas not answering"] for entry in logouts
            ),
            "logouts not refused everywhere within 1 s": sum(
                1
                for entry in logouts
                if entry["replicas still accepting"]
                or entry["refused everywhere after s"] > LOGOUT_REFUSED_WITHIN_S
            ),
            "slowest refusal s": round(
                max((entry["refused everywhere after s"] for entry in logouts), default=0.0), 3
            ),
        }


# --- events exactly once --------------------------------------------------------------------


def _event_ids(url: str, table: str, *prefixes: str) -> set[str]:
    where = " OR ".join(f"type LIKE '{prefix}.%'" for prefix in prefixes)
    return {str(row[0]) for row in rows(url, f"SELECT event_id FROM {table} WHERE {where}")}


def event_checks(database_url: Callable[[str], str]) -> dict[str, int]:
    """What the consumers hold against the library's database (the truth), as counts of
    disagreements; `database_url(service)` gives each service's database."""
    library, catalog, recommendations = (
        database_url(name) for name in ("library", "catalog", "recommendations")
    )
    by_movie = "SELECT movie_id, sum(score), count(*) FROM rating GROUP BY movie_id"
    ratings = {(m, Decimal(total), int(n)) for m, total, n in rows(library, by_movie)}
    aggregates = (
        "SELECT movie_id, score_sum, score_count FROM community_rating WHERE score_count > 0"
    )
    community = {(m, Decimal(total), int(n)) for m, total, n in rows(catalog, aggregates)}
    favorites = {(str(u), m) for u, m in rows(library, "SELECT user_id, movie_id FROM favorite")}
    scores = "SELECT user_id, movie_id, score FROM rating"
    rated = {(str(u), m, Decimal(s)) for u, m, s in rows(library, scores)}
    live = (  # the profile's own rule (recommendations/profile.py): added after any removal
        "SELECT user_id, movie_id, kind, score FROM taste_signal WHERE added_at IS NOT NULL "
        "AND (removed_at IS NULL OR added_at > removed_at)"
    )
    signals = rows(recommendations, live)
    liked = {(str(u), m) for u, m, kind, _ in signals if kind == "favorite"}
    scored = {(str(u), m, Decimal(s)) for u, m, kind, s in signals if kind == "rating"}
    published = _event_ids(library, "outbox_event", "favorite", "rating")
    rating_events = _event_ids(library, "outbox_event", "rating")
    return {
        "events published": len(published),
        "community ratings differing": len(ratings ^ community),
        "taste favorites differing": len(favorites ^ liked),
        "taste ratings differing": len(rated ^ scored),
        "events missing from the catalog's inbox": len(
            rating_events - _event_ids(catalog, "inbox_event", "rating")
        ),
        "events missing from the recommendations' inbox": len(
            published - _event_ids(recommendations, "inbox_event", "favorite", "rating")
        ),
    }


def settled_event_checks(
    database_url: Callable[[str], str], timeout_s: float = 90
) -> dict[str, int]:
    """The checks once the outboxes have drained and the consumers caught up (or the time is
    up: then what still differs is reported)."""
    deadline = time.monotonic() + timeout_s
    while True:
        checks = event_checks(database_url)
        settled = not any(count for what, count in checks.items() if what != "events published")
        if settled or time.monotonic() > deadline:
            return checks
        time.sleep(2)
