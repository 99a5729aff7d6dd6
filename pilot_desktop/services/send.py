"""Send a test message and follow it: the use case the Send dialog and `pilot-desktop send` call.

`Sender` checks the request before anything leaves (a number the accounts can act on, an
E.164 destination, a text within the platform's limit), then sends it through the API
with an Idempotency-Key. The key belongs to the request, not to the attempt: the same
request sent again after a failure (a lost answer, a timeout) carries the same key, so
the platform answers the first acceptance again instead of sending twice. The key is
dropped once an acceptance came back; a new click then sends a new message.

`Watch` follows the sent message in the store (read-only, polled): the steps its webhooks
add, and those reconstructed from the API after a gap (marked, never taken for a
delivery). Webhooks reach the store only through a running receiver (the window or
`serve` on the same data folder): `receiver_alive` says whether one is running, from
the heartbeat it keeps in the store.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers

from pilot_desktop.api.errors import ApiError
from pilot_desktop.core.format import clock, duration, parse_time, when
from pilot_desktop.core.phones import looks_like_phone, region_of
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.state import Account, AccountNumber
from pilot_desktop.store.read_models import MessageRow, Step, Timeline
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import HeartbeatRow

E164 = re.compile(r"\+[1-9]\d{6,14}")  # what the platform's send accepts (api §5.1)
MAX_TEXT = 4096  # characters; the platform refuses longer texts
FINAL = ("READ", "FAILED", "CANCELED")
# The running core writes its heartbeat every few seconds; this much silence means it is gone.
ALIVE_WITHIN_S = 30.0

FindNumber = Callable[[str], tuple[Account, AccountNumber]]


class SendError(Exception):
    """The request cannot be sent as given (`usage`), said as a sentence naming the field."""

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class SendRequest:
    number_id: str
    to: str
    text: str


@dataclass(frozen=True)
class Sent:
    """The platform's 202: what the message will be known by in its webhooks."""

    id: str
    correlation_id: str | None
    status: str
    created_at: str | None  # as the platform wrote it
    number_id: str
    to: str
    text: str
    idempotency_key: str
    replayed: bool = False  # the platform answered an earlier acceptance of the same key
    sent_at: float = field(default_factory=time.time)  # when the 202 came back, here

    @property
    def created(self) -> float:
        """The platform's createdAt, else when the answer came back."""
        return parse_time(self.created_at) or self.sent_at

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "correlationId": self.correlation_id,
            "status": self.status,
            "createdAt": self.created_at,
            "numberId": self.number_id,
            "to": self.to,
            "idempotencyKey": self.idempotency_key,
            "replayed": self.replayed,
        }


def check_destination(to: str, region: str | None = None) -> str:
    """The destination as E.164. Written with '+' and any punctuation, or national in
    `region` (the sending number's country: "(11) 98765-0001" from a Brazilian number),
    it is taken only when libphonenumber finds it a valid number there, never guessed."""
    value = to.strip()
    if not value:
        raise SendError("Give the destination: a phone number in E.164 with '+', e.g. +5511999999999.")
    if E164.fullmatch(value):
        return value
    if (read := _valid_phone(value, region)) is not None:
        return read
    national = f", or a national number of {region}" if region else ""
    hint = " (add the '+' and the country code)" if value.isdigit() else ""
    raise SendError(
        f"The destination {value!r} is not an E.164 phone number{hint}: '+', the country code "
        f"and the number, e.g. +5511999999999{national}."
    )


