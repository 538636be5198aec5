"""What a service process holds for its lifetime: settings, database, Redis, bus and relay."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import Engine

from shared.bus import EventBus
from shared.config import DatabaseSettings, PlatformSettings
from shared.db import make_engine, ping
from shared.events import IntegrationEvent
from shared.metrics import declare_event_metrics
from shared.outbox import OutboxRelay
from shared.redis import make_redis, warn_if_evicting

logger = logging.getLogger(__name__)
READINESS_TIMEOUT_S = 2.0

Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    settings: PlatformSettings
    redis: Redis  # caches: may lose anything
    security_redis: Redis  # the revocation copy and login throttling: never evicted
    engine: Engine | None = None
    bus: EventBus | None = None
    relay: OutboxRelay | None = None
    # Whether readiness waits for the security Redis (auth cannot work without it; the others
    # only need it for signed-in requests, and anonymous ones should go on without it).
    needs_security_redis: bool = False
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)

    async def start(self) -> None:
        await warn_if_evicting(self.security_redis)
        if self.bus is not None:
            self.bus.start()
        if self.relay is not None:
            self.relay.start()
        for hook in self.on_start:
            await hook(self)

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            try:
                await hook(self)
            except Exception:
                logger.warning("shutdown hook failed", exc_info=True)
        if self.relay is not None:
            await self.relay.stop()
        if self.bus is not None:
            await self.bus.close()
        await self.redis.aclose()
        await self.security_redis.aclose()
        if self.engine is not None:
            self.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: "ok" or what is wrong."""
        checks: dict[str, str] = {}
        if self.engine is not None:
            checks["database"] = await _check(asyncio.to_thread(ping, self.engine))
        checks["redis"] = await _check(self.redis.ping())
        if self.needs_security_redis:
            checks["security_redis"] = await _check(self.security_redis.ping())
        if self.bus is not None:
            checks["rabbitmq"] = "ok" if self.bus.is_connected else "not connected"
        return checks


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, READINESS_TIMEOUT_S)
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def build_runtime(
    settings: PlatformSettings,
    *,
    publishes: Iterable[type[IntegrationEvent]] = (),
    needs_security_redis: bool = False,
) -> Runtime:
    """Wire a service's dependencies from its settings; nothing connects until `start`.
    `publishes` names the events the service emits, so their counters exist from the start;
    the service subscribes its handlers to `runtime.bus` itself."""
    declare_event_metrics(publishes=[e.event_type for e in publishes], queue=None, consumes=())
    engine = None
    if isinstance(settings, DatabaseSettings):
        engine = make_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
    bus = EventBus(
        amqp_url=settings.amqp_url,
        namespace=settings.bus_namespace,
        producer=settings.service_name,
        max_retries=settings.bus_max_retries,
        retry_delay_ms=settings.bus_retry_delay_ms,
        queue_expires_ms=settings.bus_queue_expires_ms,
    )
    relay = None
    if engine is not None and isinstance(settings, DatabaseSettings):
        relay = OutboxRelay(
            engine=engine,
            bus=bus,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
    return Runtime(
        settings=settings,
        redis=make_redis(settings.redis_url),
        security_redis=make_redis(settings.security_redis_url),
        engine=engine,
        bus=bus,
        relay=relay,
        needs_security_redis=needs_security_redis,
    )
