"""A deterministic simulation of a Pilot Status account: the webhooks its numbers would emit.

A discrete-event simulation in integer milliseconds of scenario time (`Scheduler`). Each
number runs three independent processes (connection, health, organic traffic: `processes`)
and each outbound message its own lifecycle (QUEUED → SENT → DELIVERED → READ, or FAILED:
`lifecycle`). Shapes follow docs/pilot-status-api.md §1; latencies and shares are plausible
guesses, named in one place (`content`, whose settings are importable from here too).

Reproducibility: every process draws from its own `random.Random` seeded from the
scenario seed and a stable name (a number id, a message id), never from the wall clock.
So the output depends only on the seed and the calls, not on how `next_batch` calls are
sliced, and a `send()` does not disturb the organic traffic of the other numbers.

Not modelled: template/media sends, history replay after a reconnect, number.removed /
restored, lead.received, outbound calls, and native Evolution or raw Meta call events.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import TYPE_CHECKING, Any

from pilot_desktop.core.catalogue import PROVIDERS
from pilot_desktop.sandbox import ids
from pilot_desktop.sandbox.content import (
    ACTIVITY_MIX,
    CALL_DURATION,
    CHANNELS,
    CONFIRM_WINDOW,
    CONNECT_AFTER,
    DELIVERED_AFTER,
    EMISSIONS_PER,
    EPOCH,
    FLAP_CYCLES,
    FLAP_DOWN,
    FLAP_SHARE,
    FLAP_UP,
    HEALTH_EPISODE_MEAN,
    HEALTH_STAGE,
    INVALID_DESTINATION_SHARE,
    META_RATE_LIMITED_SHARE,
    META_WINDOW_CLOSED_SHARE,
    NEVER_CONFIRMED,
    NOT_ON_WHATSAPP_SHARE,
    OFFLINE_DELIVERY,
    OFFLINE_SHARE,
    QUEUE_TIMEOUT,
    READ_AFTER,
    READ_SHARE,
    RECEIPTS_OFF_SHARE,
    REPLY_AFTER,
    REPLY_SHARE,
    SENT_AFTER,
    STORES,
    UNDOCUMENTED_ERROR_CODES,
    UPTIME_MEAN,
)
from pilot_desktop.sandbox.lifecycle import MessageRecord, Messages
from pilot_desktop.sandbox.processes import NumberProcesses, make_contact

if TYPE_CHECKING:
    from pilot_desktop.sandbox.processes import Contact

__all__ = [  # the scenario's API, and its settings (defined in `content`, importable from here)
    "ACTIVITY_MIX",
    "CALL_DURATION",
    "CONFIRM_WINDOW",
    "CONNECT_AFTER",
    "DELIVERED_AFTER",
    "EMISSIONS_PER",
    "EPOCH",
    "FLAP_CYCLES",
    "FLAP_DOWN",
    "FLAP_SHARE",
    "FLAP_UP",
    "HEALTH_EPISODE_MEAN",
    "HEALTH_STAGE",
    "INVALID_DESTINATION_SHARE",
    "META_RATE_LIMITED_SHARE",
    "META_WINDOW_CLOSED_SHARE",
    "NEVER_CONFIRMED",
    "NOT_ON_WHATSAPP_SHARE",
    "OFFLINE_DELIVERY",
    "OFFLINE_SHARE",
    "PROVIDERS",
    "QUEUE_TIMEOUT",
    "READ_AFTER",
    "READ_SHARE",
    "RECEIPTS_OFF_SHARE",
    "REPLY_AFTER",
    "REPLY_SHARE",
    "SENT_AFTER",
    "UNDOCUMENTED_ERROR_CODES",
    "UPTIME_MEAN",
    "Emission",
    "MessageRecord",
    "SandboxNumber",
    "Scenario",
    "make_numbers",
]


@dataclass(frozen=True)
class SandboxNumber:
    id: str  # opaque, e.g. "num_01J…"
    phone: str  # E.164 with '+'
    name: str  # display name
    provider: str  # "PILOT_STATUS" or "META"


@dataclass(frozen=True)
class Emission:
    at: float  # scenario seconds since start
    number_id: str
    event: str
    body: dict[str, Any]  # the webhook body exactly as delivered


def make_numbers(seed: int, count: int) -> list[SandboxNumber]:
    """`count` numbers of one tenant: store names, BR phones, web numbers and a few Meta."""
    rng = Random(f"{seed}:numbers")
    names = rng.sample(STORES, len(STORES))
    out: list[SandboxNumber] = []
    phones: set[str] = set()
    for i in range(count):
        name = names[i % len(names)]
        if i >= len(names):  # more numbers than stores: branches of the same chains
            name = f"{name} · Filial {i // len(names) + 1}"
        phone = ids.br_mobile(rng)
        while phone in phones:
            phone = ids.br_mobile(rng)
        phones.add(phone)
        # The first two fix the mix (one of each); after that about a third are Meta.
        provider = PROVIDERS[i] if i < 2 else ("META" if rng.random() < 0.35 else "PILOT_STATUS")
        created_ms = _epoch_ms(EPOCH) - rng.randrange(86_400_000, 400 * 86_400_000)  # months ago
        out.append(SandboxNumber(ids.ulid("num_", rng, created_ms), phone, name, provider))
    return out


def _emissions_per_activity(provider: str) -> float:
    return sum(w * EMISSIONS_PER.get(kind, 1.0) for kind, w in ACTIVITY_MIX[provider])


def _epoch_ms(when: datetime) -> int:
    if when.tzinfo is None:  # a naive start is taken as UTC, like the platform's timestamps
        when = when.replace(tzinfo=UTC)
    return round(when.timestamp() * 1000)


@dataclass(eq=False)
class Line:
    """A number's mutable state and its private random streams."""

    number: SandboxNumber
    profile: str
    activity_per_ms: float
    mix: tuple[tuple[str, ...], tuple[float, ...]]  # activity kinds, cumulative weights
    traffic: Random
    life: Random
    health_rng: Random
    drain: Random  # its own stream: how much waited must not shift the connection process
    contacts: list[Contact]
    reachable: list[Contact]
    groups: list[tuple[str, str]]
    channels: list[tuple[str, str, str]]  # id, name, the owner's phone (the sender)
    state: str = "CONNECTING"
    health: str = "healthy"
    flaps_left: int = 0
    held: list[Action] = field(default_factory=list)
    last_inbound: dict[str, int] = field(default_factory=dict)  # contact phone → ms


