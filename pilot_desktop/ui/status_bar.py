"""Status bar: receiver state, recently refused deliveries, events per minute, age of the
last event, database size, and the count of stuck messages (by the deadlines in the settings).

The receiver's segment shows the listening address without its token (screenshots); its
tooltip says what the address is, and a click copies the whole webhook URL (token included:
what Pilot Status must be given) and says "Copied" where the pointer is.

In a narrow window the segments keep their meaning (ui/segments.py): short forms first
("● Listening :8787", "● Stopped", "Unreachable"), then the lowest-priority segments leave
(DB size, last event, events/min). PRIORITY is that list. A temporary message (showMessage:
"Listening again on …") takes the place of the segments below it while it lasts, elided if
it still does not fit, whole in the bar's tooltip."""

from __future__ import annotations

import logging
import time
from collections import deque
from urllib.parse import urlsplit

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QMouseEvent, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QStatusBar, QToolTip, QWidget

from pilot_desktop.core.format import age, minutes, size
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import StuckRules
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Changes
from pilot_desktop.ui.reach_segment import ReachSegment
from pilot_desktop.ui.refusal_watch import RefusalPicture, route_words, window_words
from pilot_desktop.ui.segments import SegmentButton, SegmentLabel, Shown, Slot, fit, paint_message

log = logging.getLogger(__name__)

REFRESH_MS = 1000
# Messages become stuck as time passes, not only when events arrive: recount this often.
STUCK_EVERY_S = 5.0
STUCK_CAP = 10_000  # counted up to this ("10,000+"): an index range, a few ms at most
_STUCK_STYLE = {
    False: "QToolButton { color: palette(mid); border: none; padding: 0 6px; }",
    True: "QToolButton { color: #c53030; font-weight: bold; border: none; padding: 0 6px; }",
}
_REFUSED_STYLE = "QToolButton { color: #c53030; font-weight: bold; border: none; padding: 0 6px; }"


# Lower is more important; the message is the temporary one (showMessage) while it lasts.
PRIORITY = {"receiver": 0, "demo": 1, "refused": 2, "reach": 3, "stuck": 4, "message": 5,
            "rate": 6, "last": 7, "db": 8}  # fmt: skip
GAP = 6  # QStatusBar's spacing between its widgets
COPY_TIP = "Click to copy the whole webhook URL (with its token)."


