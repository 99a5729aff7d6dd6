"""What the watch over the path from the platform to this receiver records (issue 16).

Writer items (through `writer.submit`, like the gap marks) and the rows read back:

- `ProbeMark` -> `probes`: one reachability probe through the public URL
  (services/reachability.py); `ProbeRow` read back.
- `TunnelMark` -> `tunnel` (one row): the tunnel this data folder runs, its public URL,
  process state and last output lines (services/tunnel.py); `TunnelRow`.
- `UrlMark` -> `public_urls`: a public URL seen, or a webhook registered at (moved to) one:
  the history of which URL was registered when; `UrlRow`.
- `DriftMark` -> `drift`: a finding of the drift audit opened (`finding_id` None: the writer
  answers its id, or the open finding's id when one with the same key is open) or resolved
  (`resolved_at`); `DriftRow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pilot_desktop.core.wire import compact_pickle


@compact_pickle
@dataclass(frozen=True, slots=True)
class ProbeMark:
    at: float
    public_url: str
    ok: bool
    latency_ms: float | None
    diagnosis: str
    sentence: str
    status: int | None = None
    trigger: str = "schedule"  # schedule | demand | url_change | repoint

    body = None  # the writer sizes items by their body


@compact_pickle
@dataclass(frozen=True, slots=True)
class TunnelMark:
    at: float
    mode: str
    public_url: str | None
    state: str  # off | starting | up | restarting | failed | stopped
    pid: int | None = None
    since: float | None = None
    error: str | None = None
    output: tuple[str, ...] = ()  # the last output lines, oldest first

    body = None


@compact_pickle
@dataclass(frozen=True, slots=True)
class UrlMark:
    at: float
    kind: str  # seen | registered | repoint_failed
    public_url: str | None
    source: str
    webhook_id: str | None = None
    number_id: str | None = None
    old_url: str | None = None
    detail: str | None = None

    body = None


@compact_pickle
@dataclass(frozen=True, slots=True)
class DriftMark:
    """Open a finding (`finding_id` None) or resolve one (`finding_id` and `resolved_at`)."""

    finding_id: int | None = None
    found_at: float | None = None
    kind: str = ""
    key: str = ""
    webhook_id: str | None = None
    number_id: str | None = None
    sentence: str = ""
    detail: str | None = None  # JSON
    resolved_at: float | None = None

    body = None


WatchItem = ProbeMark | TunnelMark | UrlMark | DriftMark
WATCH_ITEMS = (ProbeMark, TunnelMark, UrlMark, DriftMark)


def watch_bytes(item: WatchItem) -> int:
    """About what a queued watch item holds in memory."""
    texts = [getattr(item, name, None) for name in ("sentence", "detail", "error", "public_url", "old_url")]
    size = 512 + sum(len(t) for t in texts if isinstance(t, str))
    if isinstance(item, TunnelMark):
        size += sum(len(line) + 64 for line in item.output)
    return size


@dataclass(frozen=True, slots=True)
class ProbeRow:
    id: int
    at: float
    public_url: str
    ok: bool
    latency_ms: float | None
    diagnosis: str
    sentence: str
    status: int | None
    trigger: str


@dataclass(frozen=True, slots=True)
class TunnelRow:
    at: float
    mode: str
    public_url: str | None
    state: str
    pid: int | None
    since: float | None
    error: str | None
    output: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UrlRow:
    id: int
    at: float
    kind: str
    public_url: str | None
    source: str
    webhook_id: str | None
    number_id: str | None
    old_url: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class DriftRow:
    id: int
    found_at: float
    kind: str
    key: str
    webhook_id: str | None
    number_id: str | None
    sentence: str
    detail: dict[str, Any] | None
    resolved_at: float | None
