"""What the catalog publishes (through its outbox)."""

from shared.events import CatalogMovieUpdated, CatalogTrendingRefreshed

PRODUCER = "catalog"
PUBLISHES = (CatalogTrendingRefreshed, CatalogMovieUpdated)