def _new_line(seed: int, number: SandboxNumber, activity_per_ms: float) -> Line:
    rng = Random(f"{seed}:book:{number.id}")
    contacts = [make_contact(seed, ids.br_mobile(rng), rng) for _ in range(rng.randint(30, 80))]
    groups = [(ids.group_jid(rng), name) for name in (f"Equipe {number.name}", "Fornecedores")]
    channels = [(ids.newsletter_jid(rng), name, ids.br_mobile(rng)) for name in rng.sample(CHANNELS, 2)]
    kinds, weights = zip(*ACTIVITY_MIX[number.provider], strict=True)
    return Line(
        number=number,
        profile=f"{number.name} | Atendimento",
        activity_per_ms=activity_per_ms,
        mix=(kinds, tuple(itertools.accumulate(weights))),
        traffic=Random(f"{seed}:traffic:{number.id}"),
        life=Random(f"{seed}:life:{number.id}"),
        health_rng=Random(f"{seed}:health:{number.id}"),
        drain=Random(f"{seed}:drain:{number.id}"),
        contacts=contacts,
        reachable=[c for c in contacts if c.on_whatsapp] or contacts,
        groups=groups,
        channels=channels,
    )


Action = Callable[[], None]


class Scheduler:
    """Scenario time in integer ms: actions on a heap, run in (time, sequence) order.

    An action scheduled `hold_for` a number runs only while that number is OPEN; until
    then it waits in the number's `held` list, replayed when it connects again.
    """

    def __init__(self, start_ms: int) -> None:
        self.start_ms = start_ms  # wall time of scenario ms 0, in Unix ms
        self._start = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=start_ms)
        self._heap: list[tuple[int, int, Line | None, Action]] = []
        self._seq = 0
        self.now = 0  # ms of the action running, or just past the last `until` between calls
        self._out: list[Emission] = []

    def run_until(self, until: float) -> list[Emission]:
        """Run every action due at or before scenario second `until`; what they emitted."""
        out: list[Emission] = []
        self._out = out
        heap = self._heap
        while heap and heap[0][0] / 1000 <= until:
            ms, _, hold_for, action = heapq.heappop(heap)
            self.now = ms
            if hold_for is not None and hold_for.state != "OPEN":
                hold_for.held.append(action)  # runs when the number is back (see processes)
            else:
                action()
        # From now on, anything new is scheduled after what has been returned.
        self.now = max(self.now, math.floor(until * 1000) + 1)
        return out

    def at(self, ms: int, action: Action, hold_for: Line | None = None) -> None:
        """Run `action` at `ms`; with `hold_for`, only while that number is OPEN."""
        heapq.heappush(self._heap, (max(ms, self.now), self._seq, hold_for, action))
        self._seq += 1

    def iso(self, ms: int) -> str:
        t = self._start + timedelta(milliseconds=ms)
        return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"

    def emit(self, line: Line, event: str, body: dict[str, Any]) -> None:
        self._out.append(Emission(self.now / 1000, line.number.id, event, body))


