"""`-n TEXT` (services/number_lookup.py): an exact reading beats a looser one at every
level, the CLI's own label of a number is accepted back, ids are read in any case, and a
text that is one number's phone and another's name is ambiguous, never a silent pick."""

from __future__ import annotations

import pytest

from pilot_desktop.services.number_lookup import KnownNumber, NumberLookupError, find

ULID = "01JNT19DANW3EKC5BQR8YGY5TX"
TRICKY = [
    KnownNumber("num_cafe_accented", "Café", "+5521955555555"),
    KnownNumber("num_cafe_plain", "Cafe", "+5521966666666"),
    KnownNumber("num_loja", "Loja", "+5521922222222"),
    KnownNumber("num_named_like_a_phone", "+5521922222222", "+5521944444444"),
    KnownNumber(f"num_{ULID}", "Auto Peças Silva", "+5581964006123"),
    KnownNumber("num_branch", "Imobiliária Horizonte · Filial 2", "+5511977357077"),
    KnownNumber("num_main", "Imobiliária Horizonte", "+5531964235572"),
]


@pytest.mark.parametrize(
    ("text", "number_id"),
    [
        ("Café", "num_cafe_accented"),  # as written, accents count, before accents aside
        ("CAFÉ", "num_cafe_accented"),
        ("Cafe", "num_cafe_plain"),
        ("cafe", "num_cafe_plain"),
        ("Cafe\u0301", "num_cafe_accented"),  # the same name, decomposed
        ("Imobiliaria Horizonte", "num_main"),  # a whole name before a part of another
    ],
)
def test_an_exact_name_beats_a_looser_match(text: str, number_id: str) -> None:
    assert find(text, TRICKY).id == number_id


@pytest.mark.parametrize(
    ("text", "number_id"),
    [
        (f"Auto Peças Silva · +5581964006123 (num_{ULID})", f"num_{ULID}"),  # number_line's label
        ("Auto Peças Silva · +5581964006123", f"num_{ULID}"),
        ("Auto Peças Silva +55 81 96400-6123", f"num_{ULID}"),
        ("auto pecas silva (81) 96400-6123", f"num_{ULID}"),
        ("Imobiliaria Horizonte Filial 2", "num_branch"),  # the name's "·" left out
        ("Imobiliária Horizonte · Filial 2 · +5511977357077", "num_branch"),
    ],
)
def test_the_clis_own_label_is_accepted_back(text: str, number_id: str) -> None:
    assert find(text, TRICKY).id == number_id


def test_ids_are_read_in_any_case() -> None:
    assert find(f"num_{ULID.lower()}", TRICKY).id == f"num_{ULID}"
    assert find(f"NUM_{ULID}", TRICKY).id == f"num_{ULID}"


def test_a_phone_of_one_number_and_the_name_of_another_is_ambiguous() -> None:
    with pytest.raises(NumberLookupError) as caught:
        find("+5521922222222", TRICKY)
    assert caught.value.ambiguous and caught.value.usage
    assert {n.id for n in caught.value.candidates} == {"num_loja", "num_named_like_a_phone"}
    assert find("+5521944444444", TRICKY).id == "num_named_like_a_phone"  # its own phone: one


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_a_usage_error(text: str) -> None:
    with pytest.raises(NumberLookupError) as caught:
        find(text, TRICKY)
    assert caught.value.usage and not caught.value.ambiguous


def test_an_unknown_number_is_not_a_usage_error() -> None:
    with pytest.raises(NumberLookupError) as caught:
        find("Padaria", TRICKY)
    assert not caught.value.usage
