"""What the catalog publishes (through its outbox)."""

from shared.events import (
    CatalogMovieUpdated,
    CatalogReleaseAvailable,
    CatalogTrendingRefreshed,
    CatalogViewerChanged,
)

PRODUCER = "catalog"
PUBLISHES = (
    CatalogTrendingRefreshed,
    CatalogMovieUpdated,
    CatalogViewerChanged,
    CatalogReleaseAvailable,
)
