"""Webhook signature check: HMAC-SHA256, hex, over the raw body (docs/pilot-status-api.md §2.3)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pilot_desktop.core.wire import compact_pickle

HEADER = "x-pilot-status-signature"

# "reconstructed": not a delivery at all, a step read back from the REST API after a gap
# (services/catch_up.py); the events table keeps it apart from delivered webhooks.
Status = Literal["valid", "invalid", "unsigned", "unverified", "reconstructed"]


@compact_pickle
@dataclass(frozen=True, slots=True)
class Verdict:
    """`valid` names the secret that matched by position and fingerprint, never by value."""

    status: Status
    secret_index: int | None = None
    secret_fingerprint: str | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        if self.status == "valid":
            return f"valid (secret #{self.secret_index} {self.secret_fingerprint})"
        return self.status


def fingerprint(secret: str) -> str:
    """Short, non-reversible name for a secret, safe to store and show."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Sequence[str]) -> Verdict:
    if not secrets:
        if header:
            return Verdict("unverified", reason="signed, but no signing secret is configured")
        return Verdict("unsigned", reason="no signing secret is configured")
    if not header:
        return Verdict("invalid", reason=f"missing {HEADER} header")
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    # Bytes, not str: compare_digest raises on non-ASCII str and headers can hold anything.
    given_b = given.lower().encode("utf-8", "replace")
    matched: int | None = None
    for i, secret in enumerate(secrets, start=1):
        # Compare with every secret so timing does not reveal which one matched.
        if hmac.compare_digest(sign(body, secret).encode(), given_b) and matched is None:
            matched = i
    if matched is None:
        return Verdict("invalid", reason=f"{HEADER} does not match any configured signing secret")
    return Verdict("valid", matched, fingerprint(secrets[matched - 1]))