def _valid_phone(value: str, region: str | None) -> str | None:
    if not looks_like_phone(value) or (region is None and not value.startswith("+")):
        return None
    try:
        parsed = phonenumbers.parse(value, None if value.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_text(text: str) -> str:
    if not text.strip():
        raise SendError("The text is empty: write the message to send.")
    if len(text) > MAX_TEXT:
        raise SendError(f"The text has {len(text):,} characters; Pilot Status takes at most {MAX_TEXT:,}.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SendError("The text holds a character that is not valid Unicode (a lone surrogate).") from None
    return text


def api_sentence(exc: ApiError) -> str:
    """An API failure of a send, said for the operator (the client's sentence, plus what
    it means for this message)."""
    text = str(exc)
    if exc.maybe_applied:
        return (
            f"{text} Sending again with the same number, destination and text reuses the same "
            "Idempotency-Key, so it cannot send twice."
        )
    return text


class Sender:
    """Sends for the accounts of one profile. `find_number(text)` names the number by id,
    phone or name (services/webhook_admin.py `WebhookAdmin.find_number`)."""

    def __init__(self, accounts: Accounts, find_number: FindNumber) -> None:
        self.accounts = accounts
        self._find = find_number
        self._keys: dict[SendRequest, str] = {}

    def numbers(self) -> list[AccountNumber]:
        return [n for _, n in self.accounts.numbers()]

    def prepare(self, number: str, to: str, text: str) -> SendRequest:
        """The request, checked; SendError (or the finder's error) says what is wrong."""
        if not number.strip():
            raise SendError("Choose the number to send from.")
        _, found = self._find(number)
        region = region_of(found.phone) if found.phone else None  # national destinations read there
        return SendRequest(found.id, check_destination(to, region), check_text(text))

    def key_for(self, request: SendRequest) -> str:
        return self._keys.setdefault(request, str(uuid.uuid4()))

    async def send(self, request: SendRequest, *, idempotency_key: str | None = None) -> Sent:
        """POST /v1/messages/send. ApiError on failure (its `maybe_applied` says the send may
        have gone out: sending the same request again is then safe, same key)."""
        key = idempotency_key or self.key_for(request)
        async with self.accounts.client_for_number(request.number_id) as client:
            accepted = await client.send_text(request.to, request.text, idempotency_key=key)
        self._keys.pop(request, None)
        return Sent(
            id=accepted.id,
            correlation_id=accepted.correlation_id,
            status=accepted.status,
            created_at=accepted.created_at,
            number_id=request.number_id,
            to=request.to,
            text=request.text,
            idempotency_key=key,
            replayed=accepted.replayed,
        )


# -- is anything receiving? ------------------------------------------------------------------


def receiver_alive(beat: HeartbeatRow | None, now: float) -> tuple[bool | None, str]:
    """Whether a core (the window or `serve`) is receiving on this store: True, False, or
    None when the store holds no heartbeat (a receiver that never ran here, or one from
    before heartbeats). With a sentence saying why."""
    if beat is None:
        return None, "no receiver has recorded a heartbeat in this data folder"
    if beat.stopped_at is not None and beat.stopped_at >= beat.alive_at:
        return False, f"the last receiver stopped at {when(beat.stopped_at, now)}"
    if beat.pid is not None and not _pid_alive(beat.pid):
        return False, f"the last receiver (pid {beat.pid}) is gone since {when(beat.alive_at, now)}"
    silent = max(0.0, now - beat.alive_at)
    if silent > ALIVE_WITHIN_S:
        return False, f"no receiver heartbeat for {duration(silent)} (since {when(beat.alive_at, now)})"
    return True, f"a receiver is running (pid {beat.pid}, heartbeat {duration(silent)} ago)"


def _pid_alive(pid: int) -> bool:
    """On this machine, the process exists (another user's counts). A store is a local file."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# -- following the message -------------------------------------------------------------------


def step_text(step: Step) -> str:
    """How a step came in: a webhook, or read back from the API after a gap."""
    r = step.reconstructed
    if r is not None:
        at = clock(r.at) if r.at is not None else (r.at_text or "time unknown")
        return f"reconstructed from the API ({r.source or 'GET /v1/messages'}, at {at})"
    return f"webhook {step.event} (event #{step.event_id})"


@dataclass
class Update:
    """What one poll found: the message once it is stored, the steps and replies new
    since the last poll (in the order found), whether it is final."""

    message: MessageRow | None = None
    steps: list[Step] = field(default_factory=list)
    replies: list[MessageRow] = field(default_factory=list)
    timeline: Timeline | None = None

    @property
    def final(self) -> bool:
        return self.message is not None and self.message.status in FINAL


class Watch:
    """Follows one sent message in the store (any Reads: the CLI's read-only one)."""

    def __init__(self, reads: Reads, sent: Sent) -> None:
        self.reads = reads
        self.sent = sent
        self.row: int | None = None
        self._seen: set[int] = set()
        self._replies: set[int] = set()
        self.last: Update = Update()

    def find(self) -> int | None:
        """The stored message of this send: by its id, else its correlationId (a message
        row appears with its first webhook)."""
        for key in (self.sent.id, self.sent.correlation_id):
            if not key:
                continue
            found = self.reads.resolve_message(key)
            if found is not None and found[1] in ("id", "correlationId"):
                return found[0]
        return None

    def poll(self, now: float | None = None) -> Update:
        now = time.time() if now is None else now
        if self.row is None:
            self.row = self.find()
            if self.row is None:
                return Update()
        t = self.reads.timeline(self.row, now)
        if t is None:  # rebuilt meanwhile: find it again next time
            self.row = None
            return Update()
        new = [s for s in t.steps if s.event_id not in self._seen]
        self._seen.update(s.event_id for s in new)
        replies = [r for r in t.replies if r.id not in self._replies]
        self._replies.update(r.id for r in replies)
        self.last = Update(t.message, new, replies, t)
        return self.last
