"""The peer for the write benchmarks: what a user would otherwise pick, a plain FastAPI app
with SQLAlchemy over psycopg2 doing the same transaction as a favorite added or removed here.

`POST /api/v1/favorites {"movie_id"}`: the bearer token checked (HS256, signature, expiry and
subject, as the gateway checks it), one `INSERT ... ON CONFLICT DO NOTHING` of the row and an
outbox row with the event's JSON, one commit. `DELETE /api/v1/favorites/{movie_id}` likewise.
No event bus, no consumers, no cache: `make bench` runs it on the same PostgreSQL beside the
system, so a write's cost here is measured against it in the same run
(`PEER_DATABASE_URL` names its database, which it creates its tables in).
"""

import os
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from shared.config import DEVELOPMENT_JWT_SECRET

engine = create_engine(os.environ.get("PEER_DATABASE_URL", "postgresql+psycopg2:///peer"))
SECRET = os.environ.get("JWT_SECRET", DEVELOPMENT_JWT_SECRET)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS peer_favorite (user_id uuid NOT NULL, movie_id integer NOT NULL, "
    "added_at timestamptz NOT NULL, PRIMARY KEY (user_id, movie_id))",
    "CREATE TABLE IF NOT EXISTS peer_outbox (id bigserial PRIMARY KEY, event_id uuid NOT NULL "
    "UNIQUE, type varchar(100) NOT NULL, content bytea NOT NULL, created_at timestamptz NOT NULL "
    "DEFAULT now(), sent_at timestamptz)",
)


@asynccontextmanager
async def lifespan(_: FastAPI) -> Any:
    with engine.begin() as connection:
        for statement in SCHEMA:
            connection.execute(text(statement))
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan)


async def current_user(authorization: Annotated[str, Header()]) -> uuid.UUID:
    try:
        claims = jwt.decode(
            authorization.removeprefix("Bearer "),
            SECRET,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise HTTPException(401, "invalid token") from exc


User = Annotated[uuid.UUID, Depends(current_user)]


class FavoriteIn(BaseModel):
    movie_id: int = Field(gt=0)


_ADD = text(
    "INSERT INTO peer_favorite (user_id, movie_id, added_at) VALUES (:user, :movie, now()) "
    "ON CONFLICT DO NOTHING RETURNING added_at"
)
_REMOVE = text(
    "DELETE FROM peer_favorite WHERE user_id = :user AND movie_id = :movie RETURNING movie_id"
)
_STAGE = text("INSERT INTO peer_outbox (event_id, type, content) VALUES (:id, :type, :content)")


def _write(change: Any, event_type: str, user_id: uuid.UUID, movie_id: int) -> Any:
    """The change and, if it touched a row, its outbox row, in one transaction; the row the
    change returned, or None. The token is checked on the event loop and each write runs in
    one worker thread with its own session: the leanest plain FastAPI (a session dependency
    would cost two thread hops)."""
    with Session(engine) as session:
        changed = session.execute(change, {"user": user_id, "movie": movie_id}).first()
        if changed is not None:
            data = {"user_id": user_id, "movie_id": movie_id, "at": datetime.now(UTC)}
            content = orjson.dumps({"type": event_type, "data": data})
            session.execute(_STAGE, {"id": uuid.uuid4(), "type": event_type, "content": content})
            session.commit()
        return changed


@app.post("/api/v1/favorites", status_code=201)
def add_favorite(body: FavoriteIn, user_id: User, response: Response) -> Any:
    added = _write(_ADD, "favorite.added", user_id, body.movie_id)
    if added is None:
        response.status_code = 200
        return {"movie_id": body.movie_id}
    return {"movie_id": body.movie_id, "added_at": added[0]}


@app.delete("/api/v1/favorites/{movie_id}", status_code=204)
def remove_favorite(movie_id: int, user_id: User) -> Response:
    if _write(_REMOVE, "favorite.removed", user_id, movie_id) is None:
        raise HTTPException(404, "not a favorite")
    return Response(status_code=204)
