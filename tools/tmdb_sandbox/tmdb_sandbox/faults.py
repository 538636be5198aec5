"""Fault injection for tests: make chosen paths fail the ways a real TMDb can."""

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import orjson
from starlette.responses import Response

Mode = Literal["500", "503", "429", "slow", "garbage", "wrong_shape", "invalid_key", "redirect"]
MODES: tuple[str, ...] = Mode.__args__  # type: ignore[attr-defined]


@dataclass
class Fault:
    path_prefix: str
    mode: str
    times: int | None = None  # None: until cleared
    delay_s: float = 0.0
    retry_after_s: int = 1


def tmdb_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"success": False, "status_code": code, "status_message": message}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def apply(self, fault: Fault) -> Response | None:
        """The faulty response, or None when the request should go on (after a delay)."""
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        match fault.mode:
            case "500":
                return tmdb_error(500, 11, "Internal error: Something went wrong, contact TMDb.")
            case "503":
                return tmdb_error(
                    503, 9, "Service offline: This service is temporarily offline, try again later."
                )
            case "429":
                return tmdb_error(
                    429,
                    25,
                    "Your request count (#) is over the allowed limit of (40).",
                    headers={"Retry-After": str(fault.retry_after_s)},
                )
            case "invalid_key":
                return tmdb_error(401, 7, "Invalid API key: You must be granted a valid key.")
            case "garbage":
                return Response(
                    b"<html>upstream proxy error", status_code=200, media_type="application/json"
                )
            case "wrong_shape":
                return Response(b'{"results": "nope", "page": "x"}', media_type="application/json")
            case "redirect":  # a client that follows it would leave TMDb for anywhere
                return Response(
                    status_code=302, headers={"Location": "http://attacker.invalid/3/movie/1"}
                )
        return None
