"""Number protection: a signing secret protects its number on every route.

A webhook's secret is stored for the route its URL names, and a managed webhook's route is
its number id, so the secret also says "deliveries about this number are signed". That
holds whatever URL a request is posted to: an event that names a protected number (in any
field, in any case, with spaces around it, or in the route) is accepted only when signed
with one of that number's secrets, or with a secret that checks every route (given at
start, or stored before routes were known).

`Protection` is built by the signing-secret provider whenever its secrets change, and asked
on every request: it holds no I/O. What a delivery may not touch (`Decision.forbid`) goes to
the writer with the event, which refuses it there when it names a message of such a number
(store/guard.py): the message's number is known only to the store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pilot_desktop.core.signature import Verdict, verify

# Longer strings (message text, media links) are not compared: no number id is that long.
_SLACK = 16


def fold(text: str) -> str:
    """How a number id is compared: compatibility forms, case and spacing do not matter."""
    if text.isascii():
        return "".join(text.split()).lower()
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cf")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict  # what is stored with the event
    forbid: frozenset[str] = frozenset()  # protected numbers this delivery does not vouch for
    refused: str | None = None  # the 401's reason


@dataclass(frozen=True)
class Protection:
    # Number id -> the secrets checking it, in the order its route lists them (so a stored
    # verdict's `#index` is the route's). Empty: no number is protected.
    secrets_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Secrets that vouch for every number: given at start, or stored without a known route.
    everywhere: frozenset[str] = frozenset()
    _names: dict[str, str] = field(init=False, repr=False, compare=False)
    _longest: int = field(init=False, repr=False, compare=False)
    _shortest: int = field(init=False, repr=False, compare=False)
    _numbers: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {fold(n): n for n in self.secrets_of}
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_longest", max(map(len, names), default=0) + _SLACK)
        object.__setattr__(self, "_shortest", min(map(len, names), default=0))
        object.__setattr__(self, "_numbers", frozenset(self.secrets_of))

    @property
    def numbers(self) -> frozenset[str]:
        return self._numbers

    def named(self, obj: Any, route: str | None = None) -> set[str]:
        """The protected numbers a body (any key or string value, at any depth) or its
        route names."""
        found: set[str] = set()
        if not self._names:
            return found
        strings: list[str] = [route] if route else []
        stack: list[Any] = [obj]
        while stack:  # no recursion: a deep body must not raise here
            value = stack.pop()
            if isinstance(value, dict):
                strings.extend(value)
                for item in value.values():
                    if isinstance(item, str):
                        strings.append(item)
                    elif isinstance(item, (dict, list)):
                        stack.append(item)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        strings.append(item)
                    elif isinstance(item, (dict, list)):
                        stack.append(item)
            elif isinstance(value, str):
                strings.append(value)
        names, shortest, longest = self._names, self._shortest, self._longest
        for text in set(strings):  # each distinct string folded once (a body may repeat one)
            # Folding an ASCII string only drops characters: shorter ones cannot match.
            size = len(text)
            if size > longest or (size < shortest and text.isascii()):
                continue
            if (n := names.get(fold(text))) is not None:
                found.add(n)
        return found

    def decide(
        self,
        obj: Any,
        route: str | None,
        verdict: Verdict,
        *,
        checked: Sequence[str],
        signed: Sequence[bytes],
        header: str | None,
    ) -> Decision:
        """`verdict` is the route's check against `checked`; `signed` the bytes a signature
        may cover (the decoded body, then the bytes on the wire)."""
        if not self.secrets_of:
            return Decision(verdict)
        index = verdict.secret_index if verdict.status == "valid" else None
        matched = checked[index - 1] if index else None
        if matched is not None and matched in self.everywhere:
            return Decision(verdict)  # a secret for every route vouches for every number
        vouched: set[str] = set()
        if matched is not None and route is not None and route in self.secrets_of:
            vouched.add(route)  # the route's own secret: route == that webhook's number
        for number in sorted(self.named(obj, route) - vouched):
            own = self._verify(number, signed, header)
            if own.status != "valid":
                return Decision(
                    verdict,
                    refused=(
                        f"this event names number {number}, which a stored signing secret protects: "
                        f"it is accepted only when signed with that number's webhook secret ({own.reason})"
                    ),
                )
            vouched.add(number)
            if verdict.status != "valid":
                verdict = own  # checked with the secrets of the number it names
        return Decision(verdict, self.numbers - vouched)

    def _verify(self, number: str, signed: Sequence[bytes], header: str | None) -> Verdict:
        secrets = self.secrets_of[number]
        verdict = verify(signed[0], header, secrets)
        for other in signed[1:]:
            if verdict.status == "valid" or other is signed[0]:
                break
            again = verify(other, header, secrets)
            verdict = again if again.status == "valid" else verdict
        return verdict


NO_PROTECTION = Protection()
