"""PostgreSQL engine and sessions (SQLModel over psycopg2) with a naming convention."""

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, create_engine

# Explicit constraint names so Alembic migrations are stable across databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """An engine with pre-ping (survives a database restart) and a bounded pool. The client
    speaks UTF-8 whatever the server's default: a cluster initialised without a locale
    (SQL_ASCII) would otherwise refuse every non-ASCII email or name."""
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=5,
        pool_recycle=1800,
        client_encoding="utf8",
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=10000"},
    )


def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for one request; the caller commits, anything left open is rolled back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
