"""Which addresses webhook deliveries may go to. A user chooses the URL, so this server must
not become a way into the network it runs in: loopback, private, link-local (cloud metadata
at 169.254.169.254 among them), shared (carrier NAT), multicast, reserved and unspecified
addresses are refused, for IPv4 and IPv6 (an IPv4 address inside an IPv6 one, mapped, 6to4 or
NAT64, judged as IPv4), unless the operator allows them (`WEBHOOK_ALLOW_PRIVATE`, for tests
and a home server).

The rule is applied where the connection is made: the delivery client resolves each host
through `PublicResolver`, which keeps only the addresses the rule allows, so a name that
resolves to 127.0.0.1 is refused after resolution, a name that changes its answer between the
check and the request (DNS rebinding) is checked again, and every redirect hop is connected
the same way."""

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not the internet either
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: IPv4 behind a translator


class RefusedAddress(Exception):
    """A URL or address deliveries may not go to; the reason is for the user."""


def allowed(address: str, *, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address inside is judged as itself
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        ip = embedded or ip
    if allow_private:
        return not ip.is_unspecified and not ip.is_multicast
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
    )


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL as it will be called, or RefusedAddress: http(s), a host, no credentials, and
    when the host is an address, one the rule allows (names are checked when resolved)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedAddress("The URL cannot be read") from exc
    if parts.scheme not in ("http", "https"):
        raise RefusedAddress("Only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise RefusedAddress("The URL has no host")
    if parts.username or parts.password:
        raise RefusedAddress("The URL must not carry credentials; the signature proves the sender")
    if port == 0:
        raise RefusedAddress("The URL's port cannot be 0")
    try:
        parts.hostname.encode("idna")
    except UnicodeError as exc:
        raise RefusedAddress("The URL's host is not a valid name") from exc
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        local = parts.hostname.rstrip(".").lower() in ("localhost", "localhost.localdomain")
        if local and not allow_private:
            raise RefusedAddress("This server does not call its own host") from None
        return url
    if not allowed(str(literal), allow_private=allow_private):
        raise RefusedAddress("This server does not call private, loopback or link-local addresses")
    return url


async def check_host(host: str, *, allow_private: bool, timeout_s: float = 1.0) -> None:
    """RefusedAddress when the host is, or resolves only to, addresses deliveries may not go
    to (at creation, so the user hears of it then; deliveries check again when they connect).
    A name that does not resolve (yet), or not within `timeout_s`, is accepted: its
    deliveries fail and are retried until it does."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not allowed(str(literal), allow_private=allow_private):
            raise RefusedAddress(
                "This server does not call private, loopback or link-local addresses"
            )
        return
    resolver = DefaultResolver()
    try:
        found = await asyncio.wait_for(resolver.resolve(host, 0, socket.AF_UNSPEC), timeout_s)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return
    finally:
        await resolver.close()
    if not any(allowed(r["host"], allow_private=allow_private) for r in found):
        raise RefusedAddress(
            f"{host} resolves to an address this server does not call (private, loopback or "
            "link-local)"
        )


class PublicResolver(AbstractResolver):
    """aiohttp's resolver keeping only the addresses deliveries may go to."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner: AbstractResolver | None = None  # made in the event loop, when first used

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = DefaultResolver()
        try:
            found = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise RefusedAddress(f"{host} does not resolve") from exc
        kept = [r for r in found if allowed(r["host"], allow_private=self.allow_private)]
        if not kept:
            raise RefusedAddress(
                f"{host} resolves to an address this server does not call (private, loopback "
                "or link-local)"
            )
        return kept

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


def describe(error: BaseException) -> str:
    """A short reason for a delivery's log."""
    text: Any = str(error) or type(error).__name__
    return str(text)[:300]
