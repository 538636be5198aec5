"""Generated images at TMDb's image paths (`/t/p/{size}/{file}`), so posters, backdrops,
profile pictures and provider logos load offline: SVG, drawn from the title, year and genres
(a colour per first genre), or a person's or provider's name."""

import html

from tmdb_sandbox import generated
from tmdb_sandbox.data import GENRE_NAMES, Movie

GENRE_COLOURS = {
    28: ("#8e1b1b", "#e0533d"), 12: ("#7a4a00", "#e8a33d"), 16: ("#1b5e8e", "#53b7e0"),
    35: ("#8e7a1b", "#f2d64b"), 80: ("#2b2b2b", "#6b6b6b"), 99: ("#3d5a40", "#8fb996"),
    18: ("#4a2b5e", "#a071c4"), 10751: ("#1b8e5a", "#5fe0a3"), 14: ("#3b1b8e", "#8d6bf0"),
    36: ("#5e4a2b", "#c4a071"), 27: ("#1a0000", "#7a0c0c"), 10402: ("#8e1b6b", "#e05fb7"),
    9648: ("#1b2b5e", "#4f6bc4"), 10749: ("#8e1b3d", "#f0728f"), 878: ("#0b3b4a", "#27b3c9"),
    10770: ("#444444", "#999999"), 53: ("#2b3d1b", "#7a9e4f"), 10752: ("#3d3d2b", "#8c8c5e"),
    37: ("#6b3d1b", "#c98a4f"),
}  # fmt: skip
PLAIN = ("#263238", "#607d8b")


def _lines(text: str, width: int) -> list[str]:
    """Words wrapped to about `width` characters a line, at most four lines."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines[:4]


def _svg(width: int, height: int, colours: tuple[str, str], body: str, label: str) -> bytes:
    dark, light = colours
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{light}"/><stop offset="1" stop-color="{dark}"/>'
        f"</linearGradient></defs>"
        f'<rect width="100%" height="100%" fill="url(#g)"/>{body}</svg>'
    ).encode()


def _text(x: int, y: int, size: int, text: str, weight: str = "700") -> str:
    return (
        f'<text x="{x}" y="{y}" font-family="Georgia, serif" font-size="{size}" '
        f'font-weight="{weight}" fill="#fff" text-anchor="middle">{html.escape(text)}</text>'
    )


def poster(movie: Movie) -> bytes:
    colours = GENRE_COLOURS.get(movie.genre_ids[0], PLAIN) if movie.genre_ids else PLAIN
    lines = _lines(movie.title, 16)
    top = 330 - 30 * len(lines)
    body = "".join(_text(250, top + 64 * i, 52, line) for i, line in enumerate(lines))
    if movie.year:
        body += _text(250, 620, 40, str(movie.year), "400")
    genres = " · ".join(GENRE_NAMES[g] for g in movie.genre_ids[:2])
    body += _text(250, 690, 26, genres.upper(), "400")
    return _svg(500, 750, colours, body, f"Poster of {movie.title}")


def backdrop(movie: Movie) -> bytes:
    colours = GENRE_COLOURS.get(movie.genre_ids[-1], PLAIN) if movie.genre_ids else PLAIN
    body = _text(640, 380, 64, " ".join(_lines(movie.title, 60)[:1]))
    return _svg(1280, 720, colours, body, f"Backdrop of {movie.title}")


def portrait(person_id: int) -> bytes | None:
    found = generated.person(person_id)
    if found is None:
        return None
    initials = "".join(part[0] for part in found.name.split()[:2])
    body = '<circle cx="150" cy="170" r="90" fill="#ffffff33"/>' + _text(150, 200, 80, initials)
    body += _text(150, 380, 30, found.name, "400")
    return _svg(300, 450, PLAIN, body, f"Portrait of {found.name}")


def logo(provider_id: int) -> bytes | None:
    name = generated.PROVIDERS.get(provider_id)
    if name is None:
        return None
    initials = "".join(part[0] for part in name.split()[:2])
    return _svg(92, 92, ("#101820", "#37474f"), _text(46, 60, 36, initials), f"{name} logo")


def image(file_name: str, movies: dict[int, Movie]) -> bytes | None:
    """The image a TMDb-style file name names (`sandbox-poster-1.svg`), or None."""
    kind, _, rest = file_name.removeprefix("sandbox-").rpartition("-")
    number = rest.removesuffix(".svg")
    if not number.isdigit() or not rest.endswith(".svg"):
        return None
    item = int(number)
    if kind in ("poster", "backdrop"):
        movie = movies.get(item)
        if movie is None:
            return None
        return poster(movie) if kind == "poster" else backdrop(movie)
    if kind == "person":
        return portrait(item)
    return logo(item) if kind == "provider" else None
