"""The engine's pool: idle connections are pinged before use, busy ones trusted, and a dead
one costs at most the one statement that finds it."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, exc, make_url, text
from sqlmodel import Session

from shared.db import in_session, make_engine, ping_idle_connections


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


def test_work_whose_connection_died_before_commit_runs_again(
    engine: Engine, database_url: str
) -> None:
    """As after a failover: the pooled connection to the old primary is dead."""
    first = _backend_pid(engine)
    _terminate(database_url, first)
    runs: list[int] = []

    def work(session: Session) -> int:
        runs.append(1)
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        session.commit()
        return pid

    assert in_session(engine, work) != first
    assert len(runs) == 2


def test_work_whose_connection_died_while_committing_is_not_run_again(
    engine: Engine, database_url: str
) -> None:
    """The commit may have happened: running the work again could write it twice."""
    runs: list[int] = []

    def work(session: Session) -> None:
        runs.append(1)
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        _terminate(database_url, pid)
        session.commit()

    with pytest.raises((exc.OperationalError, exc.InterfaceError)):
        in_session(engine, work)
    assert len(runs) == 1


def test_a_multi_host_url_reaches_the_server_that_takes_writes(database_url: str) -> None:
    """As with a primary and a standby: the first host is down, the second answers."""
    url = make_url(database_url)
    multi = url.set(host=None, port=None).update_query_pairs(
        [
            ("host", "127.0.0.1:1"),
            ("host", f"{url.host}:{url.port or 5432}"),
            ("target_session_attrs", "read-write"),
        ]
    )
    engine = make_engine(multi.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT NOT pg_is_in_recovery()")).scalar_one()
    finally:
        engine.dispose()
