"""After a trending refresh: recompute users' top picks and announce titles new among them
(`recommendations.updated`, through the outbox), for the notifications service."""

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import Engine, select, union
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from recommendations.models import TastePreference, TasteSignal, TopPick
from recommendations.service import Recommender
from shared.catalog_models import MovieBrief
from shared.db import utcnow
from shared.errors import DependencyUnavailable
from shared.events import RecommendationsUpdated
from shared.outbox import add_event

logger = logging.getLogger(__name__)
TOP_N = 10
CONCURRENCY = 4
PRODUCER = "recommendations"


def known_users(engine: Engine) -> list[uuid.UUID]:
    """Users with any taste signal or preference."""
    with Session(engine) as session:
        return list(
            session.scalars(
                union(
                    select(col(TasteSignal.user_id)).distinct(),
                    select(col(TastePreference.user_id)),
                )
            )
        )


def record(session: Session, *, user_id: uuid.UUID, movies: list[dict[str, Any]]) -> list[int]:
    """Store the new top picks; returns titles new since the last ones (none the first time)."""
    movie_ids = [int(movie["id"]) for movie in movies]
    previous = session.get(TopPick, user_id, with_for_update=True)
    statement = insert(TopPick).values(user_id=user_id, movie_ids=movie_ids, updated_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "movie_ids": statement.excluded.movie_ids,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    new = [] if previous is None else [m for m in movie_ids if m not in set(previous.movie_ids)]
    fresh = set(new)
    if new:
        add_event(
            session,
            RecommendationsUpdated(
                user_id=user_id,
                new_movie_ids=new,
                new_movies=[MovieBrief.model_validate(m) for m in movies if m["id"] in fresh],
                at=utcnow(),
            ),
            producer=PRODUCER,
        )
    session.commit()
    return new


async def refresh(engine: Engine, recommender: Recommender) -> int:
    """Recompute every known user's top picks; returns how many users got new titles."""
    users = await asyncio.to_thread(known_users, engine)
    gate = asyncio.Semaphore(CONCURRENCY)
    announced = 0

    async def one(user_id: uuid.UUID) -> None:
        nonlocal announced
        async with gate:
            try:
                ranked = await recommender.compute(user_id)
            except DependencyUnavailable:
                logger.warning("top picks skipped for a user: catalog unavailable")
                return
            top = ranked[:TOP_N]

            def store() -> list[int]:
                with Session(engine) as session:
                    return record(session, user_id=user_id, movies=top)

            if await asyncio.to_thread(store):
                announced += 1

    await asyncio.gather(*(one(user_id) for user_id in users))
    logger.info("top picks refreshed", extra={"users": len(users), "with_new_titles": announced})
    return announced
