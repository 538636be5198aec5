"""The catalog's internal lists the recommendations are made from: related titles, trending,
a discover of genres, each in the user's language and region when asked for a viewer."""

from shared.catalog_client import CatalogClient
from shared.catalog_models import MovieList, RelatedIds, RelatedLists


class RecommendationsCatalogClient(CatalogClient):
    # With `viewer` (a user id), the answers below are in that user's language and region.
    async def related(
        self, movie_ids: list[int], *, pages: int, viewer: str | None = None
    ) -> RelatedLists:
        """TMDb's recommendations for many movies, by movie."""
        if not movie_ids:
            return RelatedLists(lists={}, adult_ids=[])
        params: dict[str, str | int] = {"ids": ",".join(map(str, movie_ids)), "pages": pages}
        return await self._get("/internal/related", _seen_by(params, viewer), RelatedLists)

    async def related_ids(self, movie_ids: list[int], *, pages: int) -> RelatedIds:
        """As `related`, each list by movie id only (a fraction of the bytes to parse)."""
        if not movie_ids:
            return RelatedIds(lists={}, adult_ids=[])
        return await self._get(
            "/internal/related",
            {"ids": ",".join(map(str, movie_ids)), "pages": pages, "ids_only": "true"},
            RelatedIds,
        )

    async def trending(self, *, pages: int, viewer: str | None = None) -> MovieList:
        params: dict[str, str | int] = {"window": "week", "pages": pages}
        return await self._get("/internal/trending", _seen_by(params, viewer), MovieList)

    async def discover(self, genre_ids: list[int], *, viewer: str | None = None) -> MovieList:
        if not genre_ids:
            return MovieList(results=[], adult_ids=[])
        params: dict[str, str | int] = {"genre_ids": ",".join(map(str, genre_ids))}
        return await self._get("/internal/discover", _seen_by(params, viewer), MovieList)


def _seen_by(params: dict[str, str | int], viewer: str | None) -> dict[str, str | int]:
    return params if viewer is None else {**params, "viewer": viewer}
