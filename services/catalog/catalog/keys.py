"""The catalog's cache keys. Each names the upstream TMDb and its image server (switching
`TMDB_BASE_URL` or `TMDB_IMAGE_BASE_URL` starts from an empty cache instead of serving the
old upstream's answers or image URLs) and, where an answer depends on them, its language and
region."""

import hashlib

from catalog.locale import Locale

MAX_PAGE = 500  # TMDb serves pages 1 to 500 of a list; any of them may be cached


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class CacheKeys:
    def __init__(self, tmdb_base_url: str, image_base_url: str = "") -> None:
        named = f"{tmdb_base_url.rstrip('/').lower()} {image_base_url.rstrip('/').lower()}"
        upstream = digest(named)[:10]
        self.prefix = f"catalog:v3:{upstream}"
        self.locales = f"{self.prefix}:locales"  # the locale tags answers were cached in

    def trending(self, window: str, page: int, language: str) -> str:
        return f"{self.prefix}:trending:{window}:{language}:{page}"

    def movie(self, movie_id: int, locale: Locale) -> str:
        return f"{self.prefix}:movie:{movie_id}:{locale.tag}"

    def similar(self, movie_id: int, page: int, language: str) -> str:
        return f"{self.prefix}:similar:{movie_id}:{language}:{page}"

    def recommendations(self, movie_id: int, page: int, language: str) -> str:
        return f"{self.prefix}:recommendations:{movie_id}:{language}:{page}"

    def movie_list(self, name: str, page: int, locale: Locale) -> str:
        return f"{self.prefix}:list:{name}:{locale.tag}:{page}"

    def search(self, kind: str, query: str, page: int, language: str) -> str:
        return f"{self.prefix}:search:{kind}:{digest(query)}:{language}:{page}"

    def find_imdb(self, imdb_id: str) -> str:
        return f"{self.prefix}:find:imdb:{imdb_id}"

    def discover(self, canonical_query: str) -> str:
        return f"{self.prefix}:discover:{digest(canonical_query)}"

    def collection(self, collection_id: int, language: str) -> str:
        return f"{self.prefix}:collection:{collection_id}:{language}"

    def person(self, person_id: int, language: str) -> str:
        return f"{self.prefix}:person:{person_id}:{language}"

    def person_credits(self, person_id: int, language: str) -> str:
        return f"{self.prefix}:person-credits:{person_id}:{language}"

    def genres(self, language: str) -> str:
        return f"{self.prefix}:genres:{language}"

    def of_movie(self, movie_id: int, locales: list[Locale]) -> list[str]:
        """Every key holding this movie's own data (details, similar, recommendations): every
        page a route may have cached, so none outlives the movie's change (a thousand keys a
        language, for a DEL that is rare and cheap: a key that is not there costs nothing)."""
        languages = sorted({locale.language for locale in locales})
        return [
            *(self.movie(movie_id, locale) for locale in locales),
            *(
                key(movie_id, page, language)
                for key in (self.similar, self.recommendations)
                for language in languages
                for page in range(1, MAX_PAGE + 1)
            ),
        ]
