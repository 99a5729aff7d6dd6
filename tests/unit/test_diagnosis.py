"""The signature diagnosis of a refused delivery (core/diagnosis.py): what an operator reads
to fix a 401, from the bytes that arrived and the secrets that were tried."""

from __future__ import annotations

import hashlib
import hmac
import json

from pilot_desktop.core.diagnosis import FORMS_MAX_BODY, diagnose, shown_path
from pilot_desktop.core.protection import Protection
from pilot_desktop.core.signature import fingerprint
from pilot_desktop.receiver.diagnose import Why

BODY = {
    "event": "message.delivered",
    "data": {"numberId": "num_a", "id": "msg_1", "content": "olá", "createdAt": "2025-03-01T10:00:00Z"},
}
RAW = json.dumps(BODY, separators=(",", ":"), ensure_ascii=False).encode()  # as the platform sends it
RIGHT, WRONG = "whsec_right", "whsec_wrong"


def sign(data: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def test_a_body_signed_with_another_secret_says_different_secret_and_shows_fingerprints() -> None:
    header = sign(RAW, WRONG)
    found = diagnose(RAW, None, header, [RIGHT])
    assert found["verdict"] == "signed with a different secret"
    assert found["header_present"] is True and found["header_form"] == "hex"
    assert found["received_prefix"] == header[:8]
    assert found["tried"] == [
        {"index": 1, "fingerprint": fingerprint(RIGHT), "computed_prefix": sign(RAW, RIGHT)[:8]}
    ]
    assert found["re_encoded"] is False and found["signed_form"] is None
    assert fingerprint(RIGHT) in found["hint"] and "\n" not in found["hint"]
    # Neither secret's value is in what is stored and shown.
    text = json.dumps(found)
    assert RIGHT not in text and WRONG not in text
    assert json.loads(text) == found


def test_the_sha256_prefix_form_is_read_and_named() -> None:
    found = diagnose(RAW, None, "sha256=" + sign(RAW, WRONG).upper(), [RIGHT])
    assert found["header_form"] == "sha256=hex"
    assert found["received_prefix"] == sign(RAW, WRONG)[:8]


def test_a_body_re_serialised_after_signing_is_diagnosed_as_re_encoded_with_its_form() -> None:
    spaced = json.dumps(BODY, ensure_ascii=False).encode()  # a proxy re-wrote ", " and ": "
    found = diagnose(spaced, None, sign(RAW, RIGHT), ["whsec_other", RIGHT])
    assert found["verdict"] == "re-encoded on the way"
    assert found["re_encoded"] is True
    assert found["signed_form"] == "compact JSON (JSON.stringify)"
    assert found["matched"] == {"index": 2, "fingerprint": fingerprint(RIGHT), "route": None}
    assert "re-serialised" in found["hint"] or "re-writes" in found["hint"]


def test_a_body_signed_with_sorted_keys_names_the_sorted_form() -> None:
    # The sender signed its canonical form (keys sorted); the body arrived in another order.
    signed = json.dumps(BODY, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    found = diagnose(RAW, None, sign(signed, RIGHT), [RIGHT])
    assert found["re_encoded"] is True
    assert found["signed_form"] == "compact JSON, keys sorted"
    spaced_sorted = json.dumps(BODY, sort_keys=True).encode()
    found = diagnose(RAW, None, sign(spaced_sorted, RIGHT), [RIGHT])
    assert found["signed_form"] == "JSON with spaces, keys sorted"


def test_a_missing_header_says_so_and_what_to_check() -> None:
    for header in (None, "", "   "):
        found = diagnose(RAW, None, header, [RIGHT])
        assert found["header_present"] is False and found["header_form"] is None
        assert found["received_prefix"] is None
        assert found["verdict"] == "no signature header"
        assert "proxy" in found["hint"] and "secret" in found["hint"]
        assert found["tried"][0]["fingerprint"] == fingerprint(RIGHT)


def test_a_value_that_is_no_digest_is_named() -> None:
    found = diagnose(RAW, None, "not hex at all", [RIGHT])
    assert found["header_form"] == "not a hex digest" and found["received_prefix"] is None
    assert found["verdict"] == "not a hex digest"


def test_the_secret_of_another_route_is_named_when_it_signed_the_body() -> None:
    found = diagnose(RAW, None, sign(RAW, "whsec_b"), [RIGHT], [("num_b", "whsec_b")])
    assert found["verdict"] == "signed with another route's secret"
    assert found["matched"] == {"index": None, "fingerprint": fingerprint("whsec_b"), "route": "num_b"}
    assert "num_b" in found["hint"]


def test_the_bytes_on_the_wire_count_as_a_signed_form() -> None:
    wire = b"\x1f\x8b compressed"
    found = diagnose(RAW, wire, sign(wire, RIGHT), [RIGHT])
    assert found["signed_form"] == "the bytes on the wire (before Content-Encoding)"


def test_the_cost_is_bounded_for_big_bodies_and_many_secrets() -> None:
    obj = {"event": "x", "data": {"pad": "a" * FORMS_MAX_BODY}}
    big, compact = json.dumps(obj).encode(), json.dumps(obj, separators=(",", ":")).encode()
    found = diagnose(big, None, sign(compact, RIGHT), [RIGHT])
    assert found["forms_checked"] == 0  # no re-serialising past 64 KiB
    assert found["verdict"] == "signed with a different secret"
    many = [f"s{i}" for i in range(20)]
    found = diagnose(RAW, None, sign(RAW, "nope"), many, [("r", "t")])
    assert len(found["tried"]) == 8


def test_hook_paths_never_show_a_token_whole() -> None:
    own = "tok_0123456789abcdef"
    assert shown_path(f"/hooks/{own}/num_x", own) == "/hooks/<token>/num_x"
    assert shown_path(f"/hooks/{own}", own) == "/hooks/<token>"
    assert shown_path("/hooks/abcdefghijkl/num_x", own) == "/hooks/abcd… (not this receiver's token)/num_x"
    assert shown_path("/hooks/abcdefghijkl/num_x", None) == "/hooks/abcd…/num_x"
    assert shown_path("/wp-admin", own) == "/wp-admin"


def test_an_event_naming_a_protected_number_signed_with_the_routes_secret_names_that_route() -> None:
    # Number A's secret protects A; the event about A came to route R signed with R's secret.
    protection = Protection({"num_a": ("whsec_a",), "num_r": ("whsec_r",)})
    obj = {"event": "number.disconnected", "data": {"numberId": "num_a"}}
    raw = json.dumps(obj).encode()
    why = Why(raw, raw, sign(raw, "whsec_r"), obj, "num_r", ["whsec_r"], protection)
    found = why.for_number()
    assert [t["fingerprint"] for t in found["tried"]] == [fingerprint("whsec_a")]
    assert found["verdict"] == "signed with another route's secret"
    assert found["matched"]["route"] == "num_r"
    # A route's own check names another number's secret when that one signed the body.
    why = Why(raw, raw, sign(raw, "whsec_a"), obj, "num_r", ["whsec_r"], protection)
    assert why.for_route()["matched"] == {
        "index": None,
        "fingerprint": fingerprint("whsec_a"),
        "route": "num_a",
    }
