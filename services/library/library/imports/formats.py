"""The files other sites export, read into rows this library can apply: Letterboxd's export
(.zip, or one of its CSVs), IMDb's ratings, watchlist and list CSVs, Trakt's export (.zip of
JSON files, or one of them). Each row is one thing to bring over (a rating, a viewing, a
watchlist entry, a liked film, a list's title) with what identifies its film (TMDb id, IMDb id,
or title and year) and its original date. A file that is not what its source says, or is too
big, is refused with a reason (FileRefused) before anything is stored.

What each source gives:
- Letterboxd: ratings.csv (stars x 2 on this API's scale), diary.csv and watched.csv
  (viewings: a rewatch is one more viewing, the latest kept), watchlist.csv, likes/films.csv
  (favorites), lists/*.csv (lists, in their order, with each entry's note); reviews.csv and
  the profile files are not imported. One CSV alone is known by its header, and by its file
  name where headers are alike (watched.csv, watchlist.csv, films.csv). Rows carry no TMDb
  id: titles and years are matched (catalog/matching.py). A list exported here (tmdbID
  column) reads back as a list.
- IMDb: ratings.csv (Const, Your Rating 1..10, Date Rated), the watchlist and list CSVs
  (Const, Position, Created, Description); ids go through TMDb's /find. Series and episodes
  are reported as not films.
- Trakt: ratings, history (watched_at), watched (last_watched_at), watchlist and list items
  (listed_at, notes), as Trakt's API and its exporters write them; items carry TMDb and IMDb
  ids. Shows and episodes are reported as not films.
"""

import csv
import io
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

import orjson

from library.user_lists.export import FORMULA_GUARD, FORMULA_LEADS
from shared.middleware import MAX_UPLOAD_FILE_BYTES
from shared.parsing import json_integer

Source = Literal["letterboxd", "imdb", "trakt"]
Kind = Literal["rating", "history", "watchlist", "favorite", "list"]
MAX_ROWS = 20_000
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024  # a zip may not expand past this (a zip bomb is refused)
MAX_ZIP_MEMBERS = 2_000


