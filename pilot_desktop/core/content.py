"""How a message's text is shown when the platform sent none (docs/pilot-status-api.md §2.8,
§7.8): under a PII mode the platform keeps ids and statuses but may send `content` empty or
leave it out. That is "content not retained", never an empty or broken message."""

from __future__ import annotations

NOT_RETAINED = "content not retained"
# Kinds whose text is optional by nature: their absence is not a PII effect.
_NO_TEXT_KINDS = frozenset({"reaction", "sticker", "location", "contacts", "audio"})


def shown_content(text: str | None, kind: str | None = None, pii_mode: str | None = None) -> str:
    """The text to show for a message: its content, else why there is none."""
    if text is not None and text.strip():
        return text
    if kind in _NO_TEXT_KINDS:
        return f"({kind})"
    if pii_mode and pii_mode != "STORE_INDEFINITE":
        return f"{NOT_RETAINED} (PII mode {pii_mode})"
    return NOT_RETAINED
