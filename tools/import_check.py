"""An import that runs while `make compose-check` kills one replica of each service: a
Letterboxd diary of every sandbox film with a year, once each, uploaded through a gateway
before the kills. Afterwards the job must be done with every row processed once, and each
matched film must be one history entry with one `history.added` event; the replicas that held
the job's lease along the way are counted (more than one: it was taken over)."""

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from shared.db import make_engine
from tmdb_sandbox.data import load_movies

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long compose-check passphrase"


class ImportUnderKills:
    def __init__(self, gateway_url: str, database_url: Callable[[str], str]) -> None:
        self.api = httpx.Client(base_url=f"{gateway_url}/api/v1", timeout=60)
        self.engine = make_engine(database_url("library"))
        self.owners: set[str] = set()
        self.location = ""
        self.headers: dict[str, str] = {}
        self.user_id = ""
        self.started = 0.0
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        email = f"importer-{uuid.uuid4().hex[:10]}@example.com"
        registered = self.api.post("/auth/register", json={"email": email, "password": PASSWORD})
        registered.raise_for_status()
        self.user_id = registered.json()["id"]
        token = self.api.post("/auth/login", json={"email": email, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        films = [m for m in load_movies(ROOT / "data" / "ml-100k").values() if m.year]
        lines = ["Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date"]
        for n, film in enumerate(sorted(films, key=lambda m: m.id)):
            title = film.title.replace('"', '""')
            lines.append(f'2020-01-01,"{title}",{film.year},https://boxd.it/x{n},,,,2020-01-01')
        self.started = time.monotonic()
        accepted = self.api.post(
            "/me/imports",
            data={"source": "letterboxd"},
            files={"file": ("diary.csv", "\n".join(lines).encode())},
            headers=self.headers,
        )
        accepted.raise_for_status()
        self.location = accepted.headers["location"].removeprefix("/api/v1")
        self._watcher.start()

    def holder(self) -> str | None:
        """The host name of the replica holding the job now (a container's is its short id);
        between two turns nobody holds it, so this waits a few seconds for the next holder."""
        job_id = self.location.rsplit("/", 1)[1]
        deadline = time.monotonic() + 5
        while True:
            with self.engine.connect() as connection:
                owner = connection.execute(
                    text("SELECT lease_owner FROM import_job WHERE id = :id"), {"id": job_id}
                ).scalar()
            if owner or time.monotonic() > deadline:
                return owner.split(":")[0] if owner else None
            time.sleep(0.1)

    def _watch(self) -> None:
        """Which replicas hold the job's lease, as it goes."""
        job_id = self.location.rsplit("/", 1)[1]
        while not self._stop.wait(0.5):
            try:
                with self.engine.connect() as connection:
                    owner = connection.execute(
                        text("SELECT lease_owner FROM import_job WHERE id = :id"), {"id": job_id}
                    ).scalar()
                if owner:
                    self.owners.add(owner.split(":")[0])  # the container's host name
            except Exception:  # the database restarting: look again
                continue

    def finish(self, gateway_url: str, timeout_s: float = 600) -> dict[str, Any]:
        """The figures once the job has ended; `gateway_url` a gateway replica that answers
        now (the one used before may have been killed and moved)."""
        self.api = httpx.Client(base_url=f"{gateway_url}/api/v1", timeout=60)
        deadline = time.monotonic() + timeout_s
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                job = self.api.get(self.location, headers=self.headers).json()
            except httpx.HTTPError:
                job = {}
            if job.get("status") in ("done", "failed"):
                break
            time.sleep(1)
        self._stop.set()
        self._watcher.join(5)
        with self.engine.connect() as connection:
            entries = connection.execute(
                text("SELECT count(*) FROM watch_entry WHERE user_id = CAST(:u AS uuid)"),
                {"u": self.user_id},
            ).scalar_one()
            events = connection.execute(
                text(
                    "SELECT count(*) FROM outbox_event WHERE type = 'history.added'"
                    " AND convert_from(content, 'UTF8')::jsonb -> 'data' ->> 'user_id' = :u"
                ),
                {"u": self.user_id},
            ).scalar_one()
        self.engine.dispose()
        return {
            "status": job.get("status", "unknown"),
            "rows": job.get("rows"),
            "processed": job.get("processed"),
            "matched": job.get("matched"),
            "history entries": int(entries),
            "history events": int(events),
            "replicas that held it": len(self.owners),
            "seconds": round(time.monotonic() - self.started),
        }


def import_problems(figures: dict[str, Any]) -> list[str]:
    found = []
    if figures["status"] != "done":
        found.append(f"the import under kills ended {figures['status']}")
    elif figures["processed"] != figures["rows"]:
        found.append(f"the import processed {figures['processed']} of {figures['rows']} rows")
    if figures["history entries"] != figures["matched"]:
        found.append(
            f"the import matched {figures['matched']} films but wrote {figures['history entries']}"
        )
    if figures["history events"] != figures["history entries"]:
        found.append(
            f"the import announced {figures['history events']} viewings for "
            f"{figures['history entries']} entries"
        )
    return found
