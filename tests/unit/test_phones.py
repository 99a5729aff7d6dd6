"""Phones as operators type them: national formats read with the account's country."""

from __future__ import annotations

from pilot_desktop.core.phones import looks_like_phone, phone_forms, pretty, regions_of, to_e164


def test_a_national_format_is_read_with_the_accounts_country() -> None:
    regions = regions_of(["+5511981870001", "+5521999990000", "+14155550100"])
    assert regions == ["BR", "US"]
    assert to_e164("(11) 98187-0697", regions) == "+5511981870697"
    assert phone_forms("(11) 98187-0697", regions)[0] == "+5511981870697"


def test_international_forms_need_no_country() -> None:
    assert to_e164("+55 11 98187-0697") == "+5511981870697"
    assert to_e164("5511981870697") == "+5511981870697"
    assert "+5511981870697" in phone_forms("55 (11) 98187-0697")


def test_ids_names_and_event_numbers_are_not_phones() -> None:
    for text in ("num_abc123", "Restaurante Sabor Caseiro", "#1234", "42", "12345"):
        assert not looks_like_phone(text)
        assert phone_forms(text, ["BR"]) == []
        assert to_e164(text, ["BR"]) is None


def test_pretty_prints_international_format() -> None:
    assert pretty("+5511981870697") == "+55 11 98187-0697"
    assert pretty("not a phone") == "not a phone"
