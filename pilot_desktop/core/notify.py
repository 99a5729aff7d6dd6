"""Which connection and health changes become a notification, and when.

Pure and clock-driven (`feed(transition, now)`, `due(now)`), so the rules are tested with
a controllable clock and the tray only shows what comes out:

- A disconnect is told only if the number is still down `disconnect_delay` later; a blip
  shorter than that is never told (docs/product.md: "without being spammed by flaps").
- Its reconnect is told only if the disconnect was.
- `flap_threshold` drops within `flap_window` fold into one message ("3 flaps in 10
  min"); after it the number stays folded (silent) until a whole window passes without a
  drop, then one "stable again" message.
- At most one message per number per `disconnect_delay`: anything more is folded into
  the next one.
- Quiet hours and muted or snoozed numbers: nothing is shown; the tray colour still tells.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from pilot_desktop.core.format import duration
from pilot_desktop.core.numbers import (
    BLOCKED,
    CLOSED,
    CONNECTION,
    DEGRADED,
    HEALTHY,
    OPEN,
    SHADOWBAN,
    Transition,
)


@dataclass(frozen=True, slots=True)
class NotifyRules:
    disconnect_delay: float = 60.0  # seconds a number must stay down before we tell
    flap_window: float = 600.0
    flap_threshold: int = 3
    quiet_start: int | None = None  # minutes after local midnight; None: no quiet hours
    quiet_end: int | None = None
    muted: frozenset[str] = frozenset()  # until unmuted
    snoozed: Mapping[str, float] = field(default_factory=dict)  # number id -> muted until (epoch s)
    health: bool = True

    def muted_at(self, number_id: str, now: float) -> bool:
        """Not to be told about at `now`: muted, or snoozed until a later time. Every
        notification rule asks this (never `muted` alone), so a snooze ends by itself."""
        return number_id in self.muted or self.snoozed.get(number_id, 0.0) > now

    def quiet(self, now: float) -> bool:
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return False
        local = datetime.fromtimestamp(now)
        minute = local.hour * 60 + local.minute
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= minute < self.quiet_end
        return minute >= self.quiet_start or minute < self.quiet_end  # over midnight


@dataclass(frozen=True, slots=True)
class Notification:
    number_id: str
    kind: str  # disconnected | reconnected | flapping | stable | health
    title: str
    text: str
    at: float
    severity: str  # down | warn | ok


@dataclass
class _Number:
    down_since: float | None = None  # disconnected and not back yet
    told_down: bool = False
    drops: deque[float] = field(default_factory=deque)
    folded_until: float | None = None  # flapping: silent until then (moves with each drop)
    last_told: float | None = None
    last_error: str | None = None
    back_after: float | None = None  # reconnected after a told disconnect: told when due
    health: Notification | None = None  # the latest health change, not told yet


class Notifier:
    def __init__(self, rules: NotifyRules | None = None, names: dict[str, str] | None = None) -> None:
        self.rules = rules or NotifyRules()
        self.names = names if names is not None else {}
        self._numbers: dict[str, _Number] = {}
        self._ready: list[Notification] = []
        self.suppressed = 0  # held back by quiet hours or mute (shown in the tray tooltip)

    def _name(self, number_id: str) -> str:
        return self.names.get(number_id) or number_id

    def _emit(self, n: Notification, state: _Number) -> None:
        state.last_told = n.at
        if self.rules.muted_at(n.number_id, n.at) or self.rules.quiet(n.at):
            self.suppressed += 1
            return
        self._ready.append(n)

    def feed(self, t: Transition, now: float) -> None:
        """A transition the store recorded (late ones never notify: they are history)."""
        if t.late:
            return
        s = self._numbers.setdefault(t.number_id, _Number())
        if t.kind != CONNECTION:
            self._health(t, s, now)
            return
        if t.after == CLOSED:
            if s.back_after is not None:  # back and down again before we said so: still down
                s.back_after, s.down_since, s.told_down = None, now, True
            elif s.down_since is None:
                s.down_since, s.told_down = now, False
            s.last_error = t.error
            s.drops.append(now)
            while s.drops and s.drops[0] < now - self.rules.flap_window:
                s.drops.popleft()
            if s.folded_until is not None:
                s.folded_until = now + self.rules.flap_window
        elif t.after == OPEN and s.down_since is not None:
            if s.told_down and s.folded_until is None:
                s.back_after = now - s.down_since
            s.down_since, s.told_down = None, False

    def _health(self, t: Transition, s: _Number, now: float) -> None:
        if not self.rules.health:
            return
        words = {
            BLOCKED: ("is blocked", "down"),
            SHADOWBAN: ("may be shadowbanned", "down"),
            DEGRADED: ("has degraded health", "warn"),
            HEALTHY: ("has recovered", "ok"),
        }
        what, severity = words.get(t.after, (f"health: {t.after}", "warn"))
        detail = t.error or "Reported by the platform."
        # Told on the next tick outside the number's debounce window; a newer change
        # before then replaces it (degraded then recovered within a minute: one message).
        s.health = Notification(
            t.number_id, "health", f"{self._name(t.number_id)} {what}", detail, now, severity
        )

    def due(self, now: float) -> list[Notification]:
        """Notifications whose time has come; call on a timer (every few seconds)."""
        rules = self.rules
        for number_id, s in self._numbers.items():
            while s.drops and s.drops[0] < now - rules.flap_window:
                s.drops.popleft()
            name = self._name(number_id)
            recently = s.last_told is not None and now - s.last_told < rules.disconnect_delay
            if s.folded_until is not None and now >= s.folded_until and not recently:
                s.folded_until = None
                if s.down_since is None:
                    text = f"No drops for {duration(rules.flap_window)}."
                    self._emit(
                        Notification(number_id, "stable", f"{name} is stable again", text, now, "ok"), s
                    )
                    continue
                s.told_down = False  # down for a whole window: an outage, told below
            if s.folded_until is None and len(s.drops) >= rules.flap_threshold and not recently:
                s.folded_until = now + rules.flap_window
                s.told_down = s.down_since is not None
                text = (
                    f"{len(s.drops)} flaps in {duration(rules.flap_window)}; further drops are "
                    "folded until it is stable."
                )
                self._emit(
                    Notification(number_id, "flapping", f"{name} keeps disconnecting", text, now, "warn"), s
                )
                continue
            if s.back_after is not None and not recently:
                text = f"Back after {duration(s.back_after)}."
                s.back_after = None
                self._emit(
                    Notification(number_id, "reconnected", f"{name} is connected again", text, now, "ok"), s
                )
                continue
            down = (
                s.down_since is not None and not s.told_down and now - s.down_since >= rules.disconnect_delay
            )
            if down and s.folded_until is not None:
                s.told_down, down = True, False  # folded: the flapping message said it
            if recently:
                continue  # one message per number per debounce window; told on a later tick
            if down and s.down_since is not None:
                s.told_down = True
                reason = f" ({s.last_error.rstrip('.')})" if s.last_error else ""
                text = f"Down for {duration(now - s.down_since)}{reason}."
                self._emit(
                    Notification(number_id, "disconnected", f"{name} disconnected", text, now, "down"), s
                )
            elif s.health is not None:
                told, s.health = s.health, None
                self._emit(replace(told, at=now), s)
        ready, self._ready = self._ready, []
        return ready
