"""Every replica of a service migrates as it starts: they must not trip over each other, and
the services must speak UTF-8 to whatever database they are given."""

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shared.db import make_engine
from shared.migrations import drop_database, ensure_database, upgrade
from testsupport.infra import Infra

AUTH_SERVICE = Path(__file__).resolve().parents[2] / "services" / "auth"


@pytest.fixture
def fresh_url(infra: Infra) -> Iterator[str]:
    url = make_url(infra.postgres_url).set(database=f"test_migrate_{os.urandom(4).hex()}")
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    drop_database(rendered)


def test_replicas_migrating_at_once_all_succeed(fresh_url: str) -> None:
    """Four replicas start together on an empty server: one creates the database and runs
    the migrations, the others wait and find nothing left to do (it used to be a
    duplicate-database error and a crashed container)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_replica() -> None:
        try:
            barrier.wait()
            upgrade(AUTH_SERVICE, fresh_url)
        except BaseException as exc:
            errors.append(exc)

    replicas = [threading.Thread(target=start_replica) for _ in range(4)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join()
    assert errors == []
    assert ensure_database(fresh_url) is False  # there, once
    engine = create_engine(fresh_url, poolclass=NullPool)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_the_services_write_utf8_to_a_sql_ascii_database(fresh_url: str) -> None:
    """A cluster initialised without a locale defaults to SQL_ASCII (the Debian-based
    PostgreSQL image did): non-ASCII emails and names still go in and come back."""
    url = make_url(fresh_url)
    maintenance = create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with maintenance.connect() as connection:
        connection.execute(
            text(f"CREATE DATABASE \"{url.database}\" ENCODING 'SQL_ASCII' TEMPLATE template0")
        )
    maintenance.dispose()
    engine = make_engine(fresh_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE person (email text)"))
        connection.execute(text("INSERT INTO person VALUES (:e)"), {"e": "İlke@example.com"})
        found = connection.execute(text("SELECT email FROM person")).scalar_one()
    engine.dispose()
    assert found == "İlke@example.com"