class FileRefused(Exception):
    """The upload is not what its source says, or too big: `status` and a reason for the user."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImportedList:
    name: str
    description: str | None = None


@dataclass(slots=True)
class Row:
    kind: Kind
    ref: str  # where it was: "ratings.csv:5"
    at: datetime | None = None
    title: str | None = None
    year: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None
    score: float | None = None  # this API's 0.5..10
    listed: ImportedList | None = None
    note: str | None = None
    not_a_film: str | None = None  # why it is not brought over (a series, an episode)
    unusable: str | None = None  # why it cannot be brought over as it is (a broken score)
    position: float | None = None  # a list's own order


def read(source: Source, filename: str, data: bytes) -> list[Row]:
    """The rows of an uploaded file, in file order; FileRefused when it cannot be read."""
    if len(data) > MAX_UPLOAD_FILE_BYTES:
        raise FileRefused(413, f"The file is larger than {MAX_UPLOAD_FILE_BYTES} bytes")
    if not data:
        raise FileRefused(422, "The file is empty")
    zipped = data[:4] == b"PK\x03\x04"
    files = _unzipped(data) if zipped else {filename or "upload": data}
    readers = {"letterboxd": _letterboxd, "imdb": _imdb, "trakt": _trakt}
    rows: list[Row] = []
    refused: list[FileRefused] = []
    for name, content in sorted(files.items()):
        try:
            rows += readers[source](name, content, zipped)
        except FileRefused as exc:
            if not zipped:
                raise
            refused.append(exc)  # a file of the archive this import does not know: skipped
        if len(rows) > MAX_ROWS:
            raise FileRefused(413, f"The file has more than {MAX_ROWS} rows")
    if not rows and refused:
        raise refused[0]
    if not rows and not any(_recognised(source, name) for name in files):
        raise FileRefused(422, f"Nothing in this file is a {source.capitalize()} export")
    return rows


def _unzipped(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise FileRefused(422, "The file is not a readable zip archive") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise FileRefused(422, f"The zip holds more than {MAX_ZIP_MEMBERS} files")
    if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
        raise FileRefused(413, f"The zip expands to more than {MAX_UNZIPPED_BYTES} bytes")
    files: dict[str, bytes] = {}
    left = MAX_UNZIPPED_BYTES
    for member in members:
        try:
            with archive.open(member) as opened:  # sizes in the header may lie: read at most
                content = opened.read(left + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
            raise FileRefused(422, f"{member.filename} in the zip cannot be read") from exc
        left -= len(content)
        if left < 0:
            raise FileRefused(413, f"The zip expands to more than {MAX_UNZIPPED_BYTES} bytes")
        files[member.filename] = content
    return files


def _recognised(source: Source, name: str) -> bool:
    """A file of the export that is known and has nothing to bring (an empty watchlist)."""
    base = PurePosixPath(name).name.lower()
    if source == "trakt":
        return base.endswith(".json")
    return base.endswith(".csv")


# --- CSV ----------------------------------------------------------------------------------
def _text(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # exports opened and saved again in a spreadsheet on Windows
            return content.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise FileRefused(422, f"{name} is not text in UTF-8") from exc


def _csv_rows(name: str, content: bytes) -> list[list[str]]:
    try:
        return [row for row in csv.reader(io.StringIO(_text(name, content), newline=""))]
    except csv.Error as exc:
        raise FileRefused(422, f"{name} is not a readable CSV: {exc}") from exc


def _records(
    name: str, lines: list[list[str]], start: int = 0
) -> Iterator[tuple[str, dict[str, str]]]:
    """Each data line after the header at `start` as {column: value}, with its reference."""
    header = [h.strip() for h in lines[start]]
    for number, values in enumerate(lines[start + 1 :], start=start + 2):
        if not any(v.strip() for v in values):
            continue
        yield f"{name}:{number}", dict(zip(header, (v.strip() for v in values), strict=False))


def _header(lines: list[list[str]], start: int = 0) -> set[str]:
    return {h.strip() for h in lines[start]} if len(lines) > start else set()


def _require(name: str, header: set[str], needed: set[str], what: str) -> None:
    if missing := needed - header:
        raise FileRefused(
            422, f"{name} is not {what}: it has no {', '.join(sorted(missing))} column"
        )


def _year(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value[:4]) if len(value) >= 4 and value[:4].isdigit() else None


def _when(value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        return None


def _number(value: str | None) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _whole(value: object, low: int, high: int) -> int | None:
    """`value` as a whole number from `low` to `high` (a JSON integer: not a bool, NaN or
    infinity), or None."""
    try:
        number = json_integer(value)
    except ValueError:
        return None
    assert isinstance(number, int)
    return number if low <= number <= high else None


def _off_scale(raw: object, scale: str) -> str:
    """Why a rating is not brought over: a score not on its site's scale is reported among the
    unmatched rows, never guessed at, nor left out unsaid."""
    return f"The score {str(raw)[:20]!r} is not {scale}"


# --- Letterboxd ---------------------------------------------------------------------------
_LB_FILM = {"Date", "Name", "Year"}
_LB_BY_FILE: dict[str, Kind] = {"watched.csv": "history", "watchlist.csv": "watchlist"}


def _letterboxd(name: str, content: bytes, in_zip: bool) -> list[Row]:
    path = PurePosixPath(name)
    base = path.name.lower()
    if not base.endswith(".csv"):
        return []
    lines = _csv_rows(name, content)
    if not lines:
        return []
    if lines[0] and lines[0][0].startswith("Letterboxd list export"):
        return _letterboxd_list(name, lines)
    header = _header(lines)
    if "Position" in header and ({"Name", "Title"} & header or "tmdbID" in header):
        return _plain_list(name, lines, ImportedList(path.stem))
    folder = path.parts[-2] if len(path.parts) > 1 else ""
    if in_zip and folder not in ("", "likes", "lists"):
        return []  # deleted/ and orphaned/ entries are not the user's any more
    if in_zip and folder == "lists":
        return _letterboxd_list(name, lines)
    if base in ("reviews.csv", "comments.csv", "profile.csv") or "Review" in header:
        return []  # not imported (README)
    _require(name, header, _LB_FILM, "a Letterboxd export CSV")
    if "Rating" in header and "Watched Date" not in header:  # ratings.csv, in half stars
        return [
            Row("rating", ref, at=_when(r["Date"]), title=r["Name"], year=_year(r["Year"]),
                score=score,
                unusable=None if score else _off_scale(raw, "0.5 to 5 stars in halves"))
            for ref, r in _records(name, lines)
            if (raw := (r.get("Rating") or "").strip())  # no rating given: nothing to bring
            for score in [_half_stars(raw)]
        ]  # fmt: skip
    if "Watched Date" in header:  # diary.csv: each entry a viewing
        return [
            Row("history", ref, at=_when(r["Watched Date"]) or _when(r["Date"]),
                title=r["Name"], year=_year(r["Year"]))
            for ref, r in _records(name, lines)
        ]  # fmt: skip
    kind: Kind | None = None if folder else _LB_BY_FILE.get(base)  # not deleted/ or likes/
    if base == "films.csv" and (not in_zip or folder == "likes"):
        kind = "favorite"
    if in_zip and kind is None:
        return []  # another file of the export (likes of lists, reviews...)
    if kind is None:
        raise FileRefused(
            422,
            f"{name}: a Letterboxd CSV with only Date, Name and Year is known by its file name "
            "(watched.csv, watchlist.csv or films.csv)",
        )
    return [
        Row(kind, ref, at=_when(r["Date"]), title=r["Name"], year=_year(r["Year"]))
        for ref, r in _records(name, lines)
    ]


def _half_stars(raw: str) -> float | None:
    stars = _number(raw)
    score = _whole(stars * 2, 1, 10) if stars is not None else None
    return float(score) if score is not None else None


def plain_cell(value: str) -> str:
    """A cell as it was before a list export guarded it against spreadsheets (a quote before
    what a formula could start with: user_lists.export.as_text_cell)."""
    guarded = value.startswith(FORMULA_GUARD) and value[1:].startswith(FORMULA_LEADS)
    return value[1:] if guarded else value


def _letterboxd_list(name: str, lines: list[list[str]]) -> list[Row]:
    """Letterboxd's list export: a title line, the list's own header and row (Name,
    Description), a blank line, then Position, Name, Year, URL, Description."""
    list_name, description = PurePosixPath(name).stem, None
    start = 0
    if lines[0] and lines[0][0].startswith("Letterboxd list export"):
        meta = dict(zip(lines[1], lines[2], strict=False)) if len(lines) > 2 else {}
        list_name = (meta.get("Name") or list_name).strip() or list_name
        description = (meta.get("Description") or "").strip() or None
        start = next(
            (i for i, row in enumerate(lines) if i > 2 and row and row[0].strip() == "Position"),
            len(lines),
        )
        if start == len(lines):
            return []
    return _plain_list(name, lines, ImportedList(list_name[:100], description), start)


def _plain_list(
    name: str, lines: list[list[str]], listed: ImportedList, start: int = 0
) -> list[Row]:
    header = _header(lines, start)
    if "tmdbID" not in header:
        _require(name, header, {"Position", "Name", "Year"}, "a Letterboxd list")
    rows = []
    for ref, r in _records(name, lines, start):
        tmdb_id = r.get("tmdbID", "")
        rows.append(
            Row("list", ref, title=plain_cell(r.get("Name") or r.get("Title") or "") or None,
                year=_year(r.get("Year")),
                tmdb_id=int(tmdb_id) if tmdb_id.isdigit() and int(tmdb_id) > 0 else None,
                listed=listed, note=plain_cell(r.get("Description") or "")[:500] or None,
                position=_number(r.get("Position")))
        )  # fmt: skip
    rows.sort(key=lambda row: row.position or 0)
    return rows


# --- IMDb ---------------------------------------------------------------------------------
_NOT_FILMS = ("series", "episode", "game", "podcast")


def _imdb(name: str, content: bytes, _: bool) -> list[Row]:
    base = PurePosixPath(name).name.lower()
    if not base.endswith(".csv") and not content[:200].lstrip(b"\xef\xbb\xbf").startswith(
        (b"Const", b"Position", b'"Const"', b'"Position"')
    ):
        raise FileRefused(415, f"{name} is not an IMDb CSV export")
    lines = _csv_rows(name, content)
    if not lines:
        return []
    header = _header(lines)
    _require(name, header, {"Const", "Title"}, "an IMDb export")
    if "Position" in header:  # the watchlist, or a list
        kind: Kind = "watchlist" if "watchlist" in base else "list"
        listed = None if kind == "watchlist" else ImportedList(PurePosixPath(name).stem[:100])
        return [
            _imdb_row(kind, ref, r, at=_when(r.get("Created")), listed=listed,
                      note=(r.get("Description") or "")[:500] or None)
            for ref, r in _records(name, lines)
        ]  # fmt: skip
    _require(name, header, {"Your Rating", "Date Rated"}, "IMDb's ratings export")
    rows = []
    for ref, r in _records(name, lines):
        raw = (r["Your Rating"] or "").strip()
        if raw:  # no rating given: nothing to bring
            score = _whole(_number(raw), 1, 10)
            rows.append(
                _imdb_row("rating", ref, r, at=_when(r["Date Rated"]),
                          score=float(score) if score else None,
                          unusable=None if score else _off_scale(raw, "a whole number, 1 to 10"))
            )  # fmt: skip
    return rows


def _imdb_row(kind: Kind, ref: str, r: dict[str, str], **values: Any) -> Row:
    const = r["Const"]
    title_type = r.get("Title Type", "")
    not_a_film = title_type if any(w in title_type.lower() for w in _NOT_FILMS) else None
    return Row(
        kind,
        ref,
        title=r.get("Title") or None,
        year=_year(r.get("Year")),
        imdb_id=const if const.startswith("tt") and const[2:].isdigit() else None,
        not_a_film=not_a_film,
        **values,
    )


# --- Trakt --------------------------------------------------------------------------------
def _trakt(name: str, content: bytes, _: bool) -> list[Row]:
    path = PurePosixPath(name)
    if path.suffix.lower() != ".json" and content.lstrip()[:1] not in (b"[", b"{"):
        raise FileRefused(415, f"{name} is not a Trakt export (JSON)")
    try:
        items = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise FileRefused(422, f"{name} is not JSON: {exc}") from exc
    if isinstance(items, dict) and isinstance(items.get("items"), list):  # a list with items
        about = items.get("description")
        named = ImportedList(
            str(items.get("name") or path.stem)[:100], about if isinstance(about, str) else None
        )
        return _trakt_items(name, items["items"], named)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FileRefused(422, f"{name} is not a Trakt export: it is not a list of items")
    listed: ImportedList | None = None
    if "watchlist" not in path.stem.lower() and items and "listed_at" in items[0]:
        listed = ImportedList(path.stem.removeprefix("lists-").removeprefix("list-")[:100])
    return _trakt_items(name, items, listed)


def _trakt_items(name: str, items: list[Any], listed: ImportedList | None) -> list[Row]:
    rows = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise FileRefused(422, f"{name} is not a Trakt export: item {number} is not an object")
        kind, at = _trakt_kind(name, number, item, listed)
        if kind is None:
            continue  # a list's description, a show's progress: nothing to bring
        what = item.get("type") or ("movie" if "movie" in item else None)
        movie: dict[str, Any] = item["movie"] if isinstance(item.get("movie"), dict) else {}
        ids: dict[str, Any] = movie["ids"] if isinstance(movie.get("ids"), dict) else {}
        tmdb_id, imdb_id = ids.get("tmdb"), ids.get("imdb")
        raw = item.get("rating") if kind == "rating" else None
        score = _whole(raw, 1, 10)
        off_scale = None if raw is None or score else _off_scale(raw, "a whole number, 1 to 10")
        rows.append(
            Row(kind, f"{name}:{number}", at=_when(at),
                title=movie.get("title") if isinstance(movie.get("title"), str) else None,
                year=movie.get("year") if isinstance(movie.get("year"), int) else None,
                tmdb_id=tmdb_id if type(tmdb_id) is int and tmdb_id > 0 else None,
                imdb_id=imdb_id if isinstance(imdb_id, str) and imdb_id.startswith("tt") else None,
                score=float(score) if score else None,
                unusable=off_scale,
                listed=listed, note=(item.get("notes") or None) if listed else None,
                not_a_film=None if what == "movie" else str(what or "not a film"))
        )  # fmt: skip
        if kind == "rating" and raw is None and rows[-1].not_a_film is None:
            raise FileRefused(422, f"{name} is not a Trakt export: item {number} has no rating")
    if items and not rows:  # a collection, a show's progress: refused alone, skipped in a zip
        raise FileRefused(
            422,
            f"{name} has nothing to bring over: none of its items is a rating, a viewing,"
            " a watchlist entry or a list item",
        )
    return rows


def _trakt_kind(
    name: str, number: int, item: dict[str, Any], listed: ImportedList | None
) -> tuple[Kind | None, str | None]:
    if "rated_at" in item:
        return "rating", item["rated_at"]
    if "watched_at" in item:
        return "history", item["watched_at"]
    if "last_watched_at" in item:
        return "history", item["last_watched_at"]
    if "listed_at" in item:
        return ("list" if listed else "watchlist"), item["listed_at"]
    if {"movie", "show", "episode", "season"} & set(item):
        return None, None
    raise FileRefused(422, f"{name} is not a Trakt export: item {number} is not one of Trakt's")
