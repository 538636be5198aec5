"""The services' Redis client on the real Redis: a dropped connection costs no request."""

import asyncio

from shared.redis import make_redis
from testsupport.infra import Infra


async def test_connections_dropped_by_the_server_are_retried(infra: Infra) -> None:
    client, admin = make_redis(infra.redis_url), make_redis(infra.redis_url)
    # Several pooled connections, as under load; then the server drops every one of them,
    # as a Redis restart or failover does.
    ids = await asyncio.gather(*(client.client_id() for _ in range(8)))
    assert len(set(ids)) > 1
    for client_id in set(ids):
        await admin.client_kill_filter(_id=client_id)
    # each stale connection fails once underneath and is reconnected: no error reaches us
    results = await asyncio.gather(*(client.get("no-such-key") for _ in range(8)))
    assert results == [None] * 8
    async with client.pipeline(transaction=False) as pipe:
        pipe.get("no-such-key")
        assert await pipe.execute() == [None]
    await client.aclose()
    await admin.aclose()
