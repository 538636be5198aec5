"""The scheduled release check of the titles users watch (on a watchlist or among favorites),
not of every title in TMDb: each is looked at once per `release_check_interval_s` across
replicas, and what became watchable is announced with `catalog.release.available`
(releases.py says when).

Which titles are watched is the catalog's own copy of the library's events (`release_watch`,
each event applied once through the inbox); what the catalog has seen of each title is
`release_check` (releases.py). A replica takes a batch of due titles under a short lease in
the database (`lease_owner`, `lease_until`), asks TMDb about them, and writes each title's new
state, its events and its next check in one transaction, only while the lease is still its
own: a replica that dies mid-batch leaves titles another takes once the lease expires, and two
replicas never announce the same change. Leases are released at shutdown.
"""

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, String, delete, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Session, SQLModel

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from catalog.config import CatalogSettings
from catalog.events import PRODUCER
from catalog.models import TmdbMovieDetail
from catalog.releases import (
    APPEND_TO_RESPONSE,
    DEFAULT_REGION,
    CalendarEntry,
    advance,
    calendar_entries,
    facts_of,
)
from catalog.tmdb import TmdbClient, TmdbError, TmdbNotFound
from shared.db import in_session, user_lock
from shared.events import CatalogMovieUpdated, CatalogReleaseAvailable
from shared.inbox import execute_later
from shared.outbox import add_event

logger = logging.getLogger(__name__)
LEASE_S = 60  # longer than a batch takes (TMDb calls have a 10 s budget each)
RETRY_AFTER_FAILURE_S = 300
MAX_POLL_S = 5.0


class ReleaseWatch(SQLModel, table=True):
    """A title on a user's watchlist or among their favorites."""

    __tablename__ = "release_watch"
    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(primary_key=True, index=True)
    list: str = Field(sa_column=Column(String(16), primary_key=True))  # watchlist, favorites
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReleaseCheck(SQLModel, table=True):
    """A watched title: what the catalog has seen of its releases, and when it looks again."""

    __tablename__ = "release_check"
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True))
    next_check_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    checked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(32)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )


# --- the watched titles, from the library's events --------------------------------------------
# Plain SQL built once, the row and its title's check in one round trip: every favorite and
# watchlist change in the system passes through here (built with the ORM's insert() per event,
# this was the catalog's largest cost under write load: measured with `make bench --profile`).
# Not for a deleted account (its viewer row stays as a tombstone): a list event handled after
# the deletion (a retry, another replica's) brings nothing of the user back. The user's lock
# closes the window of a deletion under way: a watch holds it shared (a statement of its own,
# so the check after it reads what a deletion committed meanwhile), the deletion exclusive,
# so one waits for the other and either the deletion takes the row or the watch sees the
# tombstone. A statement more in the same round trip, on a path every list change passes.
_HOLD_WATCHER_SHARED = user_lock(7405, shared=True)
_HOLD_WATCHER = user_lock(7405)
_WATCH = text(
    "WITH watched AS ("
    " INSERT INTO release_watch (user_id, movie_id, list, added_at)"
    " SELECT :user_id, :movie_id, :list, :at WHERE NOT EXISTS"
    "  (SELECT 1 FROM viewer WHERE user_id = :user_id AND forgotten)"
    " ON CONFLICT DO NOTHING) "
    "INSERT INTO release_check (movie_id, next_check_at, state)"
    " VALUES (:movie_id, now(), '{}') ON CONFLICT DO NOTHING"
)
_UNWATCH = text(
    "DELETE FROM release_watch WHERE user_id = :user_id AND movie_id = :movie_id AND list = :list"
)


def watch(session: Session, *, user_id: uuid.UUID, movie_id: int, list_: str, at: datetime) -> None:
    """A title joined a user's list; a title nobody watched yet is looked at right away."""
    execute_later(session, _HOLD_WATCHER_SHARED, {"user_id": str(user_id)})
    execute_later(
        session, _WATCH, {"user_id": user_id, "movie_id": movie_id, "list": list_, "at": at}
    )


def unwatch(session: Session, *, user_id: uuid.UUID, movie_id: int, list_: str) -> None:
    execute_later(session, _UNWATCH, {"user_id": user_id, "movie_id": movie_id, "list": list_})


