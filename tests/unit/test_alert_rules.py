"""The alert rules beyond numbers (core/alerts.py, services/alerts.alerts_now) with a controlled
clock: unreachable from probes, silence from a number's cadence, and which alerts become a
notification (debounce, recovery once, spacing, quiet hours, mute)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pilot_desktop.core.alerts import (
    NOT_STORING,
    SILENCE,
    UNREACHABLE,
    Alert,
    AlertNotifier,
    Cadence,
    cadence_of,
    current_probes,
    probe_state,
    silence_alerts,
    unreachable_alert,
)
from pilot_desktop.core.notify import NotifyRules
from pilot_desktop.services.alerts import alerts_now
from pilot_desktop.services.settings import Settings

T0 = 1_800_000_000.0
URL = "https://hooks.example.com"


@dataclass(frozen=True)
class Probe:
    at: float
    public_url: str
    ok: bool
    sentence: str = "ok"
    diagnosis: str = "ok"
    latency_ms: float | None = 20.0


def failed(at: float, url: str = URL, why: str = "The connection was refused.") -> Probe:
    return Probe(at, url, False, why, "refused", None)


# -- unreachable --------------------------------------------------------------------------------


def test_one_failed_probe_is_no_alert_two_in_a_row_are_since_the_first() -> None:
    assert unreachable_alert([failed(T0 + 60), Probe(T0, URL, True)]) is None
    probes = [failed(T0 + 120, why="Nothing answers."), failed(T0 + 60), Probe(T0, URL, True)]
    alert = unreachable_alert(probes)
    assert alert is not None and alert.kind == UNREACHABLE and alert.subject is None
    assert alert.since == T0 + 60  # the first failure of the run, not the newest
    assert alert.sentence.endswith("Nothing answers.")  # the newest probe's diagnosis
    assert URL in alert.sentence and "2 probes in a row" in alert.sentence
    longer = [failed(T0 + 180), *probes]
    assert (a := unreachable_alert(longer)) is not None and a.since == T0 + 60 and "3 probes" in a.sentence


def test_failures_through_two_urls_are_not_a_run_and_an_ok_probe_ends_it() -> None:
    assert unreachable_alert([failed(T0 + 60, "https://new.example.com"), failed(T0)]) is None
    assert unreachable_alert([Probe(T0 + 120, URL, True), failed(T0 + 60), failed(T0)]) is None


def test_only_fresh_probes_through_the_current_url_tell_the_present() -> None:
    probes = [failed(T0 + 60), failed(T0)]
    assert current_probes(probes, URL, T0 + 100, 240) == probes
    assert current_probes(probes, URL, T0 + 400, 240) == []  # nothing probes any more
    assert current_probes(probes, None, T0 + 100, 240) == []  # no public URL: nothing to reach
    assert current_probes(probes, "https://new.example.com", T0 + 100, 240) == []  # URL changed


def test_probe_state_follows_reachability_states() -> None:
    assert probe_state([]).state == "not_checked"
    ok = probe_state([Probe(T0 + 60, URL, True), Probe(T0, URL, True), failed(T0 - 60)])
    assert (ok.state, ok.since, ok.failures) == ("reachable", T0, 0)
    once = probe_state([failed(T0 + 60), Probe(T0, URL, True)])
    assert (once.state, once.failures, once.since) == ("failing", 1, T0 + 60)
    twice = probe_state([failed(T0 + 120), failed(T0 + 60), Probe(T0, URL, True)])
    assert (twice.state, twice.failures, twice.since) == ("unreachable", 2, T0 + 60)


# -- silence ----------------------------------------------------------------------------------------


def regular(count: int, every: float, last: float) -> list[float]:
    """Arrival times newest first."""
    return [last - i * every for i in range(count)]


def test_silence_beyond_factor_times_the_usual_gap_is_an_alert() -> None:
    c = cadence_of("num_a", regular(50, 60.0, T0), T0, name="Sales")
    assert c.usual_gap == 60.0 and c.recent == 50 and c.last_at == T0
    assert silence_alerts([c], T0 + 599, factor=10, min_s=300) == []
    [alert] = silence_alerts([c], T0 + 601, factor=10, min_s=300)
    assert (alert.kind, alert.subject, alert.since) == (SILENCE, "num_a", T0)
    assert "Sales" in alert.sentence and "10 min" in alert.sentence


def test_the_minimum_silence_wins_over_a_short_usual_gap() -> None:
    c = cadence_of("num_a", regular(50, 10.0, T0), T0)  # 10 x 10 s = 100 s, but at least 30 min
    assert silence_alerts([c], T0 + 29 * 60, factor=10, min_s=1800) == []
    assert len(silence_alerts([c], T0 + 31 * 60, factor=10, min_s=1800)) == 1


def test_bursty_traffic_is_measured_between_bursts_not_inside_them() -> None:
    # Each message: sent, delivered, read and a reply within 3 s; a message every 10 min.
    arrivals = [T0 - burst * 600 - k for burst in range(40) for k in (0, 1, 2, 3)]
    c = cadence_of("num_a", arrivals, T0)
    assert c.usual_gap is not None and c.usual_gap >= 590  # the pause between bursts
    # 40 min of quiet is usual for this number: no alert at min 30 min (a median would alert).
    assert silence_alerts([c], T0 + 40 * 60, factor=10, min_s=1800) == []
    assert len(silence_alerts([c], T0 + 101 * 60, factor=10, min_s=1800)) == 1


def test_numbers_that_rarely_receive_or_are_disconnected_are_not_silent() -> None:
    rare = cadence_of("num_rare", regular(9, 60.0, T0), T0)  # 9 events: no usual gap yet
    old = cadence_of("num_old", regular(50, 60.0, T0 - 8 * 86_400), T0)  # active, but 8 days ago
    down = cadence_of("num_down", regular(50, 60.0, T0), T0, connection="CLOSED")
    unknown = cadence_of("num_unknown", regular(50, 60.0, T0), T0, connection="UNKNOWN")
    opened = cadence_of("num_open", regular(50, 60.0, T0), T0, connection="OPEN")
    found = silence_alerts([rare, old, down, unknown, opened], T0 + 3600, factor=10, min_s=60)
    assert {a.subject for a in found} == {"num_unknown", "num_open"}


def test_alerts_now_follows_the_switches_and_tells_one_cause_once() -> None:
    failing = [failed(T0 + 60), failed(T0)]
    silent = [Cadence("num_a", None, T0 - 7200, 60.0, 50, "OPEN")]
    base = Settings()
    args = {
        "probes": failing,
        "storing": (True, None),
        "storing_since": T0,
        "cadences": silent,
        "now": T0 + 90,
    }
    kinds = [a.kind for a in alerts_now(base, **args)]  # type: ignore[arg-type]
    assert kinds == [UNREACHABLE]  # every number is silent because nothing reaches this app
    quiet = base.model_copy(update={"alerts": base.alerts.model_copy(update={"unreachable": False})})
    assert [a.kind for a in alerts_now(quiet, **args)] == []  # type: ignore[arg-type]
    ok_args = {**args, "probes": [], "storing": (False, "disk full")}
    kinds = [a.kind for a in alerts_now(base, **ok_args)]  # type: ignore[arg-type]
    assert kinds == [NOT_STORING]
    fine = {**args, "probes": []}
    assert [a.subject for a in alerts_now(base, **fine)] == ["num_a"]  # type: ignore[arg-type]
    muted = base.model_copy(
        update={"notifications": base.notifications.model_copy(update={"muted": ["num_a"]})}
    )
    assert alerts_now(muted, **fine) == []  # type: ignore[arg-type]


# -- notifications -------------------------------------------------------------------------------


def not_storing(since: float = T0) -> Alert:
    return Alert(NOT_STORING, None, since, "Webhooks are not being stored: disk full.")


def unreachable(since: float = T0) -> Alert:
    return Alert(UNREACHABLE, None, since, "The platform cannot reach this app.")


def test_not_storing_is_told_after_holding_30_s_and_a_shorter_blip_never() -> None:
    n = AlertNotifier()
    n.feed([not_storing()], T0)
    assert n.due(T0 + 29) == []
    n.feed([], T0 + 29.5)  # the writer was replaced and stores again: a blip
    assert n.due(T0 + 31) == [] and n.due(T0 + 600) == []
    n.feed([not_storing(T0 + 700)], T0 + 700)
    assert n.due(T0 + 720) == []
    [told] = n.due(T0 + 730)
    assert (told.kind, told.severity, told.text) == (NOT_STORING, "down", not_storing().sentence)


def test_unreachable_is_told_at_once_and_its_recovery_exactly_once() -> None:
    n = AlertNotifier()
    n.feed([unreachable()], T0)
    [opened] = n.due(T0)
    assert opened.kind == UNREACHABLE and opened.severity == "down"
    n.feed([unreachable()], T0 + 15)  # still unreachable: nothing more
    assert n.due(T0 + 15) == []
    n.feed([], T0 + 70)
    [back] = n.due(T0 + 70)
    assert (back.kind, back.severity, back.title) == ("reachable", "ok", "Reachable again")
    n.feed([], T0 + 85)
    assert n.due(T0 + 85) == [] and n.due(T0 + 1000) == []


def test_at_most_one_notification_per_alert_per_spacing() -> None:
    n = AlertNotifier(NotifyRules(disconnect_delay=60))
    n.feed([unreachable()], T0)
    assert len(n.due(T0)) == 1
    n.feed([], T0 + 5)  # back within a minute ...
    assert n.due(T0 + 5) == []
    n.feed([unreachable(T0 + 20)], T0 + 20)  # ... and down again: still down as told
    assert n.due(T0 + 61) == []
    n.feed([], T0 + 100)
    assert [x.kind for x in n.due(T0 + 100)] == ["reachable"]
    n.feed([unreachable(T0 + 110)], T0 + 110)  # a flap right after the recovery waits
    assert n.due(T0 + 110) == []
    assert [x.kind for x in n.due(T0 + 161)] == [UNREACHABLE]


def quiet_around(ts: float) -> NotifyRules:
    local = datetime.fromtimestamp(ts)
    minute = local.hour * 60 + local.minute
    return NotifyRules(quiet_start=minute, quiet_end=(minute + 30) % 1440)


def test_quiet_hours_hold_back_the_opening_and_then_its_recovery() -> None:
    n = AlertNotifier(quiet_around(T0))
    n.feed([unreachable()], T0)
    assert n.due(T0) == [] and n.suppressed == 1
    n.feed([], T0 + 3 * 3600)  # recovered after quiet hours: its opening was never shown
    assert n.due(T0 + 3 * 3600) == []


def test_a_muted_number_is_never_told_silent_others_are() -> None:
    n = AlertNotifier(NotifyRules(muted=frozenset({"num_muted"})), names={"num_a": "Sales"})
    silent = [Alert(SILENCE, s, T0 - 3600, "No webhook event.") for s in ("num_muted", "num_a")]
    n.feed(silent, T0)
    [told] = n.due(T0)
    assert (told.number_id, told.title, told.severity) == ("num_a", "Sales is silent", "warn")
    assert n.suppressed == 1


def test_silence_counts_from_when_the_receiver_listens_again_not_across_a_gap() -> None:
    # Busy until T0 (an event a minute), then nothing ran for 8 h; the app starts at T0 + 8 h.
    c = cadence_of("num_a", regular(50, 60.0, T0), T0)
    start = T0 + 8 * 3600
    assert silence_alerts([c], start + 60, factor=10, min_s=1800, listening_since=start) == []
    assert silence_alerts([c], start + 29 * 60, factor=10, min_s=1800, listening_since=start) == []
    [alert] = silence_alerts([c], start + 31 * 60, factor=10, min_s=1800, listening_since=start)
    assert alert.since == start and "31 min" in alert.sentence
    # A listening start before the last event changes nothing: silence is from the last event.
    [alert] = silence_alerts([c], T0 + 31 * 60, factor=10, min_s=1800, listening_since=T0 - 3600)
    assert alert.since == T0


def test_silence_waits_while_a_gap_is_open_and_counts_from_its_end() -> None:
    silent = [Cadence("num_a", None, T0 - 7200, 60.0, 50, "OPEN")]
    base = Settings()
    args = {"probes": [], "storing": (True, None), "storing_since": T0, "cadences": silent, "now": T0}
    assert [a.subject for a in alerts_now(base, **args)] == ["num_a"]  # type: ignore[arg-type]
    # A tunnel (or receiver_stopped, unreachable...) gap open: every number is silent for it.
    assert alerts_now(base, **args, gap_open=True) == []  # type: ignore[arg-type]
    # The gap ended 10 min ago: silence counts from its end (30 min at least): not yet.
    ended = {**args, "listening_since": T0 - 600}
    assert alerts_now(base, **ended) == []  # type: ignore[arg-type]
    later = {**ended, "now": T0 + 1500}
    [alert] = alerts_now(base, **later)  # type: ignore[arg-type]
    assert (alert.subject, alert.since) == ("num_a", T0 - 600)
