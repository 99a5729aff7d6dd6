"""core/protection.py: which protected numbers a body names, and what a delivery vouches for."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pilot_desktop.core.protection import Protection, fold
from pilot_desktop.core.signature import sign, verify

A, B = "num_01HZXA", "num_01HZXB"
SECRET_A, GIVEN = "whsec_a", "whsec_given"


def decide(p: Protection, obj: dict[str, Any], route: str | None, secret: str | None) -> Any:
    raw = json.dumps(obj).encode()
    header = sign(raw, secret) if secret else None
    checked = list(p.secrets_of.get(route or "", p.everywhere))
    verdict = verify(raw, header, checked)
    return p.decide(obj, route, verdict, checked=checked, signed=(raw,), header=header)


def test_a_number_is_named_in_any_field_case_spacing_or_compatibility_form() -> None:
    p = Protection({A: (SECRET_A,)})
    for spelled in (A, A.upper(), f"  {A}\t", f"\u200b{A}", A.replace("0", "\uff10")):
        assert fold(spelled) == fold(A), spelled
        assert p.named({"event": "x", "data": {"deep": [{"other": spelled}]}}) == {A}
    assert p.named({"event": "x", "data": {"numberId": B}}, route=A.upper()) == {A}
    assert p.named({"event": "x", "data": {"numberId": f"{A}1"}}) == set()
    assert Protection().named({"data": {"numberId": A}}) == set()


def test_only_the_numbers_own_secret_or_one_for_every_route_vouches_for_it() -> None:
    p = Protection({A: (GIVEN, SECRET_A), B: (GIVEN, "whsec_b")}, frozenset({GIVEN}))
    about_a = {"event": "number.disconnected", "data": {"numberId": A}}
    assert decide(p, about_a, None, None).refused  # unsigned, bare URL
    assert decide(p, about_a, B, "whsec_b").refused  # B's secret does not vouch for A
    ok = decide(p, about_a, None, SECRET_A)  # A's secret, on any route
    assert ok.refused is None and ok.verdict.status == "valid" and ok.verdict.secret_index == 2
    assert ok.forbid == {B}
    assert decide(p, about_a, B, GIVEN).forbid == frozenset()  # a given secret vouches for all
    unsigned = decide(p, {"event": "message.received", "data": {"numberId": "num_c"}}, "num_c", None)
    assert unsigned.refused is None and unsigned.forbid == {A, B}


@given(st.recursive(st.text(max_size=20), lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c)))
def test_named_finds_a_protected_id_wherever_it_is_put(tree: Any) -> None:
    p = Protection({A: (SECRET_A,)})
    assert p.named({"event": "x", "data": [tree, {"k": f" {A.upper()} "}]}) == {A}


def test_only_a_route_that_is_an_accounts_number_protects_a_number_everywhere() -> None:
    from pilot_desktop.services.config import Config
    from pilot_desktop.services.secrets import MemorySecrets
    from pilot_desktop.services.signing import SigningSecrets
    from pilot_desktop.services.state import Account, AccountNumber, State

    account = Account(id="acc_1", scope="tenant", numbers=[AccountNumber(id=A), AccountNumber(id=B)])
    config = Config.memory(state=State(accounts=[account]))
    signing = SigningSecrets(config.state, MemorySecrets())
    signing.set("wh_a", SECRET_A, A)  # a managed webhook: its route is number A
    signing.set("wh_sales", "whsec_sales", "sales")  # an operator's own route name
    signing.set("wh_bare", "whsec_bare", "")  # the bare hook URL
    p = signing.protection()
    assert p.numbers == {A}, "a route name is not a number"
    lead = {"event": "lead.created", "data": {"numberId": B, "formName": "Sales"}}
    assert decide(p, lead, B, None).refused is None  # names "sales": not a number, accepted
    about_a = {"event": "number.disconnected", "data": {"numberId": A}}
    assert decide(p, about_a, None, "whsec_bare").refused is None  # the bare URL's own secret
    assert decide(p, about_a, None, None).refused  # unsigned: still A's to vouch for
    # A number that arrives with an account later is protected from then on.
    config.state.update({"accounts": [account.model_copy(update={"numbers": [AccountNumber(id=A)]})]})
    assert signing.protection().numbers == {A}
    signing.set("wh_b", "whsec_b", B)
    assert signing.protection().numbers == {A}, "B is no account's number any more"
