"""The gateway's client for whole answers (gateway/upstream.py), against scripted servers:
what it sends, the answers it reads, the connections it keeps, and how each failure shows."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.upstream import UpstreamBroken, UpstreamPool, UpstreamUnavailable
from tools.stack import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A server answering each request with the next of `answers` (bytes, or None to close
    the connection without answering); it records the requests and counts connections."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed_by_client = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer:
                    break
        except asyncio.IncompleteReadError:
            self.closed_by_client.set()
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[UpstreamPool]:
    port = free_port()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", port)
    pool = UpstreamPool(f"http://127.0.0.1:{port}", max_connections=4, connect_timeout_s=2)
    try:
        yield pool
    finally:
        await pool.close()
        listening.close()
        async with asyncio.timeout(5):
            await listening.wait_closed()


OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def test_requests_go_as_sent_on_one_kept_connection() -> None:
    server = Server([OK, OK, OK])
    async with serving(server) as pool:
        get = await pool.request("GET", b"/api/v1/x?a=1", [(b"x-user-id", b"u1")], b"", timeout_s=5)
        post = await pool.request("POST", b"/api/v1/y", [], b'{"a": 1}', timeout_s=5)
        empty = await pool.request("POST", b"/api/v1/z", [], b"", timeout_s=5)
    assert get.status == 200 and get.body == b"{}"
    assert get.headers == [(b"content-type", b"application/json"), (b"content-length", b"2")]
    assert post.body == empty.body == b"{}"
    assert server.connections == 1
    host = pool.host_header
    assert server.requests == [
        b"GET /api/v1/x?a=1 HTTP/1.1\r\nhost: " + host + b"\r\nx-user-id: u1\r\n\r\n",
        b"POST /api/v1/y HTTP/1.1\r\nhost: " + host + b'\r\ncontent-length: 8\r\n\r\n{"a": 1}',
        b"POST /api/v1/z HTTP/1.1\r\nhost: " + host + b"\r\ncontent-length: 0\r\n\r\n",
    ]


async def test_chunked_bodyless_and_close_ended_answers_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    )
    not_modified = b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n'
    to_the_end = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end"
    server = Server([chunked, not_modified, to_the_end, OK])
    async with serving(server) as pool:
        answers = [await pool.request("GET", b"/", [], b"", timeout_s=5) for _ in range(4)]
    assert [(a.status, a.body) for a in answers] == [
        (201, b"abc"),
        (304, b""),
        (200, b"until the end"),
        (200, b"{}"),
    ]
    assert server.connections == 2  # the one the service closed was not used again


async def test_an_idle_connection_the_service_closed_is_replaced_for_a_repeatable_method() -> None:
    server = Server([OK, None, OK, None])
    async with serving(server) as pool:
        await pool.request("GET", b"/", [], b"", timeout_s=5)
        # The service closes the kept connection as the next request arrives on it.
        assert (await pool.request("DELETE", b"/x", [], b"", timeout_s=5)).status == 200
        assert server.connections == 2
        with pytest.raises(UpstreamUnavailable):  # a POST might have been applied
            await pool.request("POST", b"/y", [], b"{}", timeout_s=5)
    assert len(server.requests) == 4


async def test_a_service_that_does_not_answer_times_out_and_its_connection_is_closed() -> None:
    server = Server([])

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(asyncio.IncompleteReadError):
            await reader.readexactly(1)  # until the client gives up
        server.closed_by_client.set()
        writer.close()

    server.handle = silent  # type: ignore[method-assign]
    async with serving(server) as pool:
        with pytest.raises(TimeoutError):
            await pool.request("GET", b"/", [], b"", timeout_s=0.2)
        async with asyncio.timeout(5):
            await server.closed_by_client.wait()
        assert pool._idle == []


async def test_a_caller_cancelled_mid_answer_closes_the_connection() -> None:
    server = Server([b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf"])
    async with serving(server) as pool:
        asking = asyncio.create_task(pool.request("GET", b"/", [], b"", timeout_s=5))
        await asyncio.sleep(0.1)
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        async with asyncio.timeout(5):
            await server.closed_by_client.wait()
        assert pool._idle == []


async def test_garbage_is_a_broken_answer_and_no_connection_an_unavailable_service() -> None:
    server = Server([b"this is not HTTP\r\n\r\n"])
    async with serving(server) as pool:
        with pytest.raises(UpstreamBroken):
            await pool.request("GET", b"/", [], b"", timeout_s=5)
    nobody = UpstreamPool(f"http://127.0.0.1:{free_port()}", max_connections=1, connect_timeout_s=2)
    with pytest.raises(UpstreamUnavailable):
        await nobody.request("GET", b"/", [], b"", timeout_s=5)


async def test_an_answer_cut_short_is_an_unavailable_service() -> None:
    server = Server([b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf", None])

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await writer.drain()
        writer.close()

    server.handle = cut  # type: ignore[method-assign]
    async with serving(server) as pool:
        with pytest.raises(UpstreamUnavailable):
            await pool.request("GET", b"/", [], b"", timeout_s=5)


async def test_new_connections_take_the_names_addresses_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = Server([OK] * 4), Server([OK] * 4)
    async with serving(first) as one, serving(second) as other:
        pool = UpstreamPool("http://replicas.test:8003", max_connections=4, connect_timeout_s=2)
        loop = asyncio.get_running_loop()

        async def two_replicas(host: str, port: int, **_: object) -> list[tuple]:  # type: ignore[type-arg]
            assert (host, port) == ("replicas.test", 8003)
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", one.port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", other.port)),
            ]

        monkeypatch.setattr(loop, "getaddrinfo", two_replicas)
        async with asyncio.timeout(5):
            await asyncio.gather(
                *(pool.request("GET", b"/", [], b"", timeout_s=5) for _ in range(4))
            )
        await pool.close()
    assert (first.connections, second.connections) == (2, 2)
