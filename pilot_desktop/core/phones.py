"""Phone numbers as operators type them: international or national, with any punctuation.

Parsing is Google's libphonenumber (the `phonenumberslite` package: no geocoder or carrier
data). A national format ("(11) 98187-0697") needs a country: the account's, found from the
phones of its numbers (`regions_of`). Stored phones are E.164 ("+5511981870697").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")
_DIGITS = re.compile(r"\D")
MIN_DIGITS = 6  # shorter is an id or an event number, never a phone
MAX_DIGITS = 16


def digits_of(text: str) -> str:
    return _DIGITS.sub("", text)


def looks_like_phone(text: str) -> bool:
    """Only phone characters and MIN_DIGITS..MAX_DIGITS digits: "+55 11 9…", "(11) 98187-0697",
    "5511981870697". Says nothing about whether it is *also* something else (an event number);
    the caller decides with what it knows."""
    text = text.strip()
    return bool(_PHONE_CHARS.match(text)) and MIN_DIGITS <= len(digits_of(text)) <= MAX_DIGITS


def region_of(phone: str) -> str | None:
    """The country (ISO 3166 alpha-2, "BR") of an international phone; None when unknown."""
    try:
        parsed = phonenumbers.parse(phone if phone.startswith("+") else f"+{digits_of(phone)}", None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != "ZZ" else None


def regions_of(phones: Iterable[str]) -> list[str]:
    """The countries of these phones (an account's numbers), most frequent first."""
    counts: dict[str, int] = {}
    for phone in phones:
        region = region_of(phone) if phone else None
        if region:
            counts[region] = counts.get(region, 0) + 1
    return sorted(counts, key=lambda r: -counts[r])


def to_e164(text: str, regions: Iterable[str] = ()) -> str | None:
    """`text` as E.164 when it is a possible phone: international as given, else national in
    the first of `regions` where it is possible. None when it is not a phone."""
    text = text.strip()
    if not looks_like_phone(text):
        return None
    attempts: list[str | None] = [None] if text.startswith("+") else [*regions, None]
    for region in attempts:
        candidate = text if region is not None or text.startswith("+") else f"+{digits_of(text)}"
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def valid(text: str, regions: Iterable[str] = ()) -> bool:
    """`text` is a phone some country actually assigns (libphonenumber's validity, stricter
    than `to_e164`'s possibility: "12345678" is possible in Brazil, never valid there): read
    as international, then as national in each of `regions`."""
    text = text.strip()
    if not looks_like_phone(text):
        return False
    readings: list[tuple[str, str | None]] = [(text if text.startswith("+") else f"+{digits_of(text)}", None)]
    if not text.startswith("+"):
        readings += [(text, region) for region in regions]
    for candidate, region in readings:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
    return False


def phone_forms(text: str, regions: Iterable[str] = ()) -> list[str]:
    """Every stored form `text` may stand for, best first: the E.164 of each reading
    (national in each region, international), then the bare digits as typed. Empty when
    `text` is not phone-like."""
    text = text.strip()
    if not looks_like_phone(text):
        return []
    forms: list[str] = []
    for region in [*regions, None]:
        e164 = to_e164(text, [region] if region else [])
        if e164 and e164 not in forms:
            forms.append(e164)
    digits = digits_of(text)
    for form in (f"+{digits}", digits):
        if form not in forms:
            forms.append(form)
    return forms


def pretty(phone: str) -> str:
    """An E.164 phone in the international format ("+55 11 98187-0697"); as given otherwise."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    if not phonenumbers.is_possible_number(parsed):
        return phone
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
