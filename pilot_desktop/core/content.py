"""How a message's text is shown when the platform sent none (docs/pilot-status-api.md §2.8,
§7.8): under a PII mode the platform keeps ids and statuses but may send `content` empty or
leave it out. That is "content not retained", never an empty or broken message."""

from __future__ import annotations

NOT_RETAINED = "content not retained"


def shown_content(text: str | None, kind: str | None = None, pii_mode: str | None = None) -> str:
    """What a message said, never empty: its text or caption; a media kind without one as
    `[image]`; a text the platform left out or sent empty as "content not retained", with the
    number's PII mode when it is known and not the keep-all default."""
    if text is not None and text.strip():
        return text
    if kind and kind != "text":
        return f"[{kind}]"
    if pii_mode and pii_mode != "STORE_INDEFINITE":
        return f"{NOT_RETAINED} (PII mode {pii_mode})"
    return NOT_RETAINED
