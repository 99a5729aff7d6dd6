"""A snooze (`notifications.snoozed`) silences a number until its time, in every rule that
honours muting: number notifications, alerts about the number, silence alerts; then it ends
by itself. Written beside other changes; past snoozes are dropped on the next write."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pilot_desktop.core.alerts import SILENCE, Alert, AlertNotifier, Cadence
from pilot_desktop.core.notify import Notifier, NotifyRules
from pilot_desktop.core.numbers import CLOSED, CONNECTION, OPEN, Transition
from pilot_desktop.services.alerts import alerts_now
from pilot_desktop.services.config import Config
from pilot_desktop.services.notifications import FOREVER, next_morning, notify_rules, set_mute
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.settings import Settings

T0 = datetime(2026, 12, 4, 14, 0).timestamp()


def down(number: str, at: float) -> Transition:
    return Transition(number, CONNECTION, OPEN, CLOSED, at, "webhook", "number.disconnected", False, None)


def test_rules_mute_a_snoozed_number_only_until_its_time() -> None:
    rules = NotifyRules(muted=frozenset({"num_m"}), snoozed={"num_s": T0 + 3600})
    assert rules.muted_at("num_m", T0 + 10**6)
    assert rules.muted_at("num_s", T0 + 3599)
    assert not rules.muted_at("num_s", T0 + 3600)
    assert not rules.muted_at("num_other", T0)


def test_number_notifications_wait_for_the_snooze_to_end() -> None:
    n = Notifier(NotifyRules(snoozed={"num_s": T0 + 3600}), {"num_s": "Loja"})
    n.feed(down("num_s", T0), T0)
    assert n.due(T0 + 61) == [] and n.suppressed == 1
    n.feed(Transition("num_s", CONNECTION, CLOSED, OPEN, T0 + 100, "webhook", "x", False, None), T0 + 100)
    n.due(T0 + 200)  # its reconnect: held back too
    n.feed(down("num_s", T0 + 4000), T0 + 4000)
    assert [x.title for x in n.due(T0 + 4061)] == ["Loja disconnected"]


def test_alerts_about_a_snoozed_number_wait_too() -> None:
    n = AlertNotifier(NotifyRules(snoozed={"num_s": T0 + 60}), names={})
    n.feed([Alert(SILENCE, "num_s", T0 - 3600, "No webhook event.")], T0)
    assert n.due(T0) == [] and n.suppressed == 1


def test_a_snoozed_number_raises_no_silence_alert_until_its_time() -> None:
    silent = [Cadence("num_a", None, T0 - 7200, 60.0, 50, "OPEN")]
    args = {"probes": [], "storing": (True, None), "storing_since": T0, "cadences": silent}
    base = Settings()
    snoozed = base.model_copy(
        update={"notifications": base.notifications.model_copy(update={"snoozed": {"num_a": T0 + 600}})}
    )
    assert alerts_now(snoozed, now=T0 + 90, **args) == []  # type: ignore[arg-type]
    later = alerts_now(snoozed, now=T0 + 601, **args)  # type: ignore[arg-type]
    assert [a.subject for a in later] == ["num_a"]


def test_set_mute_writes_snoozes_beside_others_and_drops_past_ones(tmp_path: Path) -> None:
    prefs = Config.open(resolve(tmp_path)).settings
    set_mute(prefs, "num_a", T0 + 3600, T0)
    set_mute(prefs, "num_b", T0 + 60, T0)
    set_mute(prefs, "num_c", FOREVER, T0 + 120)  # num_b's snooze is over: dropped
    n = Config.open(resolve(tmp_path)).settings.value.notifications  # what the file says
    assert n.snoozed == {"num_a": T0 + 3600} and n.muted == ["num_c"]
    set_mute(prefs, "num_a", FOREVER, T0 + 130)  # a snooze made "until I unmute it"
    set_mute(prefs, "num_c", None, T0 + 140)  # unmuted
    n = prefs.value.notifications
    assert n.snoozed == {} and n.muted == ["num_a"]
    assert notify_rules(prefs.value).muted_at("num_a", T0 + 10**7)


def test_tomorrow_morning_is_the_next_eight_o_clock() -> None:
    assert datetime.fromtimestamp(next_morning(T0)) == datetime(2026, 12, 5, 8, 0)
    early = datetime(2026, 12, 4, 6, 30).timestamp()  # before 08:00: this morning's
    assert datetime.fromtimestamp(next_morning(early)) == datetime(2026, 12, 4, 8, 0)
