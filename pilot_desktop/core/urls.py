"""URLs of the local servers (the receiver, the sandbox), and the tunnel probe's protocol."""

from __future__ import annotations

import hashlib
import hmac


def http_base(host: str, port: int) -> str:
    """`http://host:port` a client on this machine can use: a wildcard listen address is
    reached through loopback of its family (a `::` listener is IPv6 only: asyncio sets
    IPV6_V6ONLY), and an IPv6 literal needs brackets."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - formatting a URL, not binding
        return f"http://127.0.0.1:{port}"
    if host == "::":
        return f"http://[::1]:{port}"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


# The tunnel probe (tunnel/probe.py): a GET on a hook URL with this header is answered by the
# receiver (receiver/app.py) with its identity and the nonce, and stored nowhere.
PROBE_HEADER = "x-pilot-desktop-probe"
PROBE_RECEIVER = "pilot-desktop"
UNKNOWN_TOKEN = "unknown hook token"  # noqa: S105 - the receiver's 404 reason, not a secret


def probe_proof(token: str, nonce: str) -> str:
    """What a receiver answers a probe nonce on /healthz: proof that it holds `token`, without
    the asker sending the token to whatever listens there (services/runtime.py)."""
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()
