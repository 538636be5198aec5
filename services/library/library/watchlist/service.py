"""The watchlist: a user's set of movies (library/movie_set.py), apart from favorites, no
HTTP here. Adding twice changes nothing and announces nothing."""

from library.movie_set import MovieSet
from library.watchlist.models import WatchlistEntry
from shared.events import WatchlistAdded, WatchlistRemoved

WATCHLIST = MovieSet(WatchlistEntry, WatchlistAdded, WatchlistRemoved)
add, remove, page = WATCHLIST.add, WATCHLIST.remove, WATCHLIST.page
