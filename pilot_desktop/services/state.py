"""What the app generates or learns (`state.json`), kept apart from the operator's preferences.

The hook token, the accounts (public side only: each API key is in the secret store under
`key_ref`), which webhooks have a signing secret stored and the route each checks, and the
marker that the real receiver was asked for. Frozen like the settings: changes go through
`Document.update`.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pilot_desktop.api.client import DEFAULT_BASE_URL

STATE_VERSION = 1
_FROZEN = ConfigDict(extra="forbid", frozen=True)


def _one_segment(value: str) -> str:
    if "/" in value:
        raise ValueError("a route is one URL path segment, without '/'")
    return value


# The last path segment of a hook URL (`/hooks/<token>/<route>`); "" for the bare hook URL.
Route = Annotated[str, Field(max_length=256), AfterValidator(_one_segment)]


class AccountNumber(BaseModel):
    model_config = _FROZEN

    id: str = Field(min_length=1)
    name: str = ""
    phone: str = ""


class Account(BaseModel):
    """An API key's public side; the key itself lives in the secret store under `key_ref`."""

    model_config = _FROZEN

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = ""
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Pilot Status API base URL.")
    scope: str = Field(pattern=r"^(tenant|number)$", description="tenant key or number-scoped key.")
    numbers: list[AccountNumber] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        # ".../v1" is how the docs write the base; the client adds /v1 itself.
        value = value.strip().rstrip("/").removesuffix("/v1")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local sandbox)")
        return value

    @property
    def key_ref(self) -> str:
        return f"api-key:{self.id}"


class ExpectedWebhook(BaseModel):
    """A webhook of this app as the app last made or saw it: what the drift audit expects."""

    model_config = _FROZEN

    number_id: str
    url: str
    active: bool = True
    events: list[str] = Field(default_factory=list, description="As the platform returned them.")
    asked: list[str] = Field(
        default_factory=list, description="As the app asked for them (the platform may drop some)."
    )
    at: float = Field(default=0.0, description="When the app made, changed or adopted it (epoch s).")


def new_token() -> str:
    return secrets.token_urlsafe(24)


class State(BaseModel):
    model_config = _FROZEN

    version: int = STATE_VERSION
    token: str = Field(
        default_factory=new_token,
        min_length=16,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Random per-install secret path segment of the hook URL.",
    )
    real_receiver: bool = Field(
        default=False,
        description="Set once the real receiver was asked for (serve, hook-url, --no-demo, an "
        "account): the window then starts it instead of the demo.",
    )
    accounts: list[Account] = Field(default_factory=list)
    signing_secret_webhooks: list[str] = Field(
        default_factory=list,
        description="Ids of webhooks whose signing secret is in the secret store (ids only, never "
        "secrets), in the order they were stored.",
    )
    signing_secret_routes: dict[str, Route | None] = Field(
        default_factory=dict,
        description="For a webhook of signing_secret_webhooks, the route its URL names "
        '(<token>/<route>; "" for the bare hook URL, null when it does not point at this app): '
        "its secret checks that route's deliveries only. A webhook missing here (a secret stored "
        "before settings v3) has its route filled in when the webhook list is next read; until "
        "then its secret checks every route.",
    )
    tunnel_url: str | None = Field(
        default=None,
        description="The public URL the managed tunnel (settings tunnel.mode other than manual) "
        "reported last: webhooks point at <tunnel_url>/hooks/<token>/<route>.",
    )
    expected_webhooks: dict[str, ExpectedWebhook] = Field(
        default_factory=dict,
        description="By webhook id: this app's webhooks as it made them (the drift audit compares "
        "the platform's with these).",
    )
    signing_secrets_revision: int = Field(
        default=0,
        ge=0,
        description="Bumped whenever a stored signing secret is set or forgotten, so running "
        "receivers re-read the secrets even when the index above did not change.",
    )
