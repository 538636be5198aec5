"""A list as a CSV in Letterboxd's list import format, safe to open in a spreadsheet: a public
list is anyone's to download, and its notes are its owner's words."""

import csv
import io

from library.user_lists import service as lists
from shared.catalog_models import MovieSummary

LETTERBOXD_LIST_HEADER = ("Position", "tmdbID", "Title", "Year", "Description")
# A cell a spreadsheet would take as a formula (OWASP's CSV injection): led by one of these.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"  # spreadsheets show the cell as text and hide the quote


def as_text_cell(value: str) -> str:
    """A cell no spreadsheet runs: one a formula could start with is led by a quote (the
    importer takes it off again, imports.formats.plain_cell)."""
    return FORMULA_GUARD + value if value.startswith(FORMULA_LEADS) else value


def letterboxd_csv(rows: list[lists.Item], movies: dict[int, MovieSummary]) -> str:
    """Rows in list order: Letterboxd's importer matches `tmdbID` first, then title and year,
    keeps the rows' order, and takes `Description` as the entry's note."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LETTERBOXD_LIST_HEADER)
    for row in rows:
        movie = movies.get(row.movie_id)
        if movie is None:  # hidden from this reader
            continue
        year = movie.release_date.year if movie.release_date else ""
        writer.writerow(
            (
                row.position,
                row.movie_id,
                as_text_cell(movie.title),
                year,
                as_text_cell(row.note or ""),
            )
        )
    return out.getvalue()
