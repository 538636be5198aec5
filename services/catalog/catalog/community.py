"""This system's own users' ratings per movie, kept from `rating.*` events.

The aggregate lives in the catalog's database (each event applied once, through the inbox; the
events a consumer applies in one transaction move it in one statement at the commit) and is
mirrored to Redis with a version number, so that movie details stay one cached read: the
details and the aggregate come back from a single MGET and are joined as bytes
(`details.assemble`).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Column, Engine, Integer, Numeric, event, text
from sqlmodel import Field, Session, SQLModel

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from shared.coalesce import Coalescer

logger = logging.getLogger(__name__)
NO_RATINGS = b'{"average":null,"count":0}'

# Set the mirror only if it is older than what we have (versions only grow).
# KEYS: movies' mirrors; ARGV: each one's version and body, in pairs.
_SET_IF_NEWER = """
for i = 1, #KEYS do
  local current = redis.call('GET', KEYS[i])
  local version = current and tonumber(string.match(current, '^(%d+)|'))
  if not (version and version >= tonumber(ARGV[2 * i - 1])) then
    redis.call('SET', KEYS[i], ARGV[2 * i - 1] .. '|' .. ARGV[2 * i])
  end
end
return 1
"""


class CommunityAggregate(SQLModel, table=True):
    __tablename__ = "community_rating"

    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    score_sum: float = Field(sa_column=Column(Numeric(14, 1), nullable=False))
    score_count: int = 0
    version: int = 0


def community_key(movie_id: int) -> str:
    return f"catalog:community:{movie_id}"


def _body(score_sum: float, count: int) -> bytes:
    if count <= 0:
        return NO_RATINGS
    return orjson.dumps({"average": round(float(score_sum) / count, 2), "count": count})


# Built once: a `text()` made per call parsed its bind parameters for every event. Every movie
# a transaction's events moved, in one statement; its version grows by its events' number.
_APPLY_DELTAS = text(
    "INSERT INTO community_rating AS c (movie_id, score_sum, score_count, version) "
    "SELECT movie_id, sum_delta, count_delta, events FROM unnest("
    "CAST(:movie_ids AS integer[]), CAST(:sum_deltas AS numeric[]), "
    "CAST(:count_deltas AS integer[]), CAST(:events AS integer[])"
    ") AS d(movie_id, sum_delta, count_delta, events) "
    "ON CONFLICT (movie_id) DO UPDATE SET "
    "score_sum = c.score_sum + EXCLUDED.score_sum, "
    "score_count = c.score_count + EXCLUDED.score_count, "
    "version = c.version + EXCLUDED.version "
    "RETURNING movie_id, version, score_sum, score_count"
)
_DELTAS = "community.deltas"  # in Session.info: the transaction's changes, not yet written


@dataclass
class _Deltas:
    """A transaction's rating changes by movie (sum, count, events), and once it has written
    them, each movie's new (version, aggregate JSON)."""

    pending: dict[int, list[Any]] = field(default_factory=dict)
    written: dict[int, tuple[int, bytes]] = field(default_factory=dict)


def apply_delta(
    session: Session, *, movie_id: int, sum_delta: float, count_delta: int
) -> Callable[[], tuple[int, bytes] | None]:
    """Add a rating change to the aggregate, written when the session commits with the
    transaction's other changes in one statement (one round trip per movie per event was a
    third of the catalog's time under rating load: py-spy). Returns what gives the movie's
    new (version, aggregate JSON) once the transaction committed, None before or without."""
    deltas = session.info.get(_DELTAS)
    if deltas is None:
        deltas = session.info[_DELTAS] = _Deltas()
        event.listen(session, "before_commit", _write_deltas)
        event.listen(session, "after_soft_rollback", _drop_deltas)
    found = deltas.pending.setdefault(movie_id, [Decimal(0), 0, 0])
    found[0] += Decimal(str(sum_delta))  # exact: a float sum could drift a tenth
    found[1] += count_delta
    found[2] += 1
    written = deltas.written
    return lambda: written.get(movie_id)


def _write_deltas(session: Session) -> None:
    deltas: _Deltas | None = session.info.pop(_DELTAS, None)
    if deltas is None or not deltas.pending:
        return
    movie_ids = sorted(deltas.pending)  # one lock order for every transaction
    rows = session.execute(
        _APPLY_DELTAS,
        {
            "movie_ids": movie_ids,
            "sum_deltas": [deltas.pending[movie_id][0] for movie_id in movie_ids],
            "count_deltas": [deltas.pending[movie_id][1] for movie_id in movie_ids],
            "events": [deltas.pending[movie_id][2] for movie_id in movie_ids],
        },
    )
    for row in rows:
        deltas.written[int(row.movie_id)] = (
            int(row.version),
            _body(row.score_sum, row.score_count),
        )


def _drop_deltas(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the transaction, not a savepoint in it
        session.info.pop(_DELTAS, None)


def read(engine: Engine, movie_id: int) -> tuple[int, bytes]:
    with Session(engine) as session:
        row = session.get(CommunityAggregate, movie_id)
    if row is None:
        return 0, NO_RATINGS
    return row.version, _body(row.score_sum, row.score_count)


class CommunityMirror:
    def __init__(self, redis: Redis, engine: Engine) -> None:
        self.redis = redis
        self.engine = engine
        self._set_if_newer = redis.register_script(_SET_IF_NEWER)
        self._publishes = Coalescer(
            self._publish_all, abandoned=lambda: RedisError("mirror update abandoned")
        )

    async def publish(self, movie_id: int, version: int, body: bytes) -> None:
        """Mirror a movie's aggregate unless a newer version is there. Publishes asked for at
        the same moment (the ratings a consumer applied in one transaction) go in one call."""
        await self._publishes((movie_id, version, body))

    async def _publish_all(self, mirrors: list[tuple[int, int, bytes]]) -> None:
        await self._set_if_newer(
            keys=[community_key(movie_id) for movie_id, _, _ in mirrors],
            args=[part for _, version, body in mirrors for part in (version, body)],
        )

    async def resolve(self, movie_id: int, mirrored: bytes | None) -> bytes:
        """The aggregate's JSON from the mirrored value, else from the database (and mirrored)."""
        if mirrored is not None:
            return mirrored_body(mirrored)
        try:
            version, body = await asyncio.to_thread(read, self.engine, movie_id)
        except Exception:
            logger.warning("community rating unavailable for movie %s", movie_id, exc_info=True)
            return NO_RATINGS
        with contextlib.suppress(RedisError):
            await self.publish(movie_id, version, body)
        return body


def mirrored_body(mirrored: bytes) -> bytes:
    """The aggregate's JSON in a mirrored value ("version|json")."""
    return mirrored.split(b"|", 1)[1]
