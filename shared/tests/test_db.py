"""The engine's pool: idle connections are pinged before use, busy ones trusted, and a dead
one costs at most the one statement that finds it."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, exc, text

from shared.db import make_engine, ping_idle_connections


@pytest.fixture
def database_url(make_database) -> str:  # type: ignore[no-untyped-def]
    return str(make_database("catalog"))


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database_url: str, pid: int) -> None:
    killer = make_engine(database_url)
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()
    time.sleep(0.2)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_s=0.0)  # every pooled connection counts as idle
    first = _backend_pid(engine)
    _terminate(database_url, first)
    assert _backend_pid(engine) != first  # no error: the ping found it dead first
    engine.dispose()


def test_a_busy_connection_is_not_pinged_and_a_dead_one_fails_once(
    engine: Engine, database_url: str
) -> None:
    first = _backend_pid(engine)
    _terminate(database_url, first)
    with pytest.raises(exc.OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # used moments ago: trusted, and found dead
    assert _backend_pid(engine) != first  # the pool let go of it: the next one works