class ClickableLabel(SegmentLabel):
    """The receiver's segment: a click on it is `clicked` (copy the address)."""

    clicked = Signal()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class StatusBar(QStatusBar):
    stuck_clicked = Signal()  # the operator asks to see the stuck messages
    refused_clicked = Signal()  # the operator asks to see the refused deliveries

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.demo_label = SegmentLabel("DEMO", PRIORITY["demo"])
        self.demo_label.setStyleSheet(
            "color: #744210; background: #fefcbf; padding: 0 6px; font-weight: bold;"
        )
        self.demo_label.setToolTip("Events come from the built-in sandbox, not from a real account")
        self.demo_label.hide()
        self.addPermanentWidget(self.demo_label)
        self.receiver_label = ClickableLabel("Receiver: starting…", PRIORITY["receiver"])
        self.receiver_label.set_forms("Receiver: starting…", "Starting…")
        self.receiver_label.clicked.connect(self.copy_url)
        # Counters change every second: room for their usual values while there is room, so
        # the segments beside them do not shift with each tick.
        self.rate_label = SegmentLabel(
            "0 events/min", PRIORITY["rate"], droppable=True, reserve="999 events/min"
        )
        self.rate_label.setToolTip("Webhook events received in the last minute")
        self.last_label = SegmentLabel(
            "last event: never", PRIORITY["last"], droppable=True, reserve="last event: 59 min ago"
        )
        self.db_label = SegmentLabel("DB: –", PRIORITY["db"], droppable=True)
        for w in (self.receiver_label, self.rate_label, self.last_label, self.db_label):
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        self.stuck_label = SegmentButton(PRIORITY["stuck"], reserve="Stuck: 999")
        self.stuck_label.setText("Stuck: 0")
        self.stuck_label.setStyleSheet(_STUCK_STYLE[False])
        self.stuck_label.clicked.connect(self.stuck_clicked)
        self.stuck_label.hide()  # until there is a database to count in
        self.insertPermanentWidget(2, self.stuck_label)  # after the receiver: health at a glance
        self.refused_label = SegmentButton(PRIORITY["refused"])  # the tooltip has the counts
        self.refused_label.setStyleSheet(_REFUSED_STYLE)
        self.refused_label.clicked.connect(self.refused_clicked)
        self.refused_label.hide()  # until deliveries are refused
        self.insertPermanentWidget(2, self.refused_label)  # right after the receiver's state
        self.reach = ReachSegment()  # through the public URL; shown once attached (ui/app.py)
        self.insertPermanentWidget(2, self.reach)
        self.reach.shown_changed.connect(self._show_receiver)
        self.refused = 0  # refused deliveries in the last few minutes (shown when not 0)
        self.stuck = 0
        self._stuck_rules = StuckRules()
        self._stuck_dirty = True
        self._stuck_at = 0.0
        self._set_stuck_tooltip()
        # (second, count) buckets: constant memory however fast events arrive.
        self._buckets: deque[list[int]] = deque()
        self._last_event_at: float | None = None
        self._reads: Reads | None = None
        self._url: str | None = None
        self._receiver_error: str | None = None
        self._receiver_state: tuple[tuple[str, ...], str, str] | None = None
        self.copied = ""  # what the last click on the receiver's segment copied (said)
        self._message = Slot(PRIORITY["message"], droppable=False)  # showMessage's, while it lasts
        self._fitting = False
        for segment in self._segments():
            segment.on_change = self._fit
        self.messageChanged.connect(self._message_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def set_receiver(self, url: str | None, error: str | None = None) -> None:
        """What the receiver does; once a store is set, each refresh also says whether it stores."""
        self._url, self._receiver_error = url, error
        self._show_receiver()

    def copy_url(self) -> str | None:
        """The receiver's segment was clicked: its webhook URL to the clipboard, "Copied"
        said beside it. Nothing while not listening (no address to give)."""
        if not self._url or self._receiver_error:
            return None
        QGuiApplication.clipboard().setText(self._url)
        self.copied = f"Copied: {self._url}"
        label = self.receiver_label
        QToolTip.showText(label.mapToGlobal(QPoint(0, -label.height())), self.copied, label)
        return self._url

    def _show_receiver(self) -> None:
        url = self._url
        health = self._reads.health() if self._reads is not None and url else None
        state: tuple[tuple[str, ...], str, str]
        if self._receiver_error:
            state = (("● Receiver stopped", "● Stopped"), "#c53030", self._receiver_error)
        elif not url:
            return
        elif health is not None and health.state == "stopped":
            state = (
                ("● Not storing",),
                "#c53030",
                f"Webhooks reach {url} but are answered 503, so the platform keeps them and "
                f"retries.\n{health.reason}\nOnce the cause is fixed, restart Pilot Desktop; the log "
                "has the details.",
            )
        else:
            shown = url.rsplit("/", 1)[0] + "/…"  # keep the token out of screenshots
            port = f":{urlsplit(url).port}"
            problem = health.reason if health is not None else None
            if problem:
                state = (
                    (
                        f"● Listening {shown} (storing problem)",
                        f"● Listening {port} (storing problem)",
                        "● Storing problem",
                    ),
                    "#b7791f",
                    f"{problem}\nWebhooks that could not be stored were answered 503; "
                    "the platform retries them.",
                )
            elif self.refused:
                state = (
                    (f"● Listening {shown} · refusing deliveries", f"● Listening {port} · refusing"),
                    "#b7791f",
                    f"Webhooks go to {url}, but deliveries are being refused: see the red count "
                    "beside this (click it for the Refused view).",
                )
            elif self.reach.cut_off:  # listening here, but nothing arrives from outside
                listening = (f"● Listening {shown}", f"● Listening {port}")
                state = (listening, "#b7791f", f"{self.reach.trouble()}\nWebhooks go to {url}")
            else:
                state = ((f"● Listening {shown}", f"● Listening {port}"), "#2f855a", f"Webhooks go to {url}")
        if state != self._receiver_state:  # restyle only on a change, not every second
            self._receiver_state = state
            forms, color, tip = state
            copyable = bool(url) and not self._receiver_error
            if copyable:
                tip += (
                    "\nThis is this app's webhook receiver: Pilot Status delivers to your tunnel's "
                    f"public URL, which leads here.\n{COPY_TIP}"
                )
            self.receiver_label.set_forms(*forms)
            self.receiver_label.setStyleSheet(f"color: {color};")
            self.receiver_label.setToolTip(tip)
            self.receiver_label.setCursor(
                Qt.CursorShape.PointingHandCursor if copyable else Qt.CursorShape.ArrowCursor
            )
        self._fit()

    def _segments(self) -> list[Shown]:
        return [
            self.receiver_label, self.demo_label, self.refused_label, self.reach, self.stuck_label,
            self.rate_label, self.last_label, self.db_label,
        ]  # fmt: skip

    def _fit(self) -> None:
        """Short forms first, then the lowest-priority segments leave (ui/segments.py)."""
        if self._fitting or not hasattr(self, "_message"):  # (segments built before the bar's state)
            return
        self._fitting = True
        try:
            wanted = [s for s in self._segments() if s.wanted]
            for s in wanted:
                s.slot.widths = [w for _, w in s.forms()]
            slots = [s.slot for s in wanted]
            if message := self.currentMessage():
                self._message.widths = [self.fontMetrics().horizontalAdvance(message) + 12]
                slots.append(self._message)
            grip = 20 if self.isSizeGripEnabled() else 0
            fit(slots, self.width() - grip - 14, GAP)
            for s in self._segments():
                s.place(s.wanted and s.slot.kept)
        finally:
            self._fitting = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _message_changed(self, message: str) -> None:
        """A temporary message takes the room of the segments below it while it lasts."""
        self.setToolTip(message)
        self._fit()

    def paintEvent(self, event: QPaintEvent) -> None:
        """QStatusBar's own drawing, but the temporary message elided rather than cut."""
        if not self.currentMessage():
            super().paintEvent(event)
            return
        paint_message(self, self.currentMessage(), self._segments())

    def show_refusals(self, picture: RefusalPicture) -> None:
        """The receiver's recent refused deliveries (ui/refusal_watch.py, at most once a
        second): a red count that opens the Refused view; hidden when none."""
        s = picture.summary
        self.refused = s.deliveries
        if s.deliveries:
            self.refused_label.set_forms(
                f"⊘ {s.deliveries:,} refused ({window_words(s.window_s)})", f"⊘ {s.deliveries:,} refused"
            )
            self.refused_label.setToolTip(refusal_tip(picture))
        self.refused_label.setVisible(bool(s.deliveries))
        self._show_receiver()

    def set_demo(self, on: bool) -> None:
        self.demo_label.setVisible(on)
        self._fit()

    def set_store(self, reads: Reads) -> None:
        """Count, size and health from this store; seeds the rate from its last minute."""
        self._reads = reads
        self.db_label.setToolTip(str(reads.path))
        self.stuck_label.show()
        try:
            self.seed(reads.arrivals_per_second(time.time() - 60), reads.last_event_at())
        except StoreError as exc:  # environmental: the counters start from zero
            log.warning("status bar: %s", exc)

    def set_stuck_rules(self, rules: StuckRules) -> None:
        """The deadlines to count by (from the settings); recounts at once."""
        self._stuck_rules = rules
        self._set_stuck_tooltip()
        self.refresh_stuck()

    def seed(self, per_second: list[tuple[int, int]], last_event_at: float | None) -> None:
        self._buckets.extend([sec, n] for sec, n in sorted(per_second))
        self._last_event_at = last_event_at
        self.refresh()

    def on_changes(self, changes: Changes) -> None:
        for row in changes.new_events:
            sec = int(row.received_at)
            if self._buckets and self._buckets[-1][0] == sec:
                self._buckets[-1][1] += 1
            else:
                self._buckets.append([sec, 1])
        if changes.new_events:
            self._last_event_at = changes.new_events[-1].received_at
        if changes.messages:
            self._stuck_dirty = True  # recounted at the next tick, not once per batch

    def refresh(self) -> None:
        self._show_receiver()
        now = time.time()
        while self._buckets and self._buckets[0][0] < now - 60:
            self._buckets.popleft()
        rate = f"{sum(n for _, n in self._buckets):,}"
        self.rate_label.set_forms(f"{rate} events/min", f"{rate}/min")
        last = age(self._last_event_at, now)
        self.last_label.set_forms(f"last event: {last}", f"last: {last}")
        if self._reads is not None:
            text = f"DB {size(self._reads.size())}"
            if text != self.db_label.text():
                self.db_label.set_forms(text)
                self.db_label.setToolTip(f"{text}: the database's size on disk\n{self._reads.path}")
            if self._stuck_dirty or time.monotonic() - self._stuck_at >= STUCK_EVERY_S:
                self.refresh_stuck()

    def refresh_stuck(self) -> None:
        if self._reads is None:
            return
        self._stuck_dirty = False
        self._stuck_at = time.monotonic()
        try:
            n = self._reads.stuck_count(self._stuck_rules, time.time(), cap=STUCK_CAP)
        except StoreError as exc:  # environmental: say so, retry next time
            log.warning("stuck count: %s", exc)
            self.stuck_label.set_forms("Stuck: ?")
            self.stuck_label.setToolTip(f"Could not count stuck messages: {exc}")
            return
        self.stuck = n
        self.stuck_label.setStyleSheet(_STUCK_STYLE[n > 0])  # (bold when not 0: measured so)
        self.stuck_label.set_forms(f"Stuck: {n:,}{'+' if n >= STUCK_CAP else ''}")
        self._set_stuck_tooltip()

    def _set_stuck_tooltip(self) -> None:
        rules = self._stuck_rules
        queued, sent = minutes(round(rules.queued_after / 60)), minutes(round(rules.sent_after / 60))
        self.stuck_label.setToolTip(
            f"Outbound messages queued for over {queued} without being sent (the number may be "
            f"disconnected), or sent over {sent} ago with no delivery confirmation (the contact's "
            "phone may be off). Click to list them. Change the deadlines with Deadlines… in the "
            "Delivery tab."
        )

    def shutdown(self) -> None:
        self._timer.stop()
        self.reach.shutdown()


def refusal_tip(picture: RefusalPicture) -> str:
    """The breakdown behind the red count: by status and route, the newest reason and hint."""
    s = picture.summary
    span = window_words(s.window_s)
    statuses = ", ".join(
        f"{n:,} × {status}" for status, n in sorted(s.by_status.items(), key=lambda x: -x[1])
    )
    lines = [f"{s.deliveries:,} webhook deliveries refused in the last {span}: {statuses}."]
    routes = sorted(s.by_route.items(), key=lambda x: -x[1])
    if routes:
        plus = "+" if picture.capped else ""  # a flood: routes counted among the newest kept
        shown = ", ".join(f"{route_words(r)} {n:,}{plus}" for r, n in routes[:5])
        more = f" and {len(routes) - 5} more" if len(routes) > 5 else ""
        lines.append(f"By route: {shown}{more}.")
    if (latest := s.latest) is not None and latest.delivery:
        lines.append(f"Latest: {latest.status} on {route_words(latest.route)}: {latest.reason}")
        if latest.hint:
            lines.append(f"Hint: {latest.hint}")
    if s.other:
        lines.append(
            f"{s.other:,} other refused request{'s' if s.other != 1 else ''} (not webhook deliveries)."
        )
    lines.append("Click to open the Refused view.")
    return "\n".join(lines)
