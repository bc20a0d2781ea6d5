"""The one rule for where a fetched link may lead, for input links and model results alike: never
to a private, loopback, link-local or reserved address, so that a link (or a compromised model
server's answer) cannot make a worker read from inside its own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket


class UnresolvedHost(Exception):
    """The host has no address (a typo, or DNS is down)."""


def private_address(host: str) -> bool:
    """Whether ``host`` (a name or an address) resolves to any address that is not public."""
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        raise UnresolvedHost(host) from None
    for address in found:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return True
    return False
