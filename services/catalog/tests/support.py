"""Helpers for the catalog tests: a scripted TMDb transport and TMDb-shaped payloads."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from catalog.keys import CacheKeys
from catalog.locale import DEFAULT_LOCALE


class ScriptedTmdb:
    """An httpx transport answering from a script and counting calls per path."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.handler: Callable[[httpx.Request], Any] = lambda request: httpx.Response(404)

    def transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            self.calls.append(request.url.path)
            result = self.handler(request)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, httpx.Response)
            return result

        return httpx.MockTransport(handle)


def movie_json(movie_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": movie_id,
        "title": f"Movie {movie_id}",
        "overview": "o",
        "release_date": "2001-02-03",
        "genres": [{"id": 18, "name": "Drama"}],
        "vote_average": 7.5,
        "vote_count": 10,
        "popularity": 3.2,
        "poster_path": "/p.jpg",
        "backdrop_path": None,
        "adult": False,
        "runtime": 100,
        "tagline": "t",
        "status": "Released",
        "original_language": "en",
        "unknown_field": {"dropped": True},
        **fields,
    }


def page_json(*movie_ids: int, adult: frozenset[int] = frozenset()) -> dict[str, Any]:
    return {
        "page": 1,
        "total_pages": 1,
        "total_results": len(movie_ids),
        "results": [
            {
                "id": m,
                "title": f"Movie {m}",
                "overview": "",
                "release_date": "",
                "genre_ids": [18],
                "vote_average": 6.0,
                "vote_count": 3,
                "popularity": 1.0,
                "poster_path": None,
                "adult": m in adult,
                "media_type": "movie",
            }
            for m in movie_ids
        ],
    }


def unique_id() -> int:
    return 100_000 + uuid.uuid4().int % 800_000


# The test settings' TMDB_BASE_URL, and TMDb's own image server (the default)
KEYS = CacheKeys("http://tmdb.test/3", "https://image.tmdb.org/t/p/w500")


def movie_key(movie_id: int) -> str:
    return KEYS.movie(movie_id, DEFAULT_LOCALE)


def trending_key(window: str, page: int) -> str:
    return KEYS.trending(window, page, DEFAULT_LOCALE.language)
