"""The addresses a listener bound to all interfaces is really reachable at.

`0.0.0.0` is not an address a client can use. For a wildcard listener this lists loopback
first, then this machine's own addresses: those its host name resolves to and the source
address of its default route (a connected UDP socket: the kernel picks it, no packet is
sent). Only the listener's family: asyncio binds `::` with IPV6_V6ONLY, so it answers no
IPv4 address (`0.0.0.0` no IPv6 one). It resolves names (it may block): call it off the
loop, once, at listen time. An address that appears or goes while running (VPN, DHCP) is
not followed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

from pilot_desktop.core.urls import http_base
from pilot_desktop.receiver.hosts import WILDCARDS

# Documentation addresses (RFC 5737, RFC 3849): connect() only picks a route, sends nothing.
_PROBES = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}


def _route_source(family: socket.AddressFamily) -> str | None:
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((_PROBES[family], 9))
        return str(s.getsockname()[0])
    return None


def machine_addresses(families: tuple[socket.AddressFamily, ...]) -> list[str]:
    """This machine's non-loopback, non-link-local addresses of `families`."""
    found: list[str] = []
    candidates: list[str] = []
    for family in families:
        with contextlib.suppress(OSError):
            infos = socket.getaddrinfo(socket.gethostname(), None, family, socket.SOCK_STREAM)
            candidates += [str(info[4][0]) for info in infos]
        if (source := _route_source(family)) is not None:
            candidates.append(source)
    for text in candidates:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        if str(address) not in found:
            found.append(str(address))
    return found


def listening_urls(host: str, port: int) -> list[str]:
    """`http://address:port` for each address a client can reach this listener at."""
    if host not in WILDCARDS:
        return [http_base(host, port)]
    families = {
        "::": (socket.AF_INET6,),
        "0.0.0.0": (socket.AF_INET,),  # noqa: S104 - naming the wildcard, not binding
    }.get(host, (socket.AF_INET, socket.AF_INET6))  # "": every family is bound
    return [http_base(host, port)] + [http_base(a, port) for a in machine_addresses(families)]
