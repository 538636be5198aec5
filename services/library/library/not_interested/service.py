"""Titles marked "not interested": a user's set of movies (library/movie_set.py) whose events
tell the recommendations service never to suggest them; no HTTP here."""

from library.movie_set import MovieSet
from library.not_interested.models import NotInterestedEntry
from shared.events import NotInterestedAdded, NotInterestedRemoved

NOT_INTERESTED = MovieSet(NotInterestedEntry, NotInterestedAdded, NotInterestedRemoved)
add, remove, holds = NOT_INTERESTED.add, NOT_INTERESTED.remove, NOT_INTERESTED.holds