def hold_watcher(session: Session, *, user_id: uuid.UUID) -> None:
    """Before a deletion's tombstone: waits for the user's watches under way, and makes those
    that come meanwhile wait until the deletion commits. Taken alone in its transaction (the
    inbox's `alone`), never while holding other users' locks."""
    session.execute(_HOLD_WATCHER, {"user_id": str(user_id)})


def forget_watcher(session: Session, *, user_id: uuid.UUID) -> None:
    session.execute(delete(ReleaseWatch).where(ReleaseWatch.user_id == user_id))  # type: ignore[arg-type]


_CLAIM = text(
    "UPDATE release_check"
    " SET lease_owner = :owner, lease_until = now() + make_interval(secs => :lease_s) "
    "WHERE movie_id IN ("
    "  SELECT movie_id FROM release_check"
    "  WHERE next_check_at <= now() AND (lease_until IS NULL OR lease_until < now())"
    "  ORDER BY next_check_at LIMIT :batch FOR UPDATE SKIP LOCKED"
    ") RETURNING movie_id"
)
_REGIONS = text(
    "SELECT DISTINCT coalesce(v.region, :default_region) FROM release_watch w"
    " LEFT JOIN viewer v ON v.user_id = w.user_id AND NOT v.forgotten"
    " WHERE w.movie_id = :movie_id"
)


async def fetch_title(tmdb: TmdbClient, movie_id: int) -> TmdbMovieDetail:
    return await tmdb.get(
        "movie", f"/movie/{movie_id}", TmdbMovieDetail, {"append_to_response": APPEND_TO_RESPONSE}
    )


class ReleaseChecker:
    def __init__(self, *, tmdb: TmdbClient, engine: Engine, settings: CatalogSettings) -> None:
        self.tmdb = tmdb
        self.engine = engine
        self.settings = settings
        self.owner = uuid.uuid4().hex

    @property
    def poll_s(self) -> float:
        return min(float(self.settings.release_check_interval_s), MAX_POLL_S)

    async def run(self) -> None:
        """Check due titles, batch by batch, for the process's lifetime."""
        while True:
            try:
                if await self.check_due() > 0:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("release check failed")
            await asyncio.sleep(self.poll_s)

    async def check_due(self) -> int:
        """Check one batch of due titles; returns how many were taken."""
        movie_ids = await asyncio.to_thread(in_session, self.engine, self._claim)
        outcomes = await asyncio.gather(
            *(self._check(movie_id) for movie_id in movie_ids), return_exceptions=True
        )
        for movie_id, outcome in zip(movie_ids, outcomes, strict=True):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, BaseException):  # its lease runs out; looked at again then
                logger.error("release check of %d failed", movie_id, exc_info=outcome)
        return len(movie_ids)

    def _claim(self, session: Session) -> list[int]:
        claimed = session.execute(
            _CLAIM,
            {"owner": self.owner, "lease_s": LEASE_S, "batch": self.settings.release_check_batch},
        ).scalars()
        movie_ids = list(claimed)
        session.commit()
        return movie_ids

    async def _check(self, movie_id: int) -> None:
        try:
            movie = await fetch_title(self.tmdb, movie_id)
        except TmdbNotFound:
            logger.warning("watched title %d is not in TMDb; looked at again later", movie_id)
            movie = None
        except TmdbError as exc:
            logger.warning("release check of %d put off: %s", movie_id, exc)
            movie = None
        await asyncio.to_thread(in_session, self.engine, lambda s: self._record(s, movie_id, movie))

    def _record(self, session: Session, movie_id: int, movie: TmdbMovieDetail | None) -> None:
        """The title's new state, its events and its next check, if the lease is still ours."""
        row = session.get(ReleaseCheck, movie_id, with_for_update=True)
        if row is None or row.lease_owner != self.owner:
            session.rollback()
            return  # the lease ran out and another replica took the title
        regions = [
            r
            for (r,) in session.execute(
                _REGIONS, {"movie_id": movie_id, "default_region": DEFAULT_REGION}
            )
        ]
        now = datetime.now(UTC)
        if not regions:
            session.delete(row)  # nobody watches it any more
            session.commit()
            return
        if movie is None:
            row.next_check_at = now + timedelta(
                seconds=min(self.settings.release_check_interval_s, RETRY_AFTER_FAILURE_S)
            )
        else:
            self._advance(session, row, movie, regions, now)
            row.checked_at = now
            row.next_check_at = now + timedelta(seconds=self.settings.release_check_interval_s)
        row.lease_owner = None
        row.lease_until = None
        session.add(row)
        session.commit()

    def _advance(
        self,
        session: Session,
        row: ReleaseCheck,
        movie: TmdbMovieDetail,
        regions: list[str],
        now: datetime,
    ) -> None:
        facts = {region: facts_of(movie, region) for region in regions}
        state, announcements = advance(row.state, facts, today=now.date())
        for found in announcements:
            add_event(
                session,
                CatalogReleaseAvailable(
                    movie_id=movie.id,
                    title=movie.title,
                    region=found.region,
                    kind=found.kind,  # type: ignore[arg-type]
                    provider_id=found.provider_id,
                    provider_name=found.provider_name,
                    available_on=found.available_on,
                    observed_at=now,
                ),
                producer=PRODUCER,
            )
        if row.checked_at is not None and _offers(state) != _offers(row.state):
            # Cached details show the old providers: every replica drops them.
            add_event(
                session, CatalogMovieUpdated(movie_id=movie.id, updated_at=now), producer=PRODUCER
            )
        if announcements:
            logger.info(
                "releases announced",
                extra={
                    "movie_id": movie.id,
                    "announced": [f"{a.region}:{a.kind}" for a in announcements],
                },
            )
        row.state = state

    async def release_leases(self) -> None:
        """At shutdown: the titles this replica holds are free for others at once."""

        def release(session: Session) -> None:
            session.execute(
                text(
                    "UPDATE release_check SET lease_owner = NULL, lease_until = NULL"
                    " WHERE lease_owner = :owner"
                ),
                {"owner": self.owner},
            )
            session.commit()

        try:
            async with asyncio.timeout(3):
                await asyncio.to_thread(in_session, self.engine, release)
        except Exception:  # the leases expire in LEASE_S anyway
            logger.warning("release check leases not released (they expire in %d s)", LEASE_S)


