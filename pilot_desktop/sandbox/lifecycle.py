"""The life of one outbound message: QUEUED → SENT → DELIVERED → READ (and a reply), or FAILED.

Everything random about a message is drawn once, when it is accepted, from a stream seeded
by the scenario seed and the message id (`Plan`); the number's state when each step runs
(connection, health, Meta's 24 h window) decides how those draws play out. The records kept
answer `GET /v1/messages/{id}` by internal id, correlationId or provider messageId.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from functools import partial
from random import Random
from typing import TYPE_CHECKING, Any, NamedTuple

from pilot_desktop.sandbox import ids
from pilot_desktop.sandbox.content import (
    BLOCKED,
    CONFIRM_WINDOW,
    DELIVERED_AFTER,
    ERRORS,
    META_RATE_LIMITED_SHARE,
    META_WINDOW_CLOSED_SHARE,
    NEVER_CONFIRMED,
    OFFLINE_DELIVERY,
    OFFLINE_SHARE,
    QUEUE_TIMEOUT,
    READ_AFTER,
    READ_SHARE,
    REPLIES,
    REPLY_AFTER,
    REPLY_SHARE,
    SENT_AFTER,
)
from pilot_desktop.sandbox.processes import Contact, inbound_body, inbound_provider_id, make_contact

if TYPE_CHECKING:
    from pilot_desktop.sandbox.scenario import Line, Scheduler

_MAX_MESSAGES = 200_000  # records kept for GET /v1/messages; oldest finished ones go first


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One outbound message as `GET /v1/messages/{id}` knows it (api §5.2)."""

    id: str
    number_id: str
    to: str
    content: str
    correlation_id: str
    created_at: str
    status: str = "QUEUED"
    external_message_id: str | None = None
    sent_at: str | None = None
    delivered_at: str | None = None
    read_at: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    origin: str = "API"

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "externalMessageId": self.external_message_id,
            "status": self.status,
            "correlationId": self.correlation_id,
            "destinationNumber": self.to,
            "createdAt": self.created_at,
            "sentAt": self.sent_at,
            "deliveredAt": self.delivered_at,
            "readAt": self.read_at,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
            "origin": self.origin,
            "metaPricing": None,
        }

    @property
    def provider_time(self) -> str:
        """When it happened on WhatsApp (history's `providerTimestamp`): sent, else accepted."""
        return self.sent_at or self.created_at

    def as_history(self, provider: str) -> dict[str, Any]:
        """Its `GET /v1/messages/history` row (api §5.4); `provider` is the number's."""
        return {
            "id": self.id,
            "conversationId": f"conv_{self.number_id}_{self.to.lstrip('+')}",
            "direction": "OUTBOUND",
            "providerKind": "META" if provider == "META" else "EVO_V2",
            "externalMessageId": self.external_message_id,
            "status": self.status,
            "messageType": "text",
            "origin": self.origin,
            "text": self.content,
            "participantName": None,
            "participantPhone": self.to,
            "participantUserId": None,
            "repliedToExternalId": None,
            "media": None,
            "sentAt": self.sent_at,
            "deliveredAt": self.delivered_at,
            "readAt": self.read_at,
            "providerTimestamp": self.provider_time,
            "createdAt": self.created_at,
            "referral": None,
        }


def is_destination(to: str) -> bool:
    # What E.164 normalization accepts: '+', 8–15 digits; Brazil has 12 or 13. Groups too.
    if to.endswith("@g.us"):
        return True
    digits = to[1:]
    if not (to.startswith("+") and digits.isdigit() and 8 <= len(digits) <= 15 and digits[0] != "0"):
        return False
    return not digits.startswith("55") or len(digits) in (12, 13)


class Plan(NamedTuple):
    """Everything random about one outbound message, drawn once when it is accepted.

    Raw uniforms (`u_*`) are read later against the number's state at that moment
    (health, 24 h window), so the draws never depend on when they are used.
    """

    sent_after: int
    provider_id: str
    u_fail: float
    u_confirm: float
    confirm_window: int
    delivered_after: int
    read_after: int | None
    reply_after: int | None
    reply_text: str
    reply_id: str
    reply_provider_id: str
    contact: Contact