class Scenario:
    """Emissions of `numbers` under `seed`; `rate` = average webhooks/s over all numbers."""

    def __init__(
        self, seed: int, numbers: list[SandboxNumber], rate: float = 2.0, start: datetime | None = None
    ) -> None:
        if rate < 0 or not math.isfinite(rate):
            raise ValueError("rate must be a finite number >= 0")
        if len({n.id for n in numbers}) != len(numbers):
            raise ValueError("number ids must be unique")
        if unknown := {n.provider for n in numbers} - set(PROVIDERS):
            raise ValueError(f"unknown provider(s): {sorted(unknown)}")
        self._clock = Scheduler(_epoch_ms(start or EPOCH))
        self._messages = Messages(self._clock, seed)
        processes = NumberProcesses(self._clock, self._messages)
        weights = [Random(f"{seed}:weight:{n.id}").lognormvariate(0, 0.6) for n in numbers]
        per_ms = rate / 1000 / (sum(weights) or 1)  # emissions per ms, per unit of weight
        self._lines = {
            n.id: _new_line(seed, n, per_ms * w / _emissions_per_activity(n.provider))
            for n, w in zip(numbers, weights, strict=True)
        }
        for line in self._lines.values():
            processes.start(line)

    def next_batch(self, until: float) -> list[Emission]:
        """Every emission due at or before scenario second `until`, in (at, sequence) order."""
        if not math.isfinite(until):
            raise ValueError("until must be finite")
        return self._clock.run_until(until)

    def send(
        self, number_id: str, to: str, text: str, *, at: float, message_id: str, correlation_id: str
    ) -> None:
        """A message the API accepted (202, QUEUED) at scenario time `at`; plays its lifecycle."""
        line = self._lines[number_id]
        if not self._messages.are_new(message_id, correlation_id):
            raise ValueError("message_id and correlation_id must be new")
        at_ms = max(round(at * 1000), 0)
        self._messages.accept(line, to, text, at_ms=at_ms, msg_id=message_id, corr_id=correlation_id)

    def number_state(self, number_id: str) -> str:
        """OPEN, CONNECTING or CLOSED, as of the emissions `next_batch` has returned."""
        return self._lines[number_id].state

    def message(self, key: str) -> MessageRecord | None:
        """By internal id, correlationId or provider messageId (as `GET /v1/messages/{id}`)."""
        return self._messages.get(key)

    def messages_of(self, number_id: str) -> list[MessageRecord]:
        """The outbound records of one number (`GET /v1/messages/history`), in no order."""
        return self._messages.of_number(number_id)
