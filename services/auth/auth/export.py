"""An account's export: auth's own part (the profile) joined with the part of every service
that holds the user's data, each asked at /internal/users/{user_id}/export. All or nothing:
a service that cannot answer makes the export a 503, never a silently partial file."""

import asyncio
import uuid
from typing import Any

import httpx

from shared.errors import DependencyUnavailable
from shared.security import INTERNAL_TOKEN_HEADER


class AccountExporter:
    def __init__(self, *, urls: dict[str, str], internal_secret: str, timeout_s: float) -> None:
        self.urls = urls
        self.http = httpx.AsyncClient(
            headers={INTERNAL_TOKEN_HEADER: internal_secret}, timeout=timeout_s
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def parts(self, user_id: uuid.UUID) -> dict[str, Any]:
        """Every service's sections, merged (library: favorites ... history; notifications)."""
        answers = await asyncio.gather(
            *(self._part(name, url, user_id) for name, url in self.urls.items())
        )
        merged: dict[str, Any] = {}
        for answer in answers:
            merged.update(answer)
        return merged

    async def _part(self, name: str, url: str, user_id: uuid.UUID) -> dict[str, Any]:
        try:
            response = await self.http.get(f"{url}/internal/users/{user_id}/export")
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DependencyUnavailable(f"The {name} service") from exc
        # A service answers either its named sections or one list named after itself.
        return found if isinstance(found, dict) else {name: found}
