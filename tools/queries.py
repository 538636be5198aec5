"""Reading a service's database from the tools (make chaos, make compose-check)."""

from typing import Any

from sqlalchemy import create_engine, text


def rows(database_url: str, sql: str) -> list[Any]:
    """The rows `sql` returns, over a connection of its own."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()
