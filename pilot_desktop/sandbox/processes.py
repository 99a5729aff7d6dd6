"""The three processes every sandbox number runs: connection, health and organic traffic.

Each draws from its own stream of the number's `Line` (`life`, `health_rng`, `traffic`),
so one process never shifts another. Organic sends hand their messages to the lifecycle
(`lifecycle.Messages`); inbound messages, channel posts and calls are emitted here.
"""

from __future__ import annotations

from functools import partial
from random import Random
from typing import TYPE_CHECKING, Any, NamedTuple

from pilot_desktop.sandbox import ids
from pilot_desktop.sandbox.content import (
    CALL_DURATION,
    CHANNEL_POSTS,
    CONNECT_AFTER,
    FIRST_NAMES,
    FLAP_CYCLES,
    FLAP_DOWN,
    FLAP_DROP,
    FLAP_SHARE,
    FLAP_UP,
    GROUP_TEXTS,
    HEALTH_EPISODE_MEAN,
    HEALTH_REASONS,
    HEALTH_STAGE,
    INBOUND,
    INVALID_DESTINATION_SHARE,
    LAST_NAMES,
    META_DROPS,
    NOT_ON_WHATSAPP_SHARE,
    OUTBOUND,
    RECEIPTS_OFF_SHARE,
    UPTIME_MEAN,
    WEB_DROPS,
)

if TYPE_CHECKING:
    from pilot_desktop.sandbox.lifecycle import Messages
    from pilot_desktop.sandbox.scenario import Action, Line, Scheduler


class Contact(NamedTuple):
    phone: str
    name: str | None  # WhatsApp display name; some people have none
    receipts_off: bool
    on_whatsapp: bool


def make_contact(seed: int, phone: str, name_rng: Random) -> Contact:
    # A recipient's traits belong to the phone, so every message to it behaves alike.
    traits = Random(f"{seed}:contact:{phone}")
    has_name = name_rng.random() < 0.92
    name = f"{name_rng.choice(FIRST_NAMES)} {name_rng.choice(LAST_NAMES)}" if has_name else None
    receipts_off = traits.random() < RECEIPTS_OFF_SHARE
    return Contact(phone, name, receipts_off, traits.random() >= NOT_ON_WHATSAPP_SHARE)


def inbound_provider_id(line: Line, rng: Random, phone: str) -> str:
    return ids.wamid(rng, phone) if line.number.provider == "META" else ids.web_inbound_id(rng)


def inbound_body(
    clock: Scheduler, line: Line, event: str, *, stored: str, provider: str, sender: str, name: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "numberId": line.number.id,
        "messageId": provider,
        "id": stored,
        "type": "text",
        "fromMe": False,
        "createdAt": clock.iso(clock.now),
        "from": sender,
        "to": line.number.phone,
        "participantName": name,
    }
    return {"event": event, "data": data}


