"""The background work of imports, in every replica: take the oldest job nobody holds, match
its rows a batch at a time through the catalog (its cache and single flight), apply them,
finish it. A replica holds a job by a lease in the database, renewed with each batch and
released when it stops; one that dies loses it when the lease expires, and another replica
goes on from the first pending row (service.py: a batch is applied once)."""

import asyncio
import logging
import os
import random
import socket
import uuid

from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.imports import service as imports
from library.imports.models import ImportRow
from shared.catalog_models import MatchRow
from shared.db import in_session
from shared.errors import DependencyUnavailable

logger = logging.getLogger(__name__)
LEASE_S = 30.0
BATCH_ROWS = 50
TURN_BATCHES = 20  # a job is worked on for 1,000 rows at a time, then the next job has a turn
IDLE_POLL_S = 1.0
UNAVAILABLE_BACKOFF_S = (1.0, 30.0)


class ImportWorker:
    def __init__(self, *, engine: Engine, catalog: LibraryCatalogClient) -> None:
        self.engine = engine
        self.catalog = catalog
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        """Until cancelled: work on a job when there is one, look again a second later."""
        while True:
            try:
                job = await asyncio.to_thread(
                    in_session, self.engine, imports.claim, owner=self.owner, lease_s=LEASE_S
                )
                if job is not None:
                    await self.work(job)
                    continue
            except Exception:  # the database away: the lease, if any, expires by itself
                logger.exception("imports: could not take or work on a job; trying again")
            await asyncio.sleep(IDLE_POLL_S * random.uniform(0.8, 1.2))

    async def work(self, import_id: uuid.UUID) -> None:
        """One job for a turn of TURN_BATCHES batches, to its end, or until it is no longer
        ours; a job not finished in its turn is let go for the next job waiting."""
        backoff_s = UNAVAILABLE_BACKOFF_S[0]
        for _ in range(TURN_BATCHES):
            rows = await asyncio.to_thread(
                in_session, self.engine, imports.pending, import_id=import_id, limit=BATCH_ROWS
            )
            if not rows:
                if await asyncio.to_thread(
                    in_session, self.engine, imports.finish, import_id=import_id, owner=self.owner
                ):
                    logger.info("import %s finished", import_id)
                return
            outcomes = await self._matched(rows)
            still_ours = await asyncio.to_thread(
                in_session,
                self.engine,
                imports.record,
                import_id=import_id,
                owner=self.owner,
                lease_s=LEASE_S,
                outcomes=outcomes,
            )
            if not still_ours:
                logger.warning("import %s is no longer this replica's", import_id)
                return
            if len(outcomes) < len(rows):  # TMDb or the catalog could not answer for some
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, UNAVAILABLE_BACKOFF_S[1])
            else:
                backoff_s = UNAVAILABLE_BACKOFF_S[0]
        await asyncio.to_thread(
            in_session, self.engine, imports.end_turn, import_id=import_id, owner=self.owner
        )

    async def _matched(
        self, rows: list[ImportRow]
    ) -> list[tuple[ImportRow, int | None, str | None]]:
        """Each row with its TMDb id or why it has none; rows the catalog could not answer
        for now are left out (they stay pending)."""
        outcomes: list[tuple[ImportRow, int | None, str | None]] = []
        asked = []
        for row in rows:
            if row.reason:  # the file's own row could not be read as it stands
                outcomes.append((row, None, row.reason))
            elif row.not_a_film:
                outcomes.append((row, None, f"Not a film ({row.not_a_film})"))
            else:
                asked.append(row)
        if not asked:
            return outcomes
        try:
            answers = await self.catalog.match(
                [
                    MatchRow(tmdb_id=r.tmdb_id, imdb_id=r.imdb_id, title=r.title, year=r.year)
                    for r in asked
                ]
            )
        except DependencyUnavailable:
            logger.warning("imports: the catalog is unavailable; the batch waits")
            return outcomes
        for row, answer in zip(asked, answers, strict=True):
            if answer.problem == "unavailable":
                continue
            outcomes.append((row, answer.movie_id, answer.reason))
        return outcomes

    async def stop(self) -> None:
        """Let go of the job held (at shutdown), so another replica goes on at once."""
        await asyncio.to_thread(in_session, self.engine, imports.release, owner=self.owner)
