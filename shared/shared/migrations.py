"""Alembic helpers: each service's migrations/env.py calls `run_env`; set-up calls `upgrade`."""

import logging
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

logger = logging.getLogger(__name__)
MIGRATION_LOCK = 0x6D6F7669  # the advisory lock replicas migrate under, per database
# Two replicas creating one database: the loser sees either (PostgreSQL's catalog index).
DUPLICATE_DATABASE, UNIQUE_VIOLATION = "42P04", "23505"


def run_env() -> None:
    """Body of a service's migrations/env.py, after it has imported its models."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=SQLModel.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url or "", poolclass=NullPool)
    with engine.connect() as connection:
        # One migrator at a time, even when several replicas start together.
        connection.execute(text("SELECT pg_advisory_lock(727274)"))
        connection.commit()
        context.configure(connection=connection, target_metadata=SQLModel.metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.execute(text("SELECT pg_advisory_unlock(727274)"))
        connection.commit()
    engine.dispose()


def alembic_config(service_dir: Path, database_url: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if it does not exist; True if it was created."""
    url = make_url(database_url)
    maintenance = create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    created = False
    with maintenance.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        ).first()
        if not exists:
            try:
                connection.execute(
                    text(f"CREATE DATABASE \"{url.database}\" ENCODING 'UTF8' TEMPLATE template0")
                )
                created = True
            except DBAPIError as exc:  # another replica created it first
                if getattr(exc.orig, "pgcode", None) not in (DUPLICATE_DATABASE, UNIQUE_VIOLATION):
                    raise
    maintenance.dispose()
    return created


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    maintenance = create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    maintenance.dispose()


def upgrade(service_dir: Path, database_url: str) -> None:
    """Create the service's database if missing and bring it to the newest migration. Every
    replica of a service may run this as it starts: one at a time (an advisory lock in the
    service's database), the later ones finding nothing left to do."""
    ensure_database(database_url)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                command.upgrade(alembic_config(service_dir, database_url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """`python -m shared.migrations SERVICE_DIR SERVICE`: the container's migration step.

    SERVICE_DIR holds the service's alembic.ini and migrations; the database URL is the
    service's own setting, `<SERVICE>_DATABASE_URL`.
    """
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m shared.migrations")
    parser.add_argument("service_dir", type=Path)
    parser.add_argument("service")
    args = parser.parse_args(argv)
    variable = f"{args.service.upper()}_DATABASE_URL"
    url = os.environ.get(variable)
    if not url:
        raise SystemExit(f"migrations: {variable} is not set")
    upgrade(args.service_dir, url)
    print(f"migrations: {args.service} is at the newest schema", flush=True)


if __name__ == "__main__":
    main()
