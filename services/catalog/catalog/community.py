"""This system's own users' ratings per movie, kept from `rating.*` events.

The aggregate lives in the catalog's database (updated once per event, through the inbox) and
is mirrored to Redis with a version number, so that movie details stay one cached read: the
details and the aggregate come back from a single MGET and are joined as bytes
(`details.assemble`).
"""

import asyncio
import contextlib
import logging

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Column, Engine, Integer, Numeric, text
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


# Built once: a `text()` made per call parsed its bind parameters for every event.
_APPLY_DELTA = text(
    "INSERT INTO community_rating (movie_id, score_sum, score_count, version) "
    "VALUES (:movie_id, :sum_delta, :count_delta, 1) "
    "ON CONFLICT (movie_id) DO UPDATE SET "
    "score_sum = community_rating.score_sum + EXCLUDED.score_sum, "
    "score_count = community_rating.score_count + EXCLUDED.score_count, "
    "version = community_rating.version + 1 "
    "RETURNING version, score_sum, score_count"
)


def apply_delta(
    session: Session, *, movie_id: int, sum_delta: float, count_delta: int
) -> tuple[int, bytes]:
    """Add a rating change to the aggregate; returns (new version, the aggregate as JSON)."""
    row = session.execute(
        _APPLY_DELTA, {"movie_id": movie_id, "sum_delta": sum_delta, "count_delta": count_delta}
    ).one()
    return int(row.version), _body(row.score_sum, row.score_count)


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
