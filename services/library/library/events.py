"""What the library publishes (through its outbox)."""

from shared.events import (
    FavoriteAdded,
    FavoriteRemoved,
    HistoryAdded,
    HistoryRemoved,
    ImportFinished,
    ListItemAdded,
    ListItemRemoved,
    NotInterestedAdded,
    NotInterestedRemoved,
    RatingRemoved,
    RatingSet,
    ReviewCreated,
    ReviewDeleted,
    WatchlistAdded,
    WatchlistRemoved,
)

PRODUCER = "library"
PUBLISHES = (
    FavoriteAdded,
    FavoriteRemoved,
    RatingSet,
    RatingRemoved,
    ReviewCreated,
    ReviewDeleted,
    HistoryAdded,
    HistoryRemoved,
    WatchlistAdded,
    WatchlistRemoved,
    NotInterestedAdded,
    NotInterestedRemoved,
    ListItemAdded,
    ListItemRemoved,
    ImportFinished,
)
