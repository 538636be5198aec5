"""Whose language and region an answer is in: an explicit `?language=&region=` first, then the
signed-in user's preferences, then the client's Accept-Language, then en/US."""

import re
from dataclasses import dataclass

from catalog.bounded import Bounded

LANGUAGE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"
REGION_PATTERN = r"^[A-Z]{2}$"
_ACCEPT_TAG = re.compile(r"^([A-Za-z]{2})(?:-([A-Za-z]{2}))?$")
_PARSED_LIMIT = 512  # distinct Accept-Language values remembered (clients choose them)


@dataclass(frozen=True, slots=True)
class Locale:
    language: str  # ISO 639-1, lower case
    region: str  # ISO 3166-1 alpha-2, upper case

    @property
    def tag(self) -> str:
        return f"{self.language}-{self.region}"


DEFAULT_LOCALE = Locale("en", "US")


@dataclass(frozen=True, slots=True)
class Preferred:
    """What a request asks for, before the user's preferences are known."""

    language: str | None = None
    region: str | None = None

    def resolve(self, preferences: Locale | None, accepted: Locale | None) -> Locale:
        fallback = preferences or accepted or DEFAULT_LOCALE
        return Locale(self.language or fallback.language, self.region or fallback.region)


def explicit(language: str | None, region: str | None) -> Preferred:
    """`?language=fr` or `fr-CA` (its region used unless `region` is given) and `?region=`."""
    if language is not None and "-" in language:
        language, implied = language.split("-", 1)
        region = region or implied
    return Preferred(language=language, region=region)


_parsed: Bounded[str, Locale | None] = Bounded(_PARSED_LIMIT)


def accepted(header: str | None) -> Locale | None:
    """The first two-letter language of an Accept-Language header, by weight, with its region
    when the tag names one (else the default region); None when it names none."""
    if not header:
        return None
    if header in _parsed:
        return _parsed.get(header)
    found = _parse_accept_language(header)
    _parsed.put(header, found)
    return found


def _parse_accept_language(header: str) -> Locale | None:
    weighted: list[tuple[float, int, Locale]] = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        match = _ACCEPT_TAG.match(tag.strip())
        if match is None:
            continue
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue
        if weight <= 0:
            continue
        language, region = match.group(1).lower(), match.group(2)
        locale = Locale(language, region.upper() if region else DEFAULT_LOCALE.region)
        weighted.append((-weight, position, locale))
    return min(weighted)[2] if weighted else None
