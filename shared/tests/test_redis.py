"""The services' Redis client on the real Redis: a dropped connection costs no request, and a
Redis found through Sentinel follows a failover."""

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from shared.config import RedisTarget
from shared.redis import make_redis, make_sync_redis
from testsupport.infra import Infra
from tools.stack import free_port


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


# --- a Redis found through Sentinel follows a failover -----------------------------------------
MASTER = "movies-test"


class _Servers:
    """A primary, its replica and one Sentinel (quorum 1), each a redis-server of its own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = {name: free_port() for name in ("primary", "replica", "sentinel")}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        primary, replica = self.ports["primary"], self.ports["replica"]
        self._run("primary", "--port", str(primary))
        self._run("replica", "--port", str(replica), "--replicaof", "127.0.0.1", str(primary))
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.ports['sentinel']}\nbind 127.0.0.1\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
        self._run("sentinel", str(config), "--sentinel")
        self._until_the_replica_is_known(timeout_s=30)

    def _until_the_replica_is_known(self, timeout_s: float) -> None:
        """In sync with the primary, and known to the Sentinel (it asks the primary every
        10 s): only then can it be promoted."""
        primary = SyncRedis(port=self.ports["primary"])
        sentinel = SyncRedis(port=self.ports["sentinel"], decode_responses=True)
        deadline = time.monotonic() + timeout_s
        while True:
            synced = primary.info("replication").get("slave0", {}).get("state") == "online"
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER)
            known = any("s_down" not in str(replica) for replica in replicas)
            if synced and known:
                break
            assert time.monotonic() < deadline, "the replica never joined"
            time.sleep(0.2)
        primary.close()
        sentinel.close()

    def _run(self, name: str, *arguments: str) -> None:
        self.processes[name] = subprocess.Popen(
            ["redis-server", *arguments, "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / f"{name}.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _answers(self.ports[name]):
            assert time.monotonic() < deadline, f"{name} redis-server did not start"
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        self.processes[name].kill()
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[_Servers]:
    found = _Servers(tmp_path)
    found.start()
    yield found
    found.stop()


@pytest.mark.timeout(60)
async def test_a_redis_found_through_sentinel_follows_a_failover(servers: _Servers) -> None:
    target = RedisTarget.of("redis://ignored:1/3", f"127.0.0.1:{servers.ports['sentinel']}", MASTER)
    client, blocking = make_redis(target), make_sync_redis(target)
    try:
        await client.set("before", "1")
        assert await client.execute_command("WAIT", 1, 1500) == 1  # the replica has it
        assert blocking.get("before") == b"1"  # the same primary, database 3
        assert (await client.connection_pool.get_master_address())[1] == servers.ports["primary"]
        servers.kill("primary")
        written_at = None
        deadline = time.monotonic() + 40
        while written_at is None:  # failing (503 for a request) until the replica is promoted
            assert time.monotonic() < deadline, "no write reached the promoted replica"
            try:
                await client.set("after", "2")
                written_at = time.monotonic()
            except (ConnectionError, RedisError):
                await asyncio.sleep(0.2)
        address = await client.connection_pool.get_master_address()
        assert address[1] == servers.ports["replica"]
        assert await client.get("before") == b"1"  # replicated before the primary died
        assert blocking.get("after") == b"2"  # the blocking client follows too
    finally:
        await client.aclose()
        blocking.close()


def test_sentinel_addresses_are_read_from_the_settings() -> None:
    target = RedisTarget.of("redis://u:p%40ss@x:1/2", "a:26379, [::1]:26380", "cache")
    assert target.sentinels == (("a", 26379), ("::1", 26380)) and target.master == "cache"
    assert RedisTarget.of("redis://h:1/0", None, "cache").sentinels == ()
    with pytest.raises(ValueError, match="host:port"):
        RedisTarget.of("redis://h:1/0", "nowhere", "cache")
