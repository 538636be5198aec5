"""A user's own lists on the real PostgreSQL: positions stay 1..n under concurrent changes,
the limits hold, and each item change carries its event (with whether another list still
holds the title)."""

import concurrent.futures
import uuid

import orjson
import pytest
from sqlalchemy import Engine, text

from library.user_lists import service as lists
from library.user_lists.models import MAX_ITEMS_PER_LIST, MAX_LISTS_PER_USER
from shared.db import in_session
from shared.errors import ProblemError


def _new_list(engine: Engine, user: uuid.UUID, name: str = "Mine") -> uuid.UUID:
    made = in_session(engine, lists.create, user_id=user, name=name, description=None, public=False)
    return made.id


def _positions(engine: Engine, list_id: uuid.UUID) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT position, movie_id FROM list_item WHERE list_id = :l ORDER BY position"),
            {"l": list_id},
        )
        return [(int(p), int(m)) for p, m in rows]


def _events(engine: Engine, list_id: uuid.UUID) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT content FROM outbox_event WHERE type LIKE 'list.%' ORDER BY id")
        )
        found = [orjson.loads(row[0]) for row in rows]
    return [e for e in found if e["data"]["list_id"] == str(list_id)]


def test_concurrent_adds_and_removes_keep_positions_whole(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    list_id = _new_list(favorites_engine, user)

    def add(movie_id: int) -> None:
        in_session(
            favorites_engine,
            lists.add_item,
            list_id=list_id,
            user_id=user,
            movie_id=movie_id,
            note=None,
            position=1 + movie_id % 3,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(1, 41)))
    placed = _positions(favorites_engine, list_id)
    assert [p for p, _ in placed] == list(range(1, 41))
    assert sorted(m for _, m in placed) == list(range(1, 41))

    def remove(movie_id: int) -> bool:
        return in_session(
            favorites_engine, lists.remove_item, list_id=list_id, user_id=user, movie_id=movie_id
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(remove, range(1, 41, 2)))
    placed = _positions(favorites_engine, list_id)
    assert [p for p, _ in placed] == list(range(1, 21))
    shown = in_session(favorites_engine, lists.visible, list_id=list_id, viewer=user)
    assert shown.item_count == 20


def test_removal_events_say_whether_another_list_holds_the_title(
    favorites_engine: Engine,
) -> None:
    user = uuid.uuid4()
    first, second = _new_list(favorites_engine, user, "A"), _new_list(favorites_engine, user, "B")
    for list_id in (first, second):
        in_session(
            favorites_engine,
            lists.add_item,
            list_id=list_id,
            user_id=user,
            movie_id=7,
            note=None,
            position=None,
        )
    in_session(favorites_engine, lists.remove_item, list_id=first, user_id=user, movie_id=7)
    in_session(favorites_engine, lists.remove, list_id=second, user_id=user)
    assert [
        (e["type"], e["data"].get("still_listed")) for e in _events(favorites_engine, first)
    ] == [
        ("list.item_added", None),
        ("list.item_removed", True),
    ]
    assert [
        (e["type"], e["data"].get("still_listed")) for e in _events(favorites_engine, second)
    ] == [
        ("list.item_added", None),
        ("list.item_removed", False),
    ]


def test_the_limits(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    list_id = _new_list(favorites_engine, user)
    with favorites_engine.begin() as connection:
        connection.execute(
            text("UPDATE user_list SET item_count = :n WHERE id = :l"),
            {"n": MAX_ITEMS_PER_LIST, "l": list_id},
        )
    with pytest.raises(ProblemError) as refused:
        in_session(
            favorites_engine,
            lists.add_item,
            list_id=list_id,
            user_id=user,
            movie_id=1,
            note=None,
            position=None,
        )
    assert refused.value.status == 403
    with favorites_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO user_list (id, user_id, name, public, item_count, created_at,"
                " updated_at) SELECT gen_random_uuid(), :u, 'list ' || n, false, 0, now(), now()"
                " FROM generate_series(2, :most) AS n"
            ),
            {"u": user, "most": MAX_LISTS_PER_USER},
        )
    with pytest.raises(ProblemError) as refused:
        _new_list(favorites_engine, user, "one too many")
    assert refused.value.status == 403


def test_one_name_per_user_whatever_its_case(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    _new_list(favorites_engine, user, "Mine")
    _new_list(favorites_engine, uuid.uuid4(), "Mine")  # another user's: fine
    with pytest.raises(ProblemError) as taken:
        _new_list(favorites_engine, user, "MINE ")
    assert taken.value.status == 409


def test_an_exported_list_runs_nothing_in_a_spreadsheet_and_imports_back_as_it_was() -> None:
    """A public list's CSV is anyone's to open: a cell a spreadsheet would run as a formula
    is led by a quote, and the importer takes the quote off again."""
    import csv
    import io
    from datetime import UTC, date, datetime

    from library.imports.formats import read
    from library.user_lists.export import letterboxd_csv
    from shared.catalog_models import MovieSummary

    def movie(movie_id: int, title: str) -> MovieSummary:
        return MovieSummary(
            id=movie_id,
            title=title,
            overview="",
            release_date=date(1999, 1, 1),
            genre_ids=[],
            vote_average=0,
            vote_count=0,
            popularity=0,
            poster_url=None,
        )

    at = datetime(2021, 1, 1, tzinfo=UTC)
    notes = ['=HYPERLINK("http://x","see")', "+1 for this", "@SUM(A1)", "-", "a = b", None]
    items = [lists.Item(n + 1, n + 1, note, at) for n, note in enumerate(notes)]
    movies = {n + 1: movie(n + 1, f"Film {n + 1}") for n in range(len(notes))}
    movies[5] = movie(5, "-ism")
    exported = letterboxd_csv(items, movies)
    cells = list(csv.DictReader(io.StringIO(exported)))
    assert [c["Description"] for c in cells] == [
        '\'=HYPERLINK("http://x","see")',
        "'+1 for this",
        "'@SUM(A1)",
        "'-",
        "a = b",
        "",
    ]
    assert cells[4]["Title"] == "'-ism"
    assert all(not c[k].startswith(("=", "+", "-", "@")) for c in cells for k in c)
    back = read("letterboxd", "Mine.csv", exported.encode())
    assert [(r.tmdb_id, r.note) for r in back] == [(n + 1, note) for n, note in enumerate(notes)]
    assert back[4].title == "-ism"
