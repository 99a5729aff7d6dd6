"""The status bar's reachability segment: can the platform reach this app through its public
URL? Drawn from the core's continuous probe (services/reachability.py), never from a guess.

"Reachable · 84 ms" (green) only right after an ok probe through the current public URL;
"Probe failed once" (amber); "Unreachable · connection refused" (red, two failures or more);
"Not checked" (grey) with the reason in the tooltip (no public URL yet, the tunnel starting,
or no probe for a while: an old "Reachable" is not shown as if it were current). A click
probes now ("Checking…" meanwhile). The tooltip is re-worded each time it is shown, so its
"12 s ago" is current.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QWidget

from pilot_desktop.core.format import age, duration, when
from pilot_desktop.ui.segments import SegmentButton
from pilot_desktop.ui.tasks import Tasks

if TYPE_CHECKING:  # (only for types: the status bar does not need the probe's module to load)
    from pilot_desktop.services.gaps import GapRecorder
    from pilot_desktop.services.reachability import Reach, Reachability
    from pilot_desktop.services.repoint import Repointer
    from pilot_desktop.services.tunnel import TunnelManager
    from pilot_desktop.tunnel.providers import TunnelStatus

log = logging.getLogger(__name__)

GREEN, AMBER, RED, GREY = "#2f855a", "#b7791f", "#c53030", "#718096"
REFRESH_MS = 5000  # re-judged this often: a "Reachable" with no fresh probe goes grey
STALE_INTERVALS = 3  # probes missed in a row before the last result is no longer shown as current
CLICK = "Click to check now."
WAITING_TIP = (
    "{n} of this app still point{s} at the old URL, so their deliveries go nowhere although "
    "the probe gets through. Review them in the Webhooks tab (the banner's Review…), or turn on "
    "auto re-point in the Tunnel tab to move them at once."
)
DOWN_TIP = (
    "The tunnel is down, so webhooks sent to this app's public URL go nowhere until it is up "
    "again (its state and error are in the Webhooks tab, Tunnel)."
)

# The probe's diagnosis (tunnel/probe.py) in a few words for the bar; the tooltip has the sentence.
SHORT_DIAGNOSIS = {
    "bad_url": "bad public URL",
    "dns": "name not found (DNS)",
    "refused": "connection refused",
    "tls": "TLS problem",
    "timeout": "no answer",
    "closed": "tunnel not forwarding",
    "other_receiver": "reaches another receiver",
    "network": "network error",
}


def short_diagnosis(diagnosis: str, status: int | None) -> str:
    """'connection refused', 'HTTP 502': what went wrong, short enough for a status bar."""
    if diagnosis == "http_status":
        return f"HTTP {status}" if status else "unexpected answer"
    return SHORT_DIAGNOSIS.get(diagnosis, diagnosis.replace("_", " "))


TUNNEL_NAMES = {
    "cloudflared": "the cloudflared quick tunnel",
    "ngrok": "the ngrok agent",
    "command": "the tunnel command",
    "ngrok-sdk": "ngrok (in-process)",
}


def no_url_reason(status: TunnelStatus | None) -> str:
    """Why there is no public URL, from the managed tunnel's state (manual mode: none typed in)."""
    if status is None or status.mode not in TUNNEL_NAMES:
        return "no public URL is set."
    name = TUNNEL_NAMES[status.mode]
    error = status.error.rstrip(".") if status.error else ""
    if status.state == "failed":
        return f"{name} failed: {error}." if error else f"{name} failed."
    if status.state in ("starting", "restarting"):
        why = f" ({error})" if error and status.state == "restarting" else ""
        return f"{name} is {status.state}{why} and has not reported a public URL yet."
    if status.state == "up":
        return f"{name} runs but has not reported a public URL."
    return f"{name} is not running."


def tunnel_trouble(status: TunnelStatus | None) -> str | None:
    """A managed tunnel that failed or is restarting, in two words for the bar; else None."""
    if status is None or status.mode not in TUNNEL_NAMES or status.state not in ("failed", "restarting"):
        return None
    return f"tunnel {status.state}"


def _style(colour: str, bold: bool = False) -> str:
    weight = " font-weight: bold;" if bold else ""
    return f"QToolButton {{ color: {colour};{weight} border: none; padding: 0 6px; }}"


