"""What a service process holds for its lifetime: settings, database, Redis, bus and relay,
and the background tasks it runs; it starts them all and stops them all by one deadline."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Engine

from shared.bus import EventBus
from shared.config import DatabaseSettings, PlatformSettings
from shared.db import make_engine, ping
from shared.events import IntegrationEvent
from shared.lifecycle import Deadline, Tasks, log_abandoned, within
from shared.metrics import declare_event_metrics
from shared.outbox import OutboxRelay, RelayThread
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
    relay: OutboxRelay | RelayThread | None = None
    # Whether readiness waits for the security Redis (auth cannot work without it; the others
    # only need it for signed-in requests, and anonymous ones should go on without it).
    needs_security_redis: bool = False
    on_start: list[Hook] = field(default_factory=list)
    # Run at shutdown after the background tasks ended, last added first: release leases,
    # close clients. Each is given what is left of the deadline.
    on_stop: list[Hook] = field(default_factory=list)
    tasks: Tasks = field(default_factory=Tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> "asyncio.Task[Any]":
        """Run a background task for the process's lifetime; `stop` cancels it."""
        return self.tasks.spawn(coroutine, name=name)

    async def start(self) -> None:
        """Start the bus, the relay and the start hooks; if any of it fails, stop what was
        started before raising, so no task outlives a failed start."""
        try:
            await warn_if_evicting(self.security_redis)
            if self.bus is not None:
                self.bus.start()
            if self.relay is not None:
                self.relay.start()
            for hook in self.on_start:
                await hook(self)
        except BaseException:
            await asyncio.shield(self.stop())
            raise

    async def stop(self, timeout_s: float | None = None) -> list[str]:
        """Stop everything within `timeout_s` (the settings' lifespan share of the shutdown
        deadline): background tasks, then the stop hooks, the relay (its claimed rows are
        released), the bus, the clients. Returns what was abandoned at the deadline, and logs
        it; what is abandoned is picked up later (the relay's claims expire, the broker
        redelivers unacked messages)."""
        deadline = Deadline(self.settings.lifespan_shutdown_s if timeout_s is None else timeout_s)
        abandoned = [f"task {name}" for name in await self.tasks.stop(deadline.left() / 2)]
        for hook in reversed(self.on_stop):
            if not await within(hook(self), deadline.step(), what=hook.__name__):
                abandoned.append(f"stop hook {hook.__name__}")
        if self.relay is not None and not await self.relay.stop(deadline.step()):
            abandoned.append("outbox relay (its claims expire by themselves)")
        if self.bus is not None and not await self.bus.close(deadline.step()):
            abandoned.append("broker connection")
        for name, client in (("redis", self.redis), ("security redis", self.security_redis)):
            if not await within(client.aclose(), deadline.step(), what=f"{name} close"):
                abandoned.append(name)
        if self.engine is not None:
            self.engine.dispose()
        log_abandoned(abandoned)
        return abandoned

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
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            await probe
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def _bus(settings: PlatformSettings) -> EventBus:
    return EventBus(
        amqp_url=settings.amqp_url,
        namespace=settings.bus_namespace,
        producer=settings.service_name,
        max_retries=settings.bus_max_retries,
        retry_delay_ms=settings.bus_retry_delay_ms,
        queue_expires_ms=settings.bus_queue_expires_ms,
    )


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
    bus = _bus(settings)
    relay: OutboxRelay | RelayThread | None = None
    if engine is not None and isinstance(settings, DatabaseSettings):
        if settings.outbox_relay_thread:
            relay = RelayThread(
                engine=engine,
                make_bus=lambda: _bus(settings),
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
            )
        else:
            relay = OutboxRelay(
                engine=engine,
                bus=bus,
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
            )
    return Runtime(
        settings=settings,
        redis=make_redis(settings.cache_redis),
        security_redis=make_redis(settings.security_redis),
        engine=engine,
        bus=bus,
        relay=relay,
        needs_security_redis=needs_security_redis,
    )