class NumberProcesses:
    """Connection, health and organic traffic of the numbers, scheduled on `clock`."""

    def __init__(self, clock: Scheduler, messages: Messages) -> None:
        self._clock = clock
        self._messages = messages

    def start(self, line: Line) -> None:
        """Schedule the first step of each of the number's processes (at scenario start)."""
        self._clock.at(0, partial(self._created, line))
        if line.activity_per_ms > 0:
            self._clock.at(self._gap(line), partial(self._activity, line))
        self._clock.at(self._health_gap(line), partial(self._set_health, line, "degraded"))

    # --- number connection -------------------------------------------------------------

    def _number_body(self, line: Line, event: str, **extra: str) -> dict[str, Any]:
        n, created = line.number, self._clock.iso(self._clock.now)
        data = {"numberId": n.id, "phone": n.phone, "displayName": n.name, "createdAt": created}
        return {"event": event, "data": {**data, **extra}}

    def _created(self, line: Line) -> None:
        clock = self._clock
        line.state = "CONNECTING"
        clock.emit(line, "number.created", self._number_body(line, "number.created"))
        clock.at(clock.now + round(line.life.uniform(*CONNECT_AFTER) * 1000), lambda: self._connected(line))

    def _connected(self, line: Line) -> None:
        clock = self._clock
        line.state = "OPEN"
        body = self._number_body(line, "number.connected", profileName=line.profile)
        clock.emit(line, "number.connected", body)
        # What waited for the connection (queued sends, receipts, inbound) flows in now,
        # in its original order, spread like a queue drain that takes at most ~half a minute.
        held, line.held = line.held, []
        gap, ms = min(65.0, 30_000 / max(len(held), 1)), float(clock.now)
        for action in held:
            ms += line.drain.uniform(0, 2 * gap)
            clock.at(round(ms), action, line)
        if line.flaps_left:
            up = line.life.uniform(*FLAP_UP)
        else:
            up = max(30.0, line.life.expovariate(1 / UPTIME_MEAN[line.number.provider]))
        clock.at(clock.now + round(up * 1000), lambda: self._disconnected(line))

    def _disconnected(self, line: Line) -> None:
        rng = line.life
        if line.flaps_left:  # a flapping connection: short drops, one after another
            line.flaps_left -= 1
            code, error = FLAP_DROP
            down = round(rng.uniform(*FLAP_DOWN) * 1000)
        else:
            drops = META_DROPS if line.number.provider == "META" else WEB_DROPS
            code, error, delay = drops[rng.randrange(len(drops))]
            down = delay.ms(rng)
            if line.number.provider != "META" and rng.random() < FLAP_SHARE:
                line.flaps_left = rng.randint(*FLAP_CYCLES)
        line.state = "CLOSED"
        extra = {"profileName": line.profile, "error": error, "errorCode": code}
        body = self._number_body(line, "number.disconnected", **extra)
        self._clock.emit(line, "number.disconnected", body)
        self._clock.at(self._clock.now + down, lambda: self._connected(line))

    # --- number health (events only "*" webhooks get; undocumented payload) --------------

    def _health_gap(self, line: Line) -> int:
        return round(line.health_rng.expovariate(1 / HEALTH_EPISODE_MEAN) * 1000) + 1

    def _set_health(self, line: Line, health: str) -> None:
        clock, rng = self._clock, line.health_rng
        event = "number.recovered" if health == "healthy" else f"number.health_{health}"
        n = line.number
        data = {
            "numberId": n.id,
            "phone": n.phone,
            "displayName": n.name,
            "health": health,
            "previousHealth": line.health,
            "reason": HEALTH_REASONS[health],
            "createdAt": clock.iso(clock.now),
        }
        line.health = health
        clock.emit(line, event, {"event": event, "data": data})
        if health == "healthy":
            clock.at(clock.now + self._health_gap(line), partial(self._set_health, line, "degraded"))
            return
        if health == "degraded":  # Meta has quality ratings, not shadowbans
            worse = "blocked" if n.provider == "META" else rng.choice(("shadowban", "shadowban", "blocked"))
            following = worse if rng.random() < 0.35 else "healthy"
        else:
            following = "healthy"
        stage = round(rng.uniform(*HEALTH_STAGE) * 1000)
        clock.at(clock.now + stage, lambda: self._set_health(line, following))

    # --- organic traffic -----------------------------------------------------------------

    def _gap(self, line: Line) -> int:
        return max(1, round(line.traffic.expovariate(line.activity_per_ms)))

    def _activity(self, line: Line) -> None:
        clock, rng = self._clock, line.traffic
        kind = rng.choices(line.mix[0], cum_weights=line.mix[1])[0]
        if kind == "send":
            self._organic_send(line, rng)
        elif kind == "call":
            self._call(line, rng)
        else:
            clock.at(clock.now, self._organic_inbound(line, rng, kind), line)
        clock.at(clock.now + self._gap(line), lambda: self._activity(line))

    def _organic_send(self, line: Line, rng: Random) -> None:
        contact = rng.choice(line.contacts)
        to = contact.phone
        if rng.random() < INVALID_DESTINATION_SHARE:  # a typo in the customer's CRM
            to = to[:-4]
        text = rng.choice(OUTBOUND).format(
            first=(contact.name or "cliente").split()[0],
            n=rng.randint(10000, 99999),
            n2=rng.randint(49, 899),
            hour=rng.randint(8, 18),
            code=f"{rng.randrange(10**6):06d}",
        )
        now = self._clock.now
        epoch = self._clock.start_ms + now
        msg_id, corr_id = ids.ulid("msg_", rng, epoch), ids.ulid("corr_", rng, epoch)
        self._messages.accept(line, to, text, at_ms=now, msg_id=msg_id, corr_id=corr_id, contact=contact)

    def _organic_inbound(self, line: Line, rng: Random, kind: str) -> Action:
        contact = rng.choice(line.reachable)
        sender, name = contact.phone, contact.name
        extra: dict[str, Any] = {}
        if kind == "received":
            event, text = "message.received", rng.choice(INBOUND)
        elif kind == "group":
            group_id, group_name = rng.choice(line.groups)
            event, text = "message.group", rng.choice(GROUP_TEXTS)
            extra = {"groupId": group_id, "groupName": group_name}
        else:  # a channel post comes from the channel's owner, without a display name
            channel_id, channel_name, sender = rng.choice(line.channels)
            event, text, name = "message.newsletter", rng.choice(CHANNEL_POSTS), None
            extra = {"newsletterId": channel_id, "newsletterName": channel_name}
        stored, provider = ids.stored_id(rng), inbound_provider_id(line, rng, sender)
        if kind != "newsletter" and rng.random() < 0.12:  # a photo: caption and file, no text
            extra |= {"type": "image", "mediaType": "image/jpeg", "mediaCaption": text}
            extra["mediaFilename"] = f"IMG-{stored[-8:]}.jpg"
        else:
            extra["content"] = text
        clock = self._clock

        def arrive() -> None:
            body = inbound_body(
                clock, line, event, stored=stored, provider=provider, sender=sender, name=name
            )
            body["data"].update(extra)
            if kind == "received":  # a 1:1 message opens Meta's 24 h window
                line.last_inbound[sender] = clock.now
            clock.emit(line, event, body)

        return arrive

    def _call(self, line: Line, rng: Random) -> None:
        if line.state != "OPEN":  # nobody can ring a disconnected number back later
            return
        clock = self._clock
        caller = rng.choice(line.reachable).phone
        call_id = ids.ulid("call_", rng, clock.start_ms + clock.now)
        external = ids.wacid(rng, caller)  # calls are Meta Cloud API only (content.ACTIVITY_MIX)

        def event(name: str, status: str, **extra: int) -> Action:
            def run() -> None:
                body: dict[str, Any] = {
                    "event": name,
                    "callId": call_id,
                    "externalCallId": external,
                    "direction": "INBOUND",
                    "status": status,
                    "from": caller,
                    "to": line.number.phone,
                    "timestamp": clock.iso(clock.now),
                    **extra,
                }
                clock.emit(line, name, body)

            return run

        clock.at(clock.now, event("call.ringing", "RINGING"))
        outcome = rng.random()
        if outcome < 0.55:  # answered
            answered = clock.now + round(rng.uniform(3, 20) * 1000)
            duration = CALL_DURATION.ms(rng)
            clock.at(answered, event("call.connected", "ACCEPTED"))
            clock.at(answered + duration, event("call.ended", "COMPLETED", duration=round(duration / 1000)))
        elif outcome < 0.9:
            clock.at(clock.now + round(rng.uniform(15, 45) * 1000), event("call.missed", "MISSED"))
        else:  # declined on the business side
            clock.at(clock.now + round(rng.uniform(2, 10) * 1000), event("call.ended", "REJECTED"))
