"""The one rule for where a fetched link may lead, for input links, model results and callbacks
alike: never to an address that is not public (private, loopback, link-local, shared, reserved,
an IPv4 address mapped into IPv6), so that a link (or a compromised model server's answer)
cannot make a worker read from inside its own network (SSRF).

The rule is checked twice: on each link before it is requested (`private_address`, for a clear
error naming the link), and again when the connection is made (`GuardedBackend`), on the very
address connected to. A name that resolved to a public address for the first check and to
127.0.0.1 for the second (DNS rebinding) is refused there.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpcore


class UnresolvedHost(Exception):
    """The host has no address (a typo, or DNS is down)."""


def is_public(address: str) -> bool:
    """Whether an IP address is one of the public internet's."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolved(host: str, port: int | None = None) -> list[str]:
    try:
        return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port)))
    except (socket.gaierror, UnicodeError):
        raise UnresolvedHost(host) from None


def private_address(host: str) -> bool:
    """Whether ``host`` (a name or an address) resolves to any address that is not public."""
    return not all(is_public(address) for address in _resolved(host))


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that resolves each host itself, refuses it when any of its
    addresses is not public (unless the host is ``allowed``: the endpoint's own, or the user's
    opt-in list, "*" for any), and connects to the address it checked. TLS still verifies the
    host's name: httpcore sends it as SNI whatever address was dialled."""

    def __init__(
        self,
        allowed: Iterable[str] | Callable[[], Iterable[str]] = (),
        answer_within: float | None = None,
    ) -> None:
        # a callable is read at each connection (an opt-in list the environment holds)
        self._allowed = allowed
        self._answer_within = answer_within  # seconds for a whole answer, headers included
        self._inner = httpcore.SyncBackend()

    @property
    def allowed(self) -> frozenset[str]:
        hosts = self._allowed() if callable(self._allowed) else self._allowed
        return frozenset(host.lower() for host in hosts)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        allowed = self.allowed
        dialled = host
        if "*" not in allowed and host.lower() not in allowed:
            try:
                addresses = _resolved(host, port)
            except UnresolvedHost:
                raise httpcore.ConnectError(f"cannot find the host {host!r}") from None
            refused = [address for address in addresses if not is_public(address)]
            if refused:
                raise httpcore.ConnectError(
                    f"{host} leads to a private address ({refused[0]}) when connecting; refused"
                )
            dialled = addresses[0]
        stream = self._inner.connect_tcp(dialled, port, timeout, local_address, socket_options)
        return _Answered(stream, self._answer_within) if self._answer_within else stream

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Answered(httpcore.NetworkStream):
    """A connection whose every answer must arrive within ``seconds`` of its request: a read
    later than that since the last write fails. A server trickling a byte a second resets a
    per-read timeout forever, headers included."""

    def __init__(self, stream: httpcore.NetworkStream, seconds: float) -> None:
        self._stream, self._seconds = stream, seconds
        self._asked = time.monotonic()

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._asked = time.monotonic()
        self._stream.write(buffer, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        left = self._asked + self._seconds - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout(f"no whole answer within {self._seconds:.0f} s")
        return self._stream.read(max_bytes, min(timeout, left) if timeout else left)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _Answered(tls, self._seconds)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def guarded(
    transport: Any,
    allowed: Iterable[str] | Callable[[], Iterable[str]] = (),
    answer_within: float | None = None,
) -> Any:
    """An httpx.HTTPTransport that makes its connections through `GuardedBackend`. Without a
    proxy only: through one, the proxy resolves the target, and the check before each request
    is the rule."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and not isinstance(
        pool, httpcore.HTTPProxy | httpcore.SOCKSProxy
    ):
        # httpcore has no public setter
        pool._network_backend = GuardedBackend(allowed, answer_within)
    return transport


def guarded_client(
    allowed: Iterable[str] | Callable[[], Iterable[str]] = (),
    answer_within: float | None = None,
    **options: Any,
) -> Any:
    """An httpx.Client whose direct connections keep to the rule (`GuardedBackend`); the
    environment's proxies, where it names one for a link, are used as httpx uses them."""
    import httpx

    client = httpx.Client(**options)
    guarded(client._transport, allowed, answer_within)  # the transport of links no proxy takes
    return client