class Messages:
    """The outbound messages of a scenario: their records, and their lifecycles on `clock`."""

    def __init__(self, clock: Scheduler, seed: int) -> None:
        self._clock = clock
        self._seed = seed
        self._records: dict[str, MessageRecord] = {}
        self._keys: dict[str, str] = {}  # correlationId / provider id → internal id
        self._finished: deque[str] = deque()  # message ids in terminal states, oldest first

    def get(self, key: str) -> MessageRecord | None:
        """By internal id, correlationId or provider messageId (as `GET /v1/messages/{id}`)."""
        return self._records.get(self._keys.get(key, key))

    def of_number(self, number_id: str) -> list[MessageRecord]:
        """Every record of one number (the oldest finished ones may have been forgotten)."""
        return [r for r in self._records.values() if r.number_id == number_id]

    def are_new(self, message_id: str, correlation_id: str) -> bool:
        keys = self._keys
        return not (message_id in self._records or message_id in keys or correlation_id in keys)

    def accept(
        self,
        line: Line,
        to: str,
        text: str,
        *,
        at_ms: int,
        msg_id: str,
        corr_id: str,
        contact: Contact | None = None,
    ) -> None:
        """Record a message as QUEUED at `at_ms` and schedule the rest of its life."""
        rng = Random(f"{self._seed}:msg:{msg_id}")
        if contact is None:  # an API send: the recipient's traits still belong to its phone
            contact = make_contact(self._seed, to, rng)
        plan = self._plan(line, rng, contact)
        record = MessageRecord(msg_id, line.number.id, to, text, corr_id, self._clock.iso(at_ms))
        self._records[msg_id] = record
        self._keys[corr_id] = msg_id
        self._trim()
        if not is_destination(to):  # normalization fails on the platform, at once
            fail = partial(self._fail, line, msg_id, "INVALID_DESTINATION", None)
            self._clock.at(at_ms + rng.randint(50, 400), fail)
            return
        self._clock.at(at_ms + plan.sent_after, lambda: self._dispatch(line, msg_id, plan), line)
        self._clock.at(at_ms + round(QUEUE_TIMEOUT * 1000), lambda: self._expire(line, msg_id))

    def _plan(self, line: Line, rng: Random, contact: Contact) -> Plan:
        meta = line.number.provider == "META"
        delivered = DELIVERED_AFTER.ms(rng)
        if rng.random() < OFFLINE_SHARE:
            delivered = round(rng.uniform(*OFFLINE_DELIVERY) * 1000)
        read = READ_AFTER.ms(rng) if rng.random() < READ_SHARE else None
        reply = REPLY_AFTER.ms(rng) if rng.random() < REPLY_SHARE else None
        return Plan(
            sent_after=SENT_AFTER.ms(rng),
            provider_id=ids.wamid(rng, contact.phone) if meta else ids.web_outbound_id(rng),
            u_fail=rng.random(),
            u_confirm=rng.random(),
            confirm_window=round(rng.uniform(*CONFIRM_WINDOW) * 1000),
            delivered_after=delivered,
            read_after=read,
            reply_after=reply,
            reply_text=rng.choice(REPLIES),
            reply_id=ids.stored_id(rng),
            reply_provider_id=inbound_provider_id(line, rng, contact.phone),
            contact=contact,
        )

    def _status_body(self, line: Line, event: str, record: MessageRecord) -> dict[str, Any]:
        data: dict[str, Any] = {
            "numberId": line.number.id,
            "messageId": record.external_message_id,
            "id": record.id,
            "type": "text",
            "fromMe": True,
            "createdAt": self._clock.iso(self._clock.now),
            "from": line.number.phone,
            "to": record.to,
            "content": record.content,
            "correlationId": record.correlation_id,
        }
        if record.external_message_id is None:  # never reached the provider (sample shape)
            del data["from"]
        if event == "message.failed":
            data.update(error=record.error_message, errorCode=record.error_code)
        return {"event": event, "data": data}

    def _update(self, line: Line, msg_id: str, event: str, **changes: Any) -> MessageRecord:
        record = self._records[msg_id] = replace(self._records[msg_id], **changes)
        self._clock.emit(line, event, self._status_body(line, event, record))
        return record

    def _dispatch(self, line: Line, msg_id: str, plan: Plan) -> None:
        record, now = self._records.get(msg_id), self._clock.now
        if record is None or record.status != "QUEUED":
            return  # expired while the number was offline
        meta, u = line.number.provider == "META", plan.u_fail
        window_open = now - line.last_inbound.get(record.to, -(10**12)) < 86_400_000
        if line.health == "blocked":
            self._fail(line, msg_id, "DELIVERY_TIMEOUT", None, error=BLOCKED)
        elif not plan.contact.on_whatsapp:
            self._fail(line, msg_id, "WHATSAPP_NOT_EXIST", None)
        elif meta and u < META_RATE_LIMITED_SHARE:
            self._fail(line, msg_id, "META_RATE_LIMITED", None)
        elif meta and not window_open and u < META_RATE_LIMITED_SHARE + META_WINDOW_CLOSED_SHARE:
            # Meta accepts the send (a wamid exists) and fails it asynchronously (api §1.6).
            self._fail(line, msg_id, "META_OUTSIDE_24H_WINDOW", plan.provider_id)
        else:
            self._keys[plan.provider_id] = msg_id
            self._update(
                line,
                msg_id,
                "message.sent",
                status="SENT",
                external_message_id=plan.provider_id,
                sent_at=self._clock.iso(now),
            )
            if plan.u_confirm < NEVER_CONFIRMED[line.health]:
                self._clock.at(now + plan.confirm_window, lambda: self._unconfirmed(line, msg_id))
            else:
                self._clock.at(now + plan.delivered_after, lambda: self._delivered(line, msg_id, plan), line)

    def _delivered(self, line: Line, msg_id: str, plan: Plan) -> None:
        if (record := self._records.get(msg_id)) is None or record.status != "SENT":
            return
        now = self._clock.now
        self._update(line, msg_id, "message.delivered", status="DELIVERED", delivered_at=self._clock.iso(now))
        if plan.read_after is None:
            self._finished.append(msg_id)
            return
        read_at = now + plan.read_after
        if plan.contact.receipts_off:  # read, but the sender never learns it
            self._finished.append(msg_id)
        else:
            self._clock.at(read_at, lambda: self._read(line, msg_id), line)
        if plan.reply_after is not None and "@" not in record.to:
            self._clock.at(read_at + plan.reply_after, lambda: self._reply(line, record, plan), line)

    def _read(self, line: Line, msg_id: str) -> None:
        if (record := self._records.get(msg_id)) is not None and record.status == "DELIVERED":
            read_at = self._clock.iso(self._clock.now)
            self._update(line, msg_id, "message.read", status="READ", read_at=read_at)
            self._finished.append(msg_id)

    def _reply(self, line: Line, quoted: MessageRecord, plan: Plan) -> None:
        line.last_inbound[quoted.to] = self._clock.now
        body = inbound_body(
            self._clock,
            line,
            "message.reply",
            stored=plan.reply_id,
            provider=plan.reply_provider_id,
            sender=quoted.to,
            name=plan.contact.name,
        )
        body["data"].update(
            content=plan.reply_text,
            contentReplied=quoted.content,
            quotedMessageId=plan.provider_id,
            correlationId=quoted.correlation_id,
        )
        self._clock.emit(line, "message.reply", body)

    def _unconfirmed(self, line: Line, msg_id: str) -> None:
        if (record := self._records.get(msg_id)) is not None and record.status == "SENT":
            self._fail(line, msg_id, "DELIVERED_NOT_CONFIRMED", record.external_message_id)

    def _expire(self, line: Line, msg_id: str) -> None:
        if (record := self._records.get(msg_id)) is not None and record.status == "QUEUED":
            self._fail(line, msg_id, "DELIVERY_TIMEOUT", None)

    def _fail(
        self, line: Line, msg_id: str, code: str, provider_id: str | None, error: str | None = None
    ) -> None:
        if provider_id is not None:
            self._keys[provider_id] = msg_id
        self._update(
            line,
            msg_id,
            "message.failed",
            status="FAILED",
            external_message_id=provider_id,
            error_code=code,
            error_message=error or ERRORS[code],
        )
        self._finished.append(msg_id)

    def _trim(self) -> None:
        # Bounded memory for long high-rate runs: forget the oldest finished messages.
        while len(self._records) > _MAX_MESSAGES and self._finished:
            record = self._records.pop(self._finished.popleft(), None)
            if record is not None:
                self._keys.pop(record.correlation_id, None)
                if record.external_message_id is not None:
                    self._keys.pop(record.external_message_id, None)
