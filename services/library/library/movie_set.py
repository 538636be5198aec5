"""A user's set of movies with the time each was added (favorites, the watchlist): one table
keyed by (user_id, movie_id) with an `added_at`, an event for each real addition and
removal. Plain functions over a database session, no HTTP here."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import TextClause, func, select
from sqlmodel import Session, SQLModel, col

from library.events import PRODUCER
from shared.db import utcnow
from shared.events import IntegrationEvent
from shared.outbox import event_params, staged, with_event

E = TypeVar("E", bound=SQLModel)


class Listed(NamedTuple):
    """A listed entry: plain values, cheaper than ORM objects for a page of them."""

    movie_id: int
    added_at: datetime


@dataclass(frozen=True)
class MovieSet(Generic[E]):
    table: type[E]
    added: type[IntegrationEvent]  # fields user_id, movie_id, at
    removed: type[IntegrationEvent]

    @cached_property
    def _add_with_event(self) -> TextClause:
        return with_event(
            f"INSERT INTO {self._name} (user_id, movie_id, added_at) "
            "VALUES (CAST(:user_id AS uuid), :movie_id, :at) "
            "ON CONFLICT DO NOTHING RETURNING movie_id"
        )

    @cached_property
    def _discard_with_event(self) -> TextClause:
        return with_event(
            f"DELETE FROM {self._name} WHERE user_id = CAST(:user_id AS uuid) "
            "AND movie_id = :movie_id RETURNING movie_id"
        )

    @property
    def _name(self) -> str:
        return str(self.table.__tablename__)

    def get(self, session: Session, *, user_id: uuid.UUID, movie_id: int) -> E | None:
        return session.get(self.table, (user_id, movie_id))

    def add(self, session: Session, *, user_id: uuid.UUID, movie_id: int) -> tuple[E, bool]:
        """Add a movie; (the entry, True) if it is new, (the existing one, False) if not.

        One statement inserts the row (ON CONFLICT DO NOTHING) and, only if it was inserted,
        the `added` event's outbox row: concurrent adds give exactly one row and one event,
        and the write is one round trip before the commit.
        """
        added_at = utcnow()
        event = self.added(user_id=user_id, movie_id=movie_id, at=added_at)
        parameters = {"user_id": str(user_id), "movie_id": movie_id, "at": added_at}
        parameters |= event_params(event, producer=PRODUCER)
        if session.execute(self._add_with_event, parameters).first() is None:
            session.rollback()
            existing = self.get(session, user_id=user_id, movie_id=movie_id)
            if existing is None:  # removed between the two statements: try once more
                return self.add(session, user_id=user_id, movie_id=movie_id)
            return existing, False
        staged(session)
        session.commit()
        return self.table(user_id=user_id, movie_id=movie_id, added_at=added_at), True

    def remove(self, session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
        """Remove a movie; False if it was not there."""
        removed = self.discard(session, user_id=user_id, movie_id=movie_id)
        if removed:
            session.commit()
        else:
            session.rollback()
        return removed

    def discard(self, session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
        """Remove a movie in the caller's transaction (not committed); False if not there.
        The row and the `removed` event's outbox row in one statement."""
        event = self.removed(user_id=user_id, movie_id=movie_id, at=utcnow())
        parameters = {"user_id": str(user_id), "movie_id": movie_id}
        parameters |= event_params(event, producer=PRODUCER)
        if session.execute(self._discard_with_event, parameters).first() is None:
            return False
        staged(session)
        return True

    def holds(self, session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
        return self.get(session, user_id=user_id, movie_id=movie_id) is not None

    def everything(self, session: Session, *, user_id: uuid.UUID) -> list[Listed]:
        """The user's whole set, newest first (for an export)."""
        added_at, movie_id = self._column("added_at"), self._column("movie_id")
        found = session.execute(
            select(movie_id, added_at)
            .where(self._column("user_id") == user_id)
            .order_by(added_at.desc(), movie_id.desc())
        ).all()
        return [Listed(row[0], row[1]) for row in found]

    def page(
        self, session: Session, *, user_id: uuid.UUID, page: int, limit: int
    ) -> tuple[list[Listed], int]:
        """One page of the user's set, newest first, and how many there are in all.

        One query carries both (a window count); only a page past the end needs a second.
        The transaction is ended here so the connection goes back to the pool before the
        caller waits on the catalog (held across that wait, it starved the pool under load)."""
        added_at, movie_id = self._column("added_at"), self._column("movie_id")
        mine = self._column("user_id") == user_id
        try:
            found = session.execute(
                select(movie_id, added_at, func.count().over())
                .where(mine)
                .order_by(added_at.desc(), movie_id.desc())
                .offset((page - 1) * limit)
                .limit(limit)
            ).all()
            if found:
                return [Listed(row[0], row[1]) for row in found], int(found[0][2])
            total = session.scalar(select(func.count()).select_from(self.table).where(mine))
            return [], int(total or 0)
        finally:
            session.rollback()

    def _column(self, name: str) -> Any:
        return col(getattr(self.table, name))
