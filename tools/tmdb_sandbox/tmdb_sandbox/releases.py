"""When and where each title can be watched, moving with the sandbox's clock: theatrical and
digital release dates per region, and the streaming services carrying it per region, which
come and go.

A film from the data's own years opens when it was first rated (a few days apart per region);
an older film opened on 1 January of its year. Dates are told on today's calendar: a date is
as far from today as the film's opening is from the clock, so as the clock walks on, release
dates move into the past. Streaming offers start some months after the opening and run in
cycles (on for a while, off for a while), each from a seeded generator, so the same clock gives
the same answer on every machine. Tests can make a title available now (`available_now`).
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tmdb_sandbox.data import Movie

DAY_S = 86_400.0
STREAMING = (8, 9, 337)  # Netflix, Amazon Prime Video, Disney Plus
STORES = (2, 3, 10)  # Apple TV, Google Play Movies, Amazon Video
THEATRICAL, DIGITAL = 3, 4  # TMDb's release types
KINDS = ("theatrical", "digital", "streaming")


def region_shift_s(region: str) -> float:
    """Each region sees films open a few days apart, as release dates differ by country."""
    return (sum(map(ord, region)) % 7) * DAY_S


def _rng(*seed: object) -> random.Random:
    return random.Random(repr(seed))


@dataclass(frozen=True, slots=True)
class _Offer:
    provider_id: int
    start_after_s: float  # after the opening
    period_s: float
    on_s: float  # of each period

    def carried(self, since_opening_s: float) -> bool:
        if since_opening_s < self.start_after_s:
            return False
        return (since_opening_s - self.start_after_s) % self.period_s < self.on_s


@dataclass
class Releases:
    first_rated: dict[int, float]
    data_time: Callable[[], float]
    now: Callable[[], float] = time.time
    # What tests made available now: (movie, region, kind) -> data time; streaming by provider.
    opened: dict[tuple[int, str, str], float] = field(default_factory=dict)
    streamed: dict[tuple[int, str], set[int]] = field(default_factory=dict)

    def opening_ts(self, movie: Movie, region: str) -> float:
        """The theatrical opening in the region, in data time."""
        first = self.first_rated.get(movie.id)
        if first is None or (movie.year and movie.year < datetime.fromtimestamp(first, UTC).year):
            year = movie.year or 1970
            first = datetime(year, 1, 1, tzinfo=UTC).timestamp()
        return min(
            first + region_shift_s(region),
            self.opened.get((movie.id, region, "theatrical"), float("inf")),
        )

    def digital_ts(self, movie: Movie, region: str) -> float:
        after_days = _rng("digital", movie.id, region).randint(45, 90)
        natural = self.opening_ts(movie, region) + after_days * DAY_S
        return min(natural, self.opened.get((movie.id, region, "digital"), float("inf")))

    def streaming(self, movie: Movie, region: str, *, offered: bool = True) -> list[int]:
        """The streaming services carrying the title in the region now (in a region where
        it is not `offered`, only those a test put it on)."""
        since_s = self.data_time() - self.opening_ts(movie, region)
        offers = _offers(movie.id, region) if offered else []
        carried = {offer.provider_id for offer in offers if offer.carried(since_s)}
        return sorted(carried | self.streamed.get((movie.id, region), set()))

    def digital_out(self, movie: Movie, region: str) -> bool:
        return self.digital_ts(movie, region) <= self.data_time()

    def calendar_date(self, data_ts: float) -> str:
        """A data time told on today's calendar (TMDb's release date format)."""
        real = self.now() + (data_ts - self.data_time())
        return datetime.fromtimestamp(real, UTC).strftime("%Y-%m-%dT00:00:00.000Z")

    def available_now(
        self, movie_id: int, region: str, kind: str, provider_id: int | None = None
    ) -> None:
        if kind == "streaming":
            assert provider_id is not None
            self.streamed.setdefault((movie_id, region), set()).add(provider_id)
        else:
            self.opened[(movie_id, region, kind)] = self.data_time()

    def clear(self) -> None:
        self.opened.clear()
        self.streamed.clear()


def _offers(movie_id: int, region: str) -> list[_Offer]:
    rng = _rng("streaming", movie_id, region)
    offers = []
    for provider_id in sorted(rng.sample(STREAMING, rng.randint(0, 2))):
        period_days = rng.randint(200, 420)
        offers.append(
            _Offer(
                provider_id=provider_id,
                start_after_s=rng.randint(60, 180) * DAY_S,
                period_s=period_days * DAY_S,
                on_s=rng.randint(100, period_days - 40) * DAY_S,
            )
        )
    return offers
