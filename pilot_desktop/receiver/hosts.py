"""Which `Host` values the receiver answers: a browser on this machine is not a client.

DNS rebinding makes a web page's own name (`evil.example`) resolve to 127.0.0.1, so the
browser sends requests to the receiver with `Host: evil.example[:port]`. The receiver
answers only names it knows: loopback names (`localhost`, `*.localhost`), the host it was
told to listen on, the configured public URL's host (read per request: it can change while
running), and, when listening on all interfaces, this machine's own names. Address literals
are accepted when they are loopback or the bound address, and any address when listening on
all interfaces: a literal address cannot be rebound to another machine, and a LAN client
reaches a wildcard listener by whichever address it has. A request without a `Host` header
(HTTP/1.0 tools) is no browser's and is let through.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names of the wildcard, not a bind


def host_name(header: str) -> str:
    """The name or address of a Host header, lower case, without port, brackets or final dot."""
    value = header.strip().lower()
    if value.startswith("["):  # [v6]:port
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


def machine_names() -> frozenset[str]:
    """This machine's own names, which LAN clients may use for a wildcard listener."""
    names = {socket.gethostname().lower()}
    names.add(f"{next(iter(names))}.local")
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn().lower())
    return frozenset(n.rstrip(".") for n in names if n)


class HostPolicy:
    def __init__(
        self,
        listen_host: str,
        public_url: Callable[[], str | None] = lambda: None,
        names: frozenset[str] | None = None,  # machine_names(), found beforehand off the loop
    ) -> None:
        self.public_url = public_url
        listen = host_name(listen_host) if listen_host not in WILDCARDS else ""
        self.wildcard = listen_host in WILDCARDS
        self.bound_address = _address(listen)
        self.names = {"localhost"}
        if listen and self.bound_address is None:
            self.names.add(listen)
        if self.wildcard:
            self.names |= machine_names() if names is None else names
        self._public: tuple[str | None, str | None] = (None, None)  # (URL, its host), cached
        self._allowed: set[str] = set()  # Host values already allowed

    def _public_host(self) -> str | None:
        url = self.public_url()
        if url != self._public[0]:
            host = urlsplit(url).hostname if url else None
            self._public = (url, host.rstrip(".").lower() if host else None)
            self._allowed.clear()
        return self._public[1]

    def allows(self, header: str | None) -> bool:
        if header is None:
            return True
        public = self._public_host()  # first: a change of the public URL empties the cache
        if header in self._allowed:
            return True
        if self._decide(header, public):
            if len(self._allowed) < 256:  # the few values real clients send, on the hot path
                self._allowed.add(header)
            return True
        return False

    def _decide(self, header: str, public: str | None) -> bool:
        name = host_name(header)
        if name in self.names or name.endswith(".localhost"):
            return True
        address = _address(name)
        if address is not None:
            return address.is_loopback or self.wildcard or address == self.bound_address
        return name == public
