"""MovieLens 100K as shipped inside the recbole wheel: extraction and loading.

The data is never committed: `make` downloads the wheel from PyPI into a git-ignored
directory and `python -m tmdb_sandbox extract WHEEL DIR` unpacks the three files used here.
"""

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_PREFIX = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")

# MovieLens genres as TMDb genre ids.
GENRE_NAMES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    36: "History",
    27: "Horror",
    10402: "Music",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    10770: "TV Movie",
    53: "Thriller",
    10752: "War",
    37: "Western",
}
MOVIELENS_GENRES = {
    "Action": (28,),
    "Adventure": (12,),
    "Animation": (16,),
    "Children's": (10751,),
    "Comedy": (35,),
    "Crime": (80,),
    "Documentary": (99,),
    "Drama": (18,),
    "Fantasy": (14,),
    "Film-Noir": (80, 9648),
    "Horror": (27,),
    "Musical": (10402,),
    "Mystery": (9648,),
    "Romance": (10749,),
    "Sci-Fi": (878,),
    "Thriller": (53,),
    "War": (10752,),
    "Western": (37,),
}
_UNKNOWN = {"", "unknown", "unkonwn"}  # the data spells it both ways
_ARTICLES = ("The", "A", "An", "Les", "La", "Le", "Il", "Das", "Der", "Die", "El")


@dataclass(frozen=True, slots=True)
class Movie:
    id: int
    title: str
    year: int | None
    genre_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Rating:
    user_id: int
    movie_id: int
    rating: float
    timestamp: float


def extract(wheel: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in FILES:
            (data_dir / name).write_bytes(archive.read(WHEEL_PREFIX + name))


def is_present(data_dir: Path) -> bool:
    return all((data_dir / name).is_file() for name in FILES)


def _display_title(raw: str) -> str:
    """MovieLens writes "Godfather, The"; TMDb writes "The Godfather"."""
    for article in _ARTICLES:
        suffix = f", {article}"
        if raw.endswith(suffix):
            return f"{article} {raw[: -len(suffix)]}"
    return raw


def _rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    try:  # recbole's copy is UTF-8 (MovieLens's own u.item was Latin-1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    with io.StringIO(text, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:]


def load_movies(data_dir: Path) -> dict[int, Movie]:
    movies = {}
    for row in _rows(data_dir / "ml-100k.item"):
        movie_id, title, year, genres = [*row, "", "", "", ""][:4]
        genre_ids: list[int] = []
        for name in genres.split():
            for genre_id in MOVIELENS_GENRES.get(name, ()):
                if genre_id not in genre_ids:
                    genre_ids.append(genre_id)
        movies[int(movie_id)] = Movie(
            id=int(movie_id),
            title=_display_title(title.strip())
            if title.strip() not in _UNKNOWN
            else "Unknown title",
            year=int(year) if year.strip().isdigit() else None,
            genre_ids=tuple(genre_ids),
        )
    return movies


def load_ratings(data_dir: Path) -> list[Rating]:
    return [
        Rating(int(user), int(item), float(rating), float(timestamp))
        for user, item, rating, timestamp in _rows(data_dir / "ml-100k.inter")
    ]
