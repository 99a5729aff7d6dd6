"""Pydantic models of the Pilot Status webhook events (schema v3, docs/pilot-status-api.md §1).

The models mirror the official SDK's contract (``pilot_status.webhooks.parse``) field by
field: strict types (``"true"`` is not a boolean), extra fields tolerated (the platform
adds fields without notice), and "optional" keys that may be absent but not ``null``
where the SDK says so. Timestamps stay strings: the SDK does not check their format and
a monitor must not reject what the platform considers valid.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, FailFast, Field, StrictBool, StrictInt, StrictStr

from pilot_desktop.core.catalogue import EVENTS, MODELLED_EVENTS


def _no_null(value: Any) -> Any:
    # An optional key may be left out, but when present it must hold a value.
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


def _int_like(value: Any) -> Any:
    # The SDK checks `isinstance(duration, int)`, which a bool passes; mirror it exactly.
    if value is None:
        raise ValueError("may be omitted but not null")
    if not isinstance(value, int):
        raise ValueError("expected an integer")
    return int(value)


OptStr = Annotated[StrictStr | None, BeforeValidator(_no_null)]
OptInt = Annotated[StrictInt | None, BeforeValidator(_int_like)]

MessageType = Literal[
    "text", "image", "audio", "video", "document", "location", "contacts", "sticker", "reaction"
]


class _Model(BaseModel):
    # Validated by alias only: a stray "from_" key must not stand in for "from".
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=False)


class MessageData(_Model):
    """Fields shared by every ``message.*`` event."""

    numberId: StrictStr
    # Nullable keys may also be absent: the SDK's parser reads them with .get().
    messageId: StrictStr | None = None  # null when the provider gave no id
    id: StrictStr  # `internalMessageId` (pre-v3 name, conflict C2) is read in events.py
    type: Annotated[MessageType | None, BeforeValidator(_no_null)] = None
    fromMe: StrictBool
    createdAt: StrictStr
    from_: OptStr = Field(default=None, alias="from")
    to: StrictStr
    content: OptStr = None
    correlationId: OptStr = None
    mediaLink: OptStr = None
    mediaType: OptStr = None
    mediaCaption: OptStr = None
    mediaFilename: OptStr = None


class FailedData(MessageData):
    error: StrictStr
    errorCode: OptStr = None


class InboundData(MessageData):
    from_: StrictStr = Field(alias="from")
    participantName: StrictStr | None = None


class ReplyData(InboundData):
    contentReplied: OptStr = None
    quotedMessageId: StrictStr | None = None


class GroupData(InboundData):
    groupId: OptStr = None
    groupName: StrictStr | None = None


class NewsletterData(InboundData):
    newsletterId: OptStr = None
    newsletterName: StrictStr | None = None


class NumberData(_Model):
    numberId: StrictStr
    phone: StrictStr
    displayName: StrictStr
    createdAt: StrictStr
    profileName: OptStr = None
    error: OptStr = None
    errorCode: OptStr = None


class LeadField(_Model):
    key: StrictStr
    label: OptStr = None
    # FailFast: stop at the first bad element; a hostile list must not cost seconds.
    values: Annotated[list[StrictStr], FailFast()]


class LeadData(_Model):
    leadId: StrictStr
    leadgenId: StrictStr
    whatsappNumberId: StrictStr
    pageId: StrictStr
    formId: StrictStr
    createdAt: StrictStr
    fields: Annotated[list[LeadField], FailFast()]
    pageName: StrictStr | None = None
    formName: StrictStr | None = None
    adId: StrictStr | None = None
    adsetId: StrictStr | None = None
    campaignId: StrictStr | None = None
    adName: StrictStr | None = None
    adsetName: StrictStr | None = None
    campaignName: StrictStr | None = None
    platform: StrictStr | None = None
    fullName: StrictStr | None = None
    email: StrictStr | None = None
    phone: StrictStr | None = None
    conversationId: StrictStr | None = None
    isOrganic: StrictBool | None = None
    consentGiven: StrictBool | None = None


class _Envelope(_Model):
    event: StrictStr


class MessageEvent(_Envelope):
    data: MessageData


class FailedEvent(_Envelope):
    data: FailedData


class InboundEvent(_Envelope):
    data: InboundData


class ReplyEvent(_Envelope):
    data: ReplyData


class GroupEvent(_Envelope):
    data: GroupData


class NewsletterEvent(_Envelope):
    data: NewsletterData


class NumberEvent(_Envelope):
    data: NumberData


class LeadEvent(_Envelope):
    data: LeadData


class CallEvent(_Envelope):
    """``call.*`` events are flat: their fields sit next to ``event``."""

    callId: StrictStr | None = None
    externalCallId: StrictStr | None = None
    direction: StrictStr | None = None
    status: StrictStr
    from_: StrictStr | None = Field(default=None, alias="from")
    to: StrictStr | None = None
    timestamp: StrictStr
    duration: OptInt = None


# The model of each modelled event of the catalogue: by name, else by its group.
_BY_NAME: dict[str, type[_Envelope]] = {
    "message.failed": FailedEvent,
    "message.received": InboundEvent,
    "message.reply": ReplyEvent,
    "message.group": GroupEvent,
    "message.newsletter": NewsletterEvent,
}
_BY_GROUP: dict[str, type[_Envelope]] = {
    "status": MessageEvent,
    "number": NumberEvent,
    "call": CallEvent,
    "lead": LeadEvent,
}
MODELS: dict[str, type[_Envelope]] = {
    name: _BY_NAME.get(name) or _BY_GROUP[EVENTS[name].group] for name in MODELLED_EVENTS
}
