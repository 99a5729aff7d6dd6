"""URLs of the local servers (the receiver, the sandbox)."""

from __future__ import annotations


def http_base(host: str, port: int) -> str:
    """`http://host:port` a client on this machine can use: a wildcard listen address is
    reached through loopback, and an IPv6 literal needs brackets."""
    if host in ("0.0.0.0", "::"):  # noqa: S104 - formatting a URL, not binding
        return f"http://127.0.0.1:{port}"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
