"""Helpers for tests of what concurrent transactions on the real PostgreSQL do to one user's
rows: one waiting for another (locks), and what is left of the user."""

import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlmodel import Session

T = TypeVar("T")


def second_waits_for_first(
    engine: Engine,
    first: Callable[[Session], object],
    second: Callable[[Session], T],
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> T:
    """Runs `first` in a transaction left open (what it deferred to its commit sent now), then
    `second` in another on a thread: asserts that `second` is still waiting a second later
    (`meanwhile` runs then), commits `first`, and gives back what `second` returned once it
    has committed too."""
    returned: list[T] = []

    def run_second() -> None:
        with Session(engine) as session:
            returned.append(second(session))
            session.commit()

    with Session(engine) as session:
        first(session)
        session.execute(text("SELECT 1"))  # sends statements deferred with execute_later
        waiting = threading.Thread(target=run_second, daemon=True)
        waiting.start()
        waiting.join(timeout=1.0)
        meanwhile()
        assert waiting.is_alive(), "the second transaction did not wait for the first"
        session.commit()
    waiting.join(timeout=10)
    assert not waiting.is_alive() and returned, "the second transaction did not end"
    return returned[0]


def rows_of(engine: Engine, table: str, user: uuid.UUID) -> int:
    """How many rows of `table` the user has."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE user_id = :user"), {"user": user}
            ).scalar_one()
        )
