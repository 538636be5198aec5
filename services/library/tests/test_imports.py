"""Import jobs on the real PostgreSQL: a job left by a replica that died is taken over when
its lease expires and finished without applying anything twice; a replica that lost its
lease applies nothing; the per-user limit of unfinished imports."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from library.imports import service as imports
from library.imports.formats import Row
from library.imports.worker import BATCH_ROWS, TURN_BATCHES, ImportWorker
from shared.catalog_models import Matched, MatchRow
from shared.db import in_session
from shared.errors import ProblemError


@pytest.fixture(autouse=True)
def no_other_imports(favorites_engine: Engine) -> None:
    """A worker takes the oldest job: none is left from another test."""
    with favorites_engine.begin() as connection:
        connection.execute(text("TRUNCATE import_job, import_row"))


class Catalog:
    """The catalog's /internal/match: a title "Film N" is TMDb id N; it counts its calls."""

    def __init__(self) -> None:
        self.rows_asked = 0

    async def match(self, rows: list[MatchRow]) -> list[Matched]:
        self.rows_asked += len(rows)
        return [
            Matched(movie_id=int(row.title.split()[1]), problem=None, reason=None)
            if row.title
            else Matched(movie_id=None, problem="unknown", reason="no title")
            for row in rows
        ]


def _rows(count: int) -> list[Row]:
    at = datetime(2021, 1, 1, tzinfo=UTC)
    return [
        Row("rating", f"ratings.csv:{n + 2}", at=at, title=f"Film {n + 1}", score=7.0)
        for n in range(count)
    ]


def _start(engine: Engine, user: uuid.UUID, count: int) -> uuid.UUID:
    job = in_session(
        engine,
        imports.start,
        user_id=user,
        source="letterboxd",
        file_name="r.csv",
        rows=_rows(count),
    )
    return job.id


def _outbox_ratings(engine: Engine, user: uuid.UUID) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM outbox_event WHERE type = 'rating.set'"
                    " AND convert_from(content, 'UTF8')::jsonb -> 'data' ->> 'user_id' = :u"
                ),
                {"u": str(user)},
            ).scalar_one()
        )


async def test_a_job_left_by_a_dead_replica_is_finished_by_another_once(
    favorites_engine: Engine,
) -> None:
    user = uuid.uuid4()
    import_id = _start(favorites_engine, user, 120)
    dead = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    assert in_session(favorites_engine, imports.claim, owner=dead.owner, lease_s=30) == import_id
    rows = in_session(favorites_engine, imports.pending, import_id=import_id, limit=50)
    outcomes = await dead._matched(rows)
    assert in_session(
        favorites_engine,
        imports.record,
        import_id=import_id,
        owner=dead.owner,
        lease_s=30,
        outcomes=outcomes,
    )
    # ... and it dies: nobody else may take the job while its lease runs
    other = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    assert in_session(favorites_engine, imports.claim, owner=other.owner, lease_s=30) is None
    with favorites_engine.begin() as connection:  # time passes: the lease expires
        connection.execute(
            text("UPDATE import_job SET lease_until = now() - interval '1 second' WHERE id = :i"),
            {"i": import_id},
        )
    assert in_session(favorites_engine, imports.claim, owner=other.owner, lease_s=30) == import_id
    await asyncio.wait_for(other.work(import_id), 30)
    job = in_session(favorites_engine, imports.get, user_id=user, import_id=import_id)
    assert (job.status, job.processed, job.matched, job.created["ratings"]) == (
        "done",
        120,
        120,
        120,
    )
    assert other.catalog.rows_asked == 70  # type: ignore[attr-defined]  # only what was left
    assert _outbox_ratings(favorites_engine, user) == 120  # one event per rating, none twice
    # The replica that came back finds the job is not its own any more
    assert not in_session(
        favorites_engine,
        imports.record,
        import_id=import_id,
        owner=dead.owner,
        lease_s=30,
        outcomes=outcomes,
    )
    assert _outbox_ratings(favorites_engine, user) == 120


async def test_a_row_the_file_got_wrong_is_reported_and_never_applied(
    favorites_engine: Engine,
) -> None:
    user = uuid.uuid4()
    at = datetime(2021, 1, 1, tzinfo=UTC)
    broken = "The score '4.3' is not 0.5 to 5 stars in halves"
    job = in_session(
        favorites_engine,
        imports.start,
        user_id=user,
        source="letterboxd",
        file_name="ratings.csv",
        rows=[
            Row("rating", "ratings.csv:2", at=at, title="Film 1", unusable=broken),
            Row("rating", "ratings.csv:3", at=at, title="Film 2", score=9.0),
        ],
    )
    worker = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    assert in_session(favorites_engine, imports.claim, owner=worker.owner, lease_s=30) == job.id
    await asyncio.wait_for(worker.work(job.id), 30)
    done = in_session(favorites_engine, imports.get, user_id=user, import_id=job.id)
    assert (done.status, done.rows, done.processed, done.matched, done.created["ratings"]) == (
        "done",
        2,
        2,
        1,
        1,
    )
    assert [(u.row, u.reason) for u in done.unmatched] == [("ratings.csv:2", broken)]
    assert worker.catalog.rows_asked == 1  # type: ignore[attr-defined]  # only the good row
    assert _outbox_ratings(favorites_engine, user) == 1


async def test_a_stopping_replica_lets_go_and_another_goes_on(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    import_id = _start(favorites_engine, user, 10)
    stopping = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    assert (
        in_session(favorites_engine, imports.claim, owner=stopping.owner, lease_s=30) == import_id
    )
    await stopping.stop()
    other = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    assert in_session(favorites_engine, imports.claim, owner=other.owner, lease_s=30) == import_id


async def test_the_worker_runs_and_stops_when_cancelled(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    import_id = _start(favorites_engine, user, 5)
    worker = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            job = in_session(favorites_engine, imports.get, user_id=user, import_id=import_id)
            if job.status == "done":
                break
            await asyncio.sleep(0.1)
        assert job.status == "done" and job.created["ratings"] == 5
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(running, 5)


def test_at_most_three_unfinished_imports_per_user(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    for _ in range(3):
        _start(favorites_engine, user, 1)
    with pytest.raises(ProblemError) as refused:
        _start(favorites_engine, user, 1)
    assert refused.value.status == 429
    _start(favorites_engine, uuid.uuid4(), 1)  # someone else's are theirs


async def test_a_big_import_takes_turns_with_a_small_one(favorites_engine: Engine) -> None:
    big_user, small_user = uuid.uuid4(), uuid.uuid4()
    big = _start(favorites_engine, big_user, TURN_BATCHES * BATCH_ROWS + BATCH_ROWS)
    small = _start(favorites_engine, small_user, 3)
    worker = ImportWorker(engine=favorites_engine, catalog=Catalog())  # type: ignore[arg-type]
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(300):
            done = in_session(favorites_engine, imports.get, user_id=small_user, import_id=small)
            if done.status == "done":
                break
            await asyncio.sleep(0.05)
        assert done.status == "done"
        for _ in range(300):
            finished = in_session(favorites_engine, imports.get, user_id=big_user, import_id=big)
            if finished.status == "done":
                break
            await asyncio.sleep(0.05)
        assert finished.processed == finished.rows
        # The big one, started first, let the small one through after its turn (the worker
        # may finish the big one's last batch before this looks, so the order is what counts)
        assert done.finished_at is not None and finished.finished_at is not None
        assert done.finished_at < finished.finished_at
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(running, 5)
