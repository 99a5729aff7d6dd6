"""Identifiers in the formats the platform and its providers use (docs/pilot-status-api.md §1.5).

Every helper takes the `random.Random` to draw from, so a scenario stays reproducible.
The shapes copy resources/samples: `msg_`/`corr_`/`num_`/`call_` + a ULID, `cmm…` ids of
stored inbound messages, Meta `wamid.`/`wacid.` ids, hex ids on web (Evolution) numbers.
"""

from __future__ import annotations

import base64
from random import Random

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789ABCDEF"

# Area codes of large Brazilian cities, so phones read like the platform's customers.
BR_AREA_CODES = (11, 11, 11, 21, 21, 31, 41, 47, 48, 51, 61, 62, 71, 81, 85, 19, 27)


def ulid(prefix: str, rng: Random, epoch_ms: int) -> str:
    """`prefix` + a ULID: 10 chars of millisecond time, then 80 random bits (Crockford)."""
    value = (epoch_ms & (2**48 - 1)) << 80 | rng.getrandbits(80)
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return prefix + "".join(chars)


def stored_id(rng: Random) -> str:
    """Pilot Status id of a stored inbound message (cuid-like, e.g. `cmm04obm46zz…`)."""
    return "cm" + "".join(rng.choice(_BASE36) for _ in range(23))


def hex_id(rng: Random, length: int, prefix: str = "") -> str:
    return prefix + "".join(rng.choice(_HEX) for _ in range(length - len(prefix)))


def _meta_id(kind: str, phone: str, inner: str) -> str:
    # Meta's ids are base64 of a small Thrift-like record: the contact's digits, then
    # an inner hex id (decode the samples' wamid to see the same layout).
    digits = phone.lstrip("+").encode()
    raw = (
        b"\x1c\x18"
        + bytes([len(digits)])
        + digits
        + b"\x15\x02\x00\x11\x18"
        + bytes([len(inner)])
        + inner.encode()
        + b"\x00"
    )
    return f"{kind}.{base64.b64encode(raw).decode()}"


def wamid(rng: Random, contact_phone: str) -> str:
    """Meta Cloud API message id, e.g. `wamid.HBgNNTUyMTk5…`."""
    return _meta_id("wamid", contact_phone, hex_id(rng, 18, "3EB0"))


def wacid(rng: Random, contact_phone: str) -> str:
    """Meta Cloud API call id, e.g. `wacid.HBgNNTUyMTk5…`."""
    return _meta_id("wacid", contact_phone, hex_id(rng, 32))


def web_outbound_id(rng: Random) -> str:
    """Provider id of a message sent from a WhatsApp Web session (Evolution `key.id`)."""
    return hex_id(rng, 20, "3EB0")


def web_inbound_id(rng: Random) -> str:
    """Provider id of a message written on a phone: 32 hex (Android) or `3A…` (iPhone)."""
    return hex_id(rng, 32) if rng.random() < 0.6 else hex_id(rng, 20, "3A")


def br_mobile(rng: Random) -> str:
    """A Brazilian mobile number in E.164: +55, area code, 9, eight digits."""
    area = rng.choice(BR_AREA_CODES)
    return f"+55{area}9{rng.randint(6, 9)}{rng.randrange(10**7):07d}"


def group_jid(rng: Random) -> str:
    return f"120363{rng.randrange(10**12):012d}@g.us"


def newsletter_jid(rng: Random) -> str:
    return f"120363{rng.randrange(10**12):012d}@newsletter"