class ReachSegment(SegmentButton):
    """One button in the status bar, hidden until `attach()`ed to the core's Reachability."""

    shown_changed = Signal()  # what the segment says changed (the receiver's label follows)

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(3, parent=parent)  # after the receiver, DEMO and refusals (status_bar.py)
        self.clock = clock
        self.reachability: Reachability | None = None
        self.reach: Reach | None = None
        self.checking = False
        self.tasks = Tasks()
        self._interval_s: Callable[[], float] = lambda: 60.0
        self._tunnel: Callable[[], TunnelStatus | None] = lambda: None
        self._idle: Callable[[], str | None] = lambda: None
        self._shown: tuple[str, str] | None = None
        self.repoint: Repointer | None = None
        self.gaps: GapRecorder | None = None
        self.tunnel_manager: TunnelManager | None = None
        self.clicked.connect(self.check_now)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.hide()

    def attach(
        self,
        reachability: Reachability,
        *,
        interval_s: Callable[[], float],
        tunnel: Callable[[], TunnelStatus | None] = lambda: None,
        idle: Callable[[], str | None] = lambda: None,
        repoint: Repointer | None = None,
        gaps: GapRecorder | None = None,
        tunnel_manager: TunnelManager | None = None,
    ) -> None:
        """Follow `reachability` from now on. `interval_s`: the probe interval (for "next probe"
        and staleness); `tunnel`: the managed tunnel's status (why there is no public URL);
        `idle`: why nothing is probed at all now (the receiver is not listening), else None.
        `repoint`, `gaps`, `tunnel_manager`: a probe that gets through is not the whole path:
        this app's webhooks left on an old URL, or the tunnel down, keep the segment amber."""
        self.reachability = reachability
        self._interval_s, self._tunnel, self._idle = interval_s, tunnel, idle
        self.repoint, self.gaps, self.tunnel_manager = repoint, gaps, tunnel_manager
        reachability.subscribe(self._changed)
        if repoint is not None:
            repoint.subscribe(self._path_changed)
        if tunnel_manager is not None:
            tunnel_manager.subscribe(self._path_changed)
        self.show_reach(reachability.reach)
        self._timer.start()
        self.show()

    def shutdown(self) -> None:
        self._timer.stop()
        self.tasks.cancel()
        if self.reachability is not None:
            self.reachability.unsubscribe(self._changed)
            self.reachability = None
        if self.repoint is not None:
            self.repoint.unsubscribe(self._path_changed)
        if self.tunnel_manager is not None:
            self.tunnel_manager.unsubscribe(self._path_changed)
        self.repoint = self.tunnel_manager = None

    # -- what is shown ----------------------------------------------------------------------

    def _changed(self, before: Reach, after: Reach) -> None:
        self.show_reach(after)

    def _path_changed(self, *_: object) -> None:  # re-pointing pending, or the tunnel's state
        self.refresh()

    def waiting(self) -> int:
        """This app's webhooks still on an old URL (re-pointing waits for the operator)."""
        return len(self.repoint.pending) if self.repoint is not None else 0

    def tunnel_down(self) -> bool:
        """The managed tunnel is not up, or its `tunnel` gap is open (deliveries are lost)."""
        status = self._tunnel()
        if status is not None and status.mode in TUNNEL_NAMES and status.state != "up":
            return True
        return self.gaps is not None and "tunnel" in self.gaps.open_gaps and not self.waiting()

    def show_reach(self, reach: Reach) -> None:
        self.reach = reach
        self.refresh()

    def refresh(self) -> None:
        if self.reach is None:
            return
        text, colour, bold = self.words(self.reach, self.clock())
        if self.checking and self.reach.public_url is not None:  # (none: nothing is probed)
            text, colour, bold = "Checking…", GREY, False
        if (text, colour) != self._shown:  # restyle only on a change
            self._shown = (text, colour)
            self.set_forms(text, text.split(" · ")[0])  # "Unreachable": the verdict, in a narrow bar
            self.setStyleSheet(_style(colour, bold))
            self.shown_changed.emit()
        self.setToolTip(self.tip(self.clock()))

    @property
    def cut_off(self) -> bool:
        """Unreachable, or no public URL because the tunnel is down: the receiver's own
        "Listening" must not look healthy beside it."""
        if self.reach is None:
            return False
        text, colour, _ = self.words(self.reach, self.clock())
        return colour == RED or text.startswith("Not checked · ") or (colour == AMBER and " · " in text)

    def trouble(self) -> str:
        """For the receiver's tooltip: why nothing arrives although it listens."""
        if self.reach is not None and self.words(self.reach, self.clock())[0].startswith("Reachable"):
            return f'Listening on this machine, but see "{self.text()}" beside this (its tooltip says why).'
        return (
            f'Listening on this machine, but the platform cannot reach it: see "{self.text()}" beside this.'
        )

    def stale(self, reach: Reach, now: float) -> bool:
        """No probe for several intervals (the loop stalled, the machine slept): the last
        result is history, not the present."""
        last = reach.last
        return last is not None and now - last.at > STALE_INTERVALS * max(self._interval_s(), 1.0) + 30

    def words(self, reach: Reach, now: float) -> tuple[str, str, bool]:
        """(text, colour, bold) for `reach`."""
        last = reach.last
        if self._idle():
            return "Not checked", GREY, False
        if reach.public_url is None and (trouble := tunnel_trouble(self._tunnel())):
            return f"Not checked · {trouble}", AMBER, False  # no URL because the tunnel is down
        if reach.state == "not_checked" or last is None or self.stale(reach, now):
            return "Not checked", GREY, False
        if reach.state == "reachable":
            if n := self.waiting():
                return f"Reachable · {n} webhook{'' if n == 1 else 's'} on the old URL", AMBER, False
            if self.tunnel_down():
                return "Reachable · tunnel down", AMBER, False
            latency = f" · {duration(last.latency_ms / 1000)}" if last.latency_ms is not None else ""
            return f"Reachable{latency}", GREEN, False
        if reach.state == "failing":
            return "Probe failed once", AMBER, False
        return f"Unreachable · {short_diagnosis(last.diagnosis, last.status)}", RED, True

    def tip(self, now: float) -> str:
        reach = self.reach
        if reach is None:
            return ""
        last, url = reach.last, reach.public_url
        lines: list[str] = []
        if idle := self._idle():
            lines.append(f"Not checked: {idle}.")
        elif url is None:
            lines += [
                f"Not checked: {no_url_reason(self._tunnel())}",
                "Without a public URL the platform cannot deliver webhooks here. Set one, or "
                "choose a tunnel, in the Webhooks tab (Tunnel).",
            ]
        elif reach.state == "not_checked" or last is None:
            lines.append(f"Not checked yet through {url}: the first probe runs shortly.")
        elif self.stale(reach, now):
            lines += [
                f"Not checked for {age(last.at, now).removesuffix(' ago')}: probes are due every "
                f"{duration(self._interval_s())} but none ran. The last one said:",
                last.sentence,
            ]
        elif reach.state == "reachable":
            lines.append(last.sentence)
            if n := self.waiting():
                hooks = f"{n} webhook{'' if n == 1 else 's'}"
                lines.append(WAITING_TIP.format(n=hooks, s="s" if n == 1 else ""))
            elif self.tunnel_down():
                lines.append(DOWN_TIP)
        elif reach.state == "failing":
            lines += [
                f"The last probe through {url} failed: {last.sentence}",
                "One more failure in a row turns this Unreachable and tells in the tray.",
            ]
        else:
            since = f" since {when(reach.since, now)}" if reach.since is not None else ""
            lines += [
                last.sentence,
                f"{reach.failures} probes in a row failed{since}: webhooks sent to this URL do not "
                "arrive; the platform retries them for a while.",
            ]
        if url is not None:
            lines.append(f"Public URL: {url}")
        if last is not None:
            lines.append(f"Last probe: {when(last.at, now)} ({age(last.at, now)})")
            nxt = last.at + self._interval_s()
            if url is not None and nxt > now:
                lines.append(f"Next probe: about {when(nxt, now)}")
        if url is not None:
            lines.append("Checking now…" if self.checking else CLICK)
        return "\n".join(lines)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip:  # "12 s ago" as of now, not as of the last probe
            self.setToolTip(self.tip(self.clock()))
        return super().event(e)

    # -- the click ---------------------------------------------------------------------------

    def check_now(self) -> None:
        """Probe now on the loop; "Checking…" until it answers. A second click meanwhile waits
        for the same probe."""
        if self.reachability is None or self.checking or self._idle():
            return
        self.checking = True
        self.refresh()
        self.tasks.start(self._check(self.reachability))

    async def _check(self, reachability: Reachability) -> None:
        try:
            reach = await reachability.check_now("demand")
        except Exception:  # a bug: the state stays what it was, the log has it
            log.exception("check now failed")
            reach = None
        finally:
            self.checking = False
        if reach is not None:
            self.reach = reach
        self.refresh()
