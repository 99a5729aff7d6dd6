"""The one reading of `-n TEXT` (services/number_lookup.py): id, phone (national too), name."""

from __future__ import annotations

import pytest

from pilot_desktop.services.number_lookup import KnownNumber, NumberLookupError, find, merge

SHOPS = [
    KnownNumber("num_a", "Restaurante Sabor Caseiro", "+5527965303701"),
    KnownNumber("num_b", "Imobiliária Horizonte", "+5531964235572"),
    KnownNumber("num_c", "Imobiliária Horizonte · Filial 2", "+5511977357077"),
    KnownNumber("num_d", None, "+5511981870697"),
]


@pytest.mark.parametrize(
    ("text", "number_id"),
    [
        ("num_a", "num_a"),
        ("Restaurante Sabor Caseiro", "num_a"),
        ("  restaurante SABOR caseiro ", "num_a"),
        ("sabor", "num_a"),
        ("Imobiliaria Horizonte", "num_b"),  # the whole name wins over the branch containing it
        ("filial", "num_c"),
        ("+55 27 96530-3701", "num_a"),
        ("(27) 96530-3701", "num_a"),  # national, read in the known numbers' country
        ("27965303701", "num_a"),
        ("5527965303701", "num_a"),
        ("(11) 98187-0697", "num_d"),
    ],
)
def test_finds_by_id_phone_or_name(text: str, number_id: str) -> None:
    assert find(text, SHOPS).id == number_id


def test_a_part_of_several_names_lists_them() -> None:
    with pytest.raises(NumberLookupError) as caught:
        find("horizonte filial 2 ", SHOPS[:1])
    assert not caught.value.ambiguous
    with pytest.raises(NumberLookupError) as caught:
        find("Horizon", SHOPS)
    assert caught.value.ambiguous and [n.id for n in caught.value.candidates] == ["num_b", "num_c"]
    message = str(caught.value)
    assert "Imobiliária Horizonte · +5531964235572 (num_b)" in message
    assert "Imobiliária Horizonte · Filial 2 · +5511977357077 (num_c)" in message


def test_nothing_matching_lists_every_known_number() -> None:
    with pytest.raises(NumberLookupError, match="No number matches '12'") as caught:
        find("12", SHOPS)
    assert all(n.id in str(caught.value) for n in SHOPS)
    with pytest.raises(NumberLookupError, match="no number is known yet"):
        find("anything", [])


def test_merge_fills_what_one_source_lacks() -> None:
    store = [KnownNumber("num_d", None, "+5511981870697"), KnownNumber("num_e")]
    accounts = [KnownNumber("num_d", "Padaria", ""), KnownNumber("num_f", "Ótica", "+5521974614846")]
    assert merge(store, accounts) == [
        KnownNumber("num_d", "Padaria", "+5511981870697"),
        KnownNumber("num_e"),
        KnownNumber("num_f", "Ótica", "+5521974614846"),
    ]