def _offers(state: dict[str, Any]) -> dict[str, list[str]]:
    return {region: sorted(facts["streaming"]) for region, facts in state.items()}


# --- a user's calendar -----------------------------------------------------------------------
LIVE_LOOKUPS = 20  # titles not checked yet, asked of TMDb while the user waits


async def calendar(
    *,
    engine: Engine,
    tmdb: TmdbClient,
    user_id: uuid.UUID,
    movie_ids: list[int],
    start: date,
    end: date,
    logo_url: Any,
) -> list[CalendarEntry]:
    """The dates of these titles between `start` and `end` in the user's region: from what the
    scheduled check has seen, or (a title it has not looked at yet) from TMDb now."""
    region, providers, states = await asyncio.to_thread(
        in_session, engine, lambda s: _viewer_and_states(s, user_id, movie_ids)
    )
    unseen = [m for m in movie_ids if region not in states.get(m, {})][:LIVE_LOOKUPS]
    looked_up = await asyncio.gather(
        *(fetch_title(tmdb, m) for m in unseen), return_exceptions=True
    )
    for movie_id, movie in zip(unseen, looked_up, strict=True):
        if isinstance(movie, asyncio.CancelledError):
            raise movie
        if isinstance(movie, TmdbMovieDetail):
            first_look, _ = advance(
                {}, {region: facts_of(movie, region)}, today=datetime.now(UTC).date()
            )
            states.setdefault(movie_id, {}).update(first_look)
    entries = [
        entry
        for movie_id in movie_ids
        if region in states.get(movie_id, {})
        for entry in calendar_entries(
            movie_id,
            states[movie_id][region],
            providers=providers,
            start=start,
            end=end,
            logo_url=logo_url,
        )
    ]
    entries.sort(key=lambda e: (e.on, e.movie_id, e.kind))
    return entries


def _viewer_and_states(
    session: Session, user_id: uuid.UUID, movie_ids: list[int]
) -> tuple[str, tuple[int, ...], dict[int, dict[str, Any]]]:
    viewer = session.execute(
        text("SELECT region, providers FROM viewer WHERE user_id = :user_id AND NOT forgotten"),
        {"user_id": user_id},
    ).first()
    region = (viewer.region if viewer else None) or DEFAULT_REGION
    providers = tuple(viewer.providers) if viewer else ()
    rows = session.execute(
        text("SELECT movie_id, state FROM release_check WHERE movie_id = ANY(:ids)"),
        {"ids": movie_ids},
    ).all()
    session.rollback()
    return region, providers, {row.movie_id: dict(row.state) for row in rows}
