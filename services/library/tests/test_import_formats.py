"""The exports of Letterboxd, IMDb and Trakt read into rows (tests/fixtures/imports), and the
files that are refused with a reason."""

import io
import zipfile
from pathlib import Path

import pytest

from library.imports.formats import MAX_ROWS, FileRefused, Row, read

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "imports"


def zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


def _kinds(rows: list[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return counts


def test_letterboxd_export() -> None:
    rows = read("letterboxd", "letterboxd-someone.zip", zipped(FIXTURES / "letterboxd"))
    assert _kinds(rows) == {"history": 6, "favorite": 1, "list": 3, "rating": 7, "watchlist": 2}
    ratings = [r for r in rows if r.kind == "rating"]
    assert [(r.title, r.year, r.score) for r in ratings[:4]] == [
        ("Star Wars", 1977, 10.0),
        ("The Godfather", 1972, 9.0),
        ("Les Misérables", 1995, 6.0),  # BOM, CRLF and non-ASCII read right
        ("The Good, the Bad and the Ugly", 1966, 8.0),
    ]
    assert "Cape Fear" not in [r.title for r in ratings]  # no rating given: nothing to bring
    assert ratings[0].at is not None and ratings[0].at.isoformat() == "2021-01-05T00:00:00+00:00"
    viewings = [(r.title, r.at.date().isoformat()) for r in rows if r.kind == "history" and r.at]
    assert ("Star Wars", "2021-01-31") in viewings  # the rewatch is a viewing of its own
    listed = [r for r in rows if r.kind == "list"]
    assert [r.title for r in listed] == [
        "Star Wars",
        "Return of the Jedi",
        "The Empire Strikes Back",
    ]
    assert listed[0].listed is not None and listed[0].listed.name == "Space opera"
    assert listed[0].listed.description == "Big, loud, far away"
    assert listed[0].note == 'Where it began: "A New Hope"'
    assert rows[0].ref == "diary.csv:2"


def test_letterboxd_single_csvs() -> None:
    ratings = (FIXTURES / "letterboxd" / "ratings.csv").read_bytes()
    assert _kinds(read("letterboxd", "ratings.csv", ratings)) == {"rating": 7}
    watchlist = (FIXTURES / "letterboxd" / "watchlist.csv").read_bytes()
    assert _kinds(read("letterboxd", "watchlist.csv", watchlist)) == {"watchlist": 2}
    with pytest.raises(FileRefused) as unnamed:
        read("letterboxd", "export.csv", watchlist)
    assert unnamed.value.status == 422 and "file name" in unnamed.value.reason


def test_imdb_exports() -> None:
    rows = read("imdb", "ratings.csv", (FIXTURES / "imdb" / "ratings.csv").read_bytes())
    assert [(r.imdb_id, r.score, r.not_a_film) for r in rows] == [
        ("tt0000050", 9.0, None),
        ("tt0000127", 10.0, None),
        ("tt0000100", 8.0, None),
        ("tt0903747", 10.0, "TV Series"),
        ("tt9999999", 7.0, None),
        ("tt0000001", 6.0, None),
    ]
    watchlist = read("imdb", "WATCHLIST.csv", (FIXTURES / "imdb" / "WATCHLIST.csv").read_bytes())
    assert [(r.kind, r.imdb_id, r.note) for r in watchlist] == [
        ("watchlist", "tt0000258", None),
        ("watchlist", "tt0000007", "Bruce Willis, time travel"),
    ]


def test_trakt_export() -> None:
    rows = read("trakt", "trakt-export.zip", zipped(FIXTURES / "trakt"))
    assert _kinds(rows) == {"list": 2, "rating": 3, "history": 3, "watchlist": 1}
    ratings = [r for r in rows if r.kind == "rating"]
    assert [(r.tmdb_id, r.imdb_id, r.score) for r in ratings] == [
        (50, "tt0076759", 9.0),
        (None, "tt0000098", 7.0),
        (99999999, None, 8.0),
    ]
    assert [r.not_a_film for r in rows if r.kind == "history"] == [None, None, "episode"]
    listed = [r for r in rows if r.kind == "list"]
    assert listed[0].listed is not None and listed[0].listed.name == "space"
    assert listed[0].note == "Start here"


@pytest.mark.parametrize(
    ("source", "name", "data", "status", "says"),
    [
        ("trakt", "ratings.json", b'{"not": "trakt"}', 422, "not a Trakt export"),
        ("trakt", "ratings.json", b"[{]", 422, "not JSON"),
        ("trakt", "ratings.csv", b"Date,Name\n", 415, "not a Trakt export"),
        (
            "trakt",
            "collection-movies.json",
            b'[{"collected_at": "2020-01-01T00:00:00Z", "movie": {"title": "Heat", "year": 1995}}]',
            422,
            "nothing to bring over",
        ),
        ("imdb", "ratings.csv", b"Title,Year\nAlien,1979\n", 422, "no Const column"),
        ("imdb", "ratings.json", b'{"a": 1}', 415, "not an IMDb CSV"),
        ("letterboxd", "ratings.csv", b"Film,When\nAlien,1979\n", 422, "Letterboxd"),
        ("letterboxd", "ratings.csv", b"", 422, "empty"),
        ("letterboxd", "export.zip", b"PK\x03\x04 broken", 422, "zip"),
    ],
)
def test_files_that_are_not_what_their_source_says(
    source: str, name: str, data: bytes, status: int, says: str
) -> None:
    with pytest.raises(FileRefused) as refused:
        read(source, name, data)  # type: ignore[arg-type]
    assert refused.value.status == status and says in refused.value.reason


def test_an_empty_trakt_file_is_an_export_with_nothing_in_it() -> None:
    assert read("trakt", "watchlist.json", b"[]") == []


def test_a_zip_bomb_and_too_many_rows_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "ratings.csv", b"Date,Name,Year,Letterboxd URI,Rating\n" + b" " * 60_000_000
        )
    bomb = out.getvalue()
    assert len(bomb) < 1_000_000
    with pytest.raises(FileRefused) as refused:
        read("letterboxd", "bomb.zip", bomb)
    assert refused.value.status == 413 and "expands" in refused.value.reason
    many = b"Date,Name,Year,Letterboxd URI,Rating\n" + b"2021-01-01,Alien,1979,x,4\n" * (
        MAX_ROWS + 1
    )
    with pytest.raises(FileRefused) as too_many:
        read("letterboxd", "ratings.csv", many)
    assert too_many.value.status == 413 and str(MAX_ROWS) in too_many.value.reason


@pytest.mark.parametrize(
    ("source", "name", "data"),
    [
        (
            "letterboxd",
            "ratings.csv",
            b"Date,Name,Year,Letterboxd URI,Rating\n"
            b"2021-01-01,Alien,1979,u,4.3\n2021-01-01,Heat,1995,u,4.5\n"
            b"2021-01-01,Ran,1985,u,nan\n2021-01-01,Jaws,1975,u,6\n",
        ),
        (
            "imdb",
            "ratings.csv",
            b"Const,Your Rating,Date Rated,Title,Year\ntt0000001,7.3,2020-01-01,Alien,1979\n"
            b"tt0000002,9,2020-01-01,Heat,1995\ntt0000003,0,2020-01-01,Ran,1985\n"
            b"tt0000004,inf,2020-01-01,Jaws,1975\n",
        ),
        (
            "trakt",
            "ratings.json",
            b'[{"rated_at": "2020-01-01T00:00:00Z", "type": "movie", "rating": 7.5,'
            b' "movie": {"title": "Alien"}},'
            b' {"rated_at": "2020-01-01T00:00:00Z", "type": "movie", "rating": 9,'
            b' "movie": {"title": "Heat", "ids": {"tmdb": true}}},'
            b' {"rated_at": "2020-01-01T00:00:00Z", "type": "movie", "rating": true,'
            b' "movie": {"title": "Ran"}},'
            b' {"rated_at": "2020-01-01T00:00:00Z", "type": "movie", "rating": 11,'
            b' "movie": {"title": "Jaws"}}]',
        ),
    ],
)
def test_a_score_off_its_sites_scale_is_a_row_with_the_reason(
    source: str, name: str, data: bytes
) -> None:
    """Never a score off this API's grid (4.3 stars is not 8.6), nor a row left out unsaid: the
    row comes with why it cannot be brought over, which the import reports as unmatched."""
    rows = read(source, name, data)  # type: ignore[arg-type]
    assert [(r.title, r.score) for r in rows] == [
        ("Alien", None),
        ("Heat", 9.0),
        ("Ran", None),
        ("Jaws", None),
    ]
    assert all(r.unusable and "is not" in r.unusable for r in rows if r.score is None)
    assert rows[1].unusable is None and rows[1].tmdb_id is None  # true is not an id
