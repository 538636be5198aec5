"""Import jobs: started from a file's rows, read while they run, worked on by whichever
replica holds the job's lease, finished with an event. No HTTP here; a refusal is a
ProblemError with the contract's status.

A job's rows are stored with it when it starts; a batch of rows is matched (the catalog),
applied and marked done in one transaction that also renews the lease and checks it is still
this replica's, so a batch is applied once whoever works on it: a replica that stops releases
its lease, one that dies loses it when it expires and another picks the job up at its first
pending row."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlmodel import Session, col

from library.events import PRODUCER
from library.imports.apply import Applied, apply
from library.imports.formats import Row
from library.imports.models import (
    MAX_RUNNING_PER_USER,
    UNMATCHED_SHOWN,
    ImportJob,
    ImportPublic,
    ImportRow,
    no_created,
)
from shared.account_export import UnmatchedRow
from shared.db import user_lock, utcnow
from shared.errors import ProblemError
from shared.events import ImportFinished
from shared.outbox import add_event

UNFINISHED = ("queued", "running")
_HOLD_USERS_IMPORTS = user_lock(7403)


def start(
    session: Session, *, user_id: uuid.UUID, source: str, file_name: str, rows: list[Row]
) -> ImportPublic:
    """A queued job with its rows; 429 when the user has as many unfinished as allowed."""
    session.execute(_HOLD_USERS_IMPORTS, {"user_id": str(user_id)})
    running = session.scalar(
        select(func.count())
        .select_from(ImportJob)
        .where(col(ImportJob.user_id) == user_id, col(ImportJob.status).in_(UNFINISHED))
    )
    if (running or 0) >= MAX_RUNNING_PER_USER:
        session.rollback()
        raise ProblemError(
            429,
            f"You have {MAX_RUNNING_PER_USER} imports under way; start another when one ends",
            headers={"Retry-After": "30"},
        )
    job = ImportJob(
        user_id=user_id,
        source=source,
        file_name=file_name[:255] or "upload",
        status="queued",
        rows=len(rows),
        processed=0,
        matched=0,
        created=no_created(),
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    if rows:
        session.execute(insert(ImportRow), [_stored(job, seq, row) for seq, row in enumerate(rows)])
    shown = _public(job, [])
    session.commit()
    return shown


def _stored(job: ImportJob, seq: int, row: Row) -> dict[str, Any]:
    return {
        "import_id": job.id,
        "seq": seq,
        "user_id": job.user_id,
        "kind": row.kind,
        "ref": row.ref[:300],
        "state": "pending",
        "title": _cut(row.title, 500),
        "year": row.year if row.year and 1800 <= row.year <= 2200 else None,
        "tmdb_id": row.tmdb_id if row.tmdb_id and row.tmdb_id < 2**31 else None,
        "imdb_id": row.imdb_id if row.imdb_id and len(row.imdb_id) <= 12 else None,
        "score": row.score,
        "at": row.at,
        "list_name": row.listed.name[:100] if row.listed else None,
        "list_description": _cut(row.listed.description if row.listed else None, 2000),
        "note": row.note,
        "not_a_film": row.not_a_film[:100] if row.not_a_film else None,
        "reason": row.unusable,  # known from the file: the row is reported, never applied
    }


def _cut(text_: str | None, length: int) -> str | None:
    return text_[:length] if text_ else None


def get(session: Session, *, user_id: uuid.UUID, import_id: uuid.UUID) -> ImportPublic:
    """The user's import with its unmatched rows so far; 404 when it is not theirs."""
    try:
        job = session.get(ImportJob, import_id)
        if job is None or job.user_id != user_id:
            raise ProblemError(404, "No such import of yours")
        return _public(job, _unmatched(session, import_id))
    finally:
        session.rollback()


