"""TMDb v3 client: explicit timeouts, bounded retries, a circuit breaker and a rate limit.

Every payload is validated against its model before it leaves this module; anything that
does not validate is an upstream error, never data.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any, TypeVar

import httpx
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ValidationError

from catalog.config import CatalogSettings

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=BaseModel)

TMDB_REQUESTS = Counter(
    "tmdb_requests_total", "Calls to TMDb by endpoint and outcome", ["endpoint", "outcome"]
)
TMDB_ENDPOINTS = (
    "trending",
    "lists",
    "movie",
    "collection",
    "people",
    "search",
    "find",
    "discover",
    "similar",
    "recommendations",
    "genres",
)
TMDB_OUTCOMES = (
    "ok",
    "not_found",
    "auth_rejected",
    "timeout",
    "unreachable",
    "garbage",
    "rate_limited",
    "circuit_open",
)
for _endpoint in TMDB_ENDPOINTS:  # a series for each from start-up, for rate() and alerts
    for _outcome in TMDB_OUTCOMES:
        TMDB_REQUESTS.labels(_endpoint, _outcome)
CIRCUIT_STATE = Gauge("tmdb_circuit_state", "TMDb circuit breaker: 0 closed, 1 open, 2 half-open")
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF_S = 2.0
BASE_BACKOFF_S = 0.2


class TmdbError(Exception):
    """Base of every TMDb failure."""


class TmdbNotFound(TmdbError):
    """TMDb does not know the resource (HTTP 404 or status_code 34)."""


class TmdbUnavailable(TmdbError):
    """TMDb could not give a usable answer; `status` is what to tell clients (502/503/504)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class BreakerState(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """Opens after `failure_threshold` failures in a row; lets one trial call through after
    `cooldown_s`; closes again on a success."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0
        self.opened_at = 0.0
        self.state = BreakerState.CLOSED
        self._trial_in_flight = False

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.cooldown_s:
            self._set(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        self._trial_in_flight = False
        if self.state is not BreakerState.CLOSED:
            logger.info("TMDb circuit closed")
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        self._trial_in_flight = False
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            if self.state is not BreakerState.OPEN:
                logger.warning("TMDb circuit opened after %d failures", self.failures)
            self.opened_at = self.clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        self.state = state
        CIRCUIT_STATE.set(int(state))


class RateLimiter:
    """A token bucket: at most `rate_per_s` calls a second on average, bursts of one second."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.tokens = rate_per_s
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(
                    self.rate_per_s, self.tokens + (now - self.updated) * self.rate_per_s
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate_per_s)


def _retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _tmdb_status_code(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("status_code") if isinstance(body, dict) else None


class TmdbClient:
    def __init__(
        self, settings: CatalogSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        headers = {"Accept": "application/json"}
        self.params: dict[str, str] = {}
        if settings.tmdb_access_token is not None:
            headers["Authorization"] = f"Bearer {settings.tmdb_access_token.get_secret_value()}"
        elif settings.tmdb_api_key is not None:
            self.params["api_key"] = settings.tmdb_api_key.get_secret_value()
        self.http = httpx.AsyncClient(
            base_url=settings.tmdb_base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(
                connect=settings.tmdb_connect_timeout_s,
                read=settings.tmdb_read_timeout_s,
                write=settings.tmdb_read_timeout_s,
                pool=settings.tmdb_connect_timeout_s,
            ),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )
        self.breaker = CircuitBreaker(
            failure_threshold=settings.tmdb_breaker_failures,
            cooldown_s=settings.tmdb_breaker_cooldown_s,
        )
        self.limiter = RateLimiter(settings.tmdb_rate_limit_per_s)

    async def close(self) -> None:
        await self.http.aclose()

    async def get(
        self, endpoint: str, path: str, model: type[ModelT], params: dict[str, Any] | None = None
    ) -> ModelT:
        """GET `path` and validate it as `model`; raises TmdbNotFound or TmdbUnavailable."""
        deadline = time.monotonic() + self.settings.tmdb_retry_budget_s
        query = {**self.params, **(params or {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(endpoint, path, model, query)
            except _Retryable as retry:
                delay_s = retry.retry_after_s
                if delay_s is None:
                    delay_s = random.uniform(0, min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2**attempt))
                if (
                    attempt >= self.settings.tmdb_max_attempts
                    or time.monotonic() + delay_s >= deadline
                ):
                    raise retry.error from None
                await asyncio.sleep(delay_s)

    async def _attempt(
        self, endpoint: str, path: str, model: type[ModelT], query: dict[str, Any]
    ) -> ModelT:
        if not self.breaker.allow():
            TMDB_REQUESTS.labels(endpoint, "circuit_open").inc()
            raise TmdbUnavailable(503, "TMDb is failing; calls are paused for a moment")
        await self.limiter.acquire()
        try:
            response = await self.http.get(path, params=query)
        except httpx.TimeoutException as exc:
            self._failed(endpoint, "timeout")
            raise _Retryable(TmdbUnavailable(504, "TMDb did not answer in time")) from exc
        except httpx.TransportError as exc:
            self._failed(endpoint, "unreachable")
            raise _Retryable(TmdbUnavailable(503, "TMDb is unreachable")) from exc
        return self._handle(endpoint, response, model)

    def _handle(self, endpoint: str, response: httpx.Response, model: type[ModelT]) -> ModelT:
        status = response.status_code
        if status == 200:
            try:
                payload = model.model_validate_json(response.content)
            except ValidationError:
                self._failed(endpoint, "garbage")
                raise TmdbUnavailable(502, "TMDb sent a response that is not valid") from None
            self.breaker.record_success()
            TMDB_REQUESTS.labels(endpoint, "ok").inc()
            return payload
        tmdb_code = _tmdb_status_code(response)
        if status == 404 or tmdb_code == 34:
            self.breaker.record_success()
            TMDB_REQUESTS.labels(endpoint, "not_found").inc()
            raise TmdbNotFound(endpoint)
        if status == 401 or tmdb_code in (7, 10):
            TMDB_REQUESTS.labels(endpoint, "auth_rejected").inc()
            logger.error(
                "TMDb rejected the credentials (status_code %s): "
                "check TMDB_API_KEY or TMDB_ACCESS_TOKEN",
                tmdb_code,
            )
            raise TmdbUnavailable(
                503, "The movie database is not reachable with the configured key"
            )
        if status in RETRYABLE_STATUSES:
            outcome = "rate_limited" if status == 429 else f"http_{status}"
            self._failed(endpoint, outcome)
            raise _Retryable(
                TmdbUnavailable(
                    503 if status in (429, 503) else 502 if status == 502 else 504,
                    f"TMDb answered {status}",
                ),
                retry_after_s=_retry_after_s(response),
            )
        self._failed(endpoint, f"http_{status}")
        raise TmdbUnavailable(502, f"TMDb answered {status}")

    def _failed(self, endpoint: str, outcome: str) -> None:
        self.breaker.record_failure()
        TMDB_REQUESTS.labels(endpoint, outcome).inc()


class _Retryable(Exception):
    def __init__(self, error: TmdbUnavailable, retry_after_s: float | None = None) -> None:
        super().__init__(error.reason)
        self.error = error
        self.retry_after_s = retry_after_s