def page(
    session: Session, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[list[ImportPublic], int]:
    """One page of the user's imports, newest first."""
    try:
        mine = col(ImportJob.user_id) == user_id
        total = session.scalar(select(func.count()).select_from(ImportJob).where(mine))
        jobs = session.scalars(
            select(ImportJob)
            .where(mine)
            .order_by(col(ImportJob.created_at).desc(), col(ImportJob.id))
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        return [_public(job, _unmatched(session, job.id)) for job in jobs], int(total or 0)
    finally:
        session.rollback()


def _unmatched(session: Session, import_id: uuid.UUID) -> list[UnmatchedRow]:
    rows = session.execute(
        select(col(ImportRow.ref), col(ImportRow.title), col(ImportRow.year), col(ImportRow.reason))
        .where(col(ImportRow.import_id) == import_id, col(ImportRow.state) == "unmatched")
        .order_by(col(ImportRow.seq))
        .limit(UNMATCHED_SHOWN)
    ).all()
    return [UnmatchedRow(row=r, title=t, year=y, reason=why or "") for r, t, y, why in rows]


def _public(job: ImportJob, unmatched: list[UnmatchedRow]) -> ImportPublic:
    return ImportPublic(
        id=job.id,
        source=job.source,
        status=job.status,
        rows=job.rows,
        processed=job.processed,
        matched=job.matched,
        created=dict(job.created),
        unmatched=unmatched,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


# --- the work, for the worker ----------------------------------------------------------------
_CLAIM = text(
    "UPDATE import_job SET lease_owner = :owner, lease_until = now() + make_interval(secs => :s),"
    " status = 'running' WHERE id = ("
    "  SELECT id FROM import_job WHERE status IN ('queued', 'running')"
    "  AND (lease_until IS NULL OR lease_until < now())"
    "  ORDER BY lease_until NULLS FIRST, created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    ") RETURNING id"
)


def claim(session: Session, *, owner: str, lease_s: float) -> uuid.UUID | None:
    """An unfinished job nobody holds, now held by `owner` for `lease_s`: one never worked on
    first, else the one whose turn ended longest ago (so big imports take turns with small
    ones), the oldest among equals."""
    claimed = session.scalar(_CLAIM, {"owner": owner, "s": lease_s})
    session.commit()
    return claimed


def pending(session: Session, *, import_id: uuid.UUID, limit: int) -> list[ImportRow]:
    """The job's next rows still to do, in file order."""
    try:
        rows = session.scalars(
            select(ImportRow)
            .where(col(ImportRow.import_id) == import_id, col(ImportRow.state) == "pending")
            .order_by(col(ImportRow.seq))
            .limit(limit)
        ).all()
        session.expunge_all()
        return list(rows)
    finally:
        session.rollback()


def record(
    session: Session,
    *,
    import_id: uuid.UUID,
    owner: str,
    lease_s: float,
    outcomes: list[tuple[ImportRow, int | None, str | None]],
) -> bool:
    """Apply a batch: each row with its TMDb id, or why it has none; False (nothing done) when
    the job is no longer this owner's."""
    job = session.scalars(
        select(ImportJob)
        .where(col(ImportJob.id) == import_id, col(ImportJob.lease_owner) == owner)
        .with_for_update()
    ).first()
    if job is None or job.status != "running":
        session.rollback()
        return False
    applied = Applied()
    matched = 0
    for row, movie_id, _ in outcomes:
        if movie_id is not None:
            matched += 1
            apply(session, row, movie_id, applied)
    states = [
        (
            row.seq,
            "done" if movie_id is not None and row.seq not in applied.refused else "unmatched",
            applied.refused.get(row.seq) or reason,
        )
        for row, movie_id, reason in outcomes
    ]
    session.execute(
        text(
            "UPDATE import_row SET state = s.state, reason = s.reason FROM unnest("
            " CAST(:seqs AS int[]), CAST(:states AS text[]), CAST(:reasons AS text[]))"
            " AS s(seq, state, reason) WHERE import_row.import_id = :import_id"
            " AND import_row.seq = s.seq AND import_row.state = 'pending'"
        ),
        {
            "import_id": import_id,
            "seqs": [seq for seq, _, _ in states],
            "states": [state for _, state, _ in states],
            "reasons": [reason for _, _, reason in states],
        },
    )
    created = dict(job.created)
    for key, count in applied.created.items():
        created[key] = created.get(key, 0) + count
    job.created = created
    job.processed += len(outcomes)
    job.matched += matched - len(applied.refused)
    job.lease_until = utcnow() + timedelta(seconds=lease_s)
    session.add(job)
    session.commit()
    return True


def finish(session: Session, *, import_id: uuid.UUID, owner: str, error: str | None = None) -> bool:
    """The job ends (done, or failed with `error`), its end announced, its rows dropped but
    the unmatched ones (the report)."""
    job = session.scalars(
        select(ImportJob)
        .where(col(ImportJob.id) == import_id, col(ImportJob.lease_owner) == owner)
        .with_for_update()
    ).first()
    if job is None or job.status != "running":
        session.rollback()
        return False
    job.status = "failed" if error else "done"
    job.error = error
    job.finished_at = utcnow()
    job.lease_owner = job.lease_until = None
    session.add(job)
    session.execute(
        delete(ImportRow).where(
            col(ImportRow.import_id) == import_id, col(ImportRow.state) != "unmatched"
        )
    )
    add_event(
        session,
        ImportFinished(
            user_id=job.user_id,
            import_id=job.id,
            source=job.source,
            status=job.status,
            matched=job.matched,
            unmatched=job.processed - job.matched,
            at=job.finished_at,
        ),
        producer=PRODUCER,
    )
    session.commit()
    return True


def end_turn(session: Session, *, import_id: uuid.UUID, owner: str) -> None:
    """The owner lets go of the job after its turn; it goes behind the jobs waiting longer."""
    session.execute(
        update(ImportJob)
        .where(col(ImportJob.id) == import_id, col(ImportJob.lease_owner) == owner)
        .values(lease_owner=None, lease_until=func.now())
    )
    session.commit()


def release(session: Session, *, owner: str) -> None:
    """Let go of every job this owner holds (it is stopping): another replica goes on."""
    session.execute(
        update(ImportJob)
        .where(col(ImportJob.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
    )
    session.commit()


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """A deleted account's imports go, in the caller's transaction."""
    session.execute(delete(ImportRow).where(col(ImportRow.user_id) == user_id))
    session.execute(delete(ImportJob).where(col(ImportJob.user_id) == user_id))


def everything(session: Session, *, user_id: uuid.UUID) -> list[ImportPublic]:
    """Every import of the user's, oldest first (for an export), in the caller's transaction."""
    jobs = session.scalars(
        select(ImportJob)
        .where(col(ImportJob.user_id) == user_id)
        .order_by(col(ImportJob.created_at))
    ).all()
    return [_public(job, _unmatched(session, job.id)) for job in jobs]
