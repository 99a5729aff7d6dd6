"""`x-pilot-status-signature`: HMAC-SHA256, hex, over the raw body (docs/pilot-status-api.md §2.3)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilot_desktop.core.signature import fingerprint, verify

BODY = (Path(__file__).resolve().parents[2] / "resources/samples/message.failed.json").read_bytes()
SECRET = "whsec_5f1c0d9e8b7a4c3d2e1f0a9b8c7d6e5f"
OLD_SECRET = "whsec_0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def platform_signature(body: bytes, secret: str) -> str:
    """What the platform sends, computed here independently of the code under test."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


GOOD = platform_signature(BODY, SECRET)


def assert_secret_not_exposed(verdict, *secrets: str) -> None:
    shown = " ".join([repr(verdict), verdict.label, verdict.reason])
    for secret in secrets:
        assert secret not in shown


def test_the_right_secret_is_valid_and_named_by_index_and_fingerprint():
    verdict = verify(BODY, GOOD, [SECRET])
    assert (verdict.status, verdict.secret_index) == ("valid", 1)
    assert verdict.secret_fingerprint == fingerprint(SECRET)
    assert "#1" in verdict.label
    assert fingerprint(SECRET) in verdict.label
    assert_secret_not_exposed(verdict, SECRET)


def test_fingerprint_is_short_stable_and_tells_secrets_apart():
    assert fingerprint(SECRET) == fingerprint(SECRET)
    assert fingerprint(SECRET) != fingerprint(OLD_SECRET)
    assert len(fingerprint(SECRET)) == 8
    assert fingerprint(SECRET) not in SECRET


@pytest.mark.parametrize(
    "header",
    [f"sha256={GOOD}", GOOD.upper(), f"sha256={GOOD.upper()}", f"SHA256={GOOD}", f"  {GOOD}\t"],
    ids=["sha256= prefix", "upper-case hex", "prefix and upper-case", "upper-case prefix", "padded"],
)
def test_accepted_spellings_of_a_good_signature(header):
    assert verify(BODY, header, [SECRET]).status == "valid"


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (BODY, platform_signature(BODY, "whsec_someone_else")),
        (BODY.replace(b"14:10:03", b"14:10:04"), GOOD),
        (BODY, GOOD[:-1]),
        (BODY, GOOD + "0"),
        (BODY, "sha256="),
        (BODY, hashlib.sha256(BODY).hexdigest()),
    ],
    ids=["wrong secret", "body changed", "truncated", "too long", "prefix only", "plain hash"],
)
def test_a_wrong_signature_is_invalid(body, header):
    verdict = verify(body, header, [SECRET])
    assert (verdict.status, verdict.secret_index, verdict.secret_fingerprint) == ("invalid", None, None)
    assert verdict.reason
    assert_secret_not_exposed(verdict, SECRET)


def test_the_signature_covers_the_raw_bytes_not_the_json():
    same_json = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert same_json != BODY
    assert verify(same_json, GOOD, [SECRET]).status == "invalid"


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_invalid_when_secrets_are_configured(header):
    verdict = verify(BODY, header, [SECRET])
    assert verdict.status == "invalid"
    assert "x-pilot-status-signature" in verdict.reason


@pytest.mark.parametrize("header", [None, ""])
def test_no_secrets_and_no_header_is_unsigned(header):
    assert verify(BODY, header, []).status == "unsigned"


def test_no_secrets_but_a_header_is_unverified():
    verdict = verify(BODY, GOOD, [])
    assert (verdict.status, verdict.secret_index) == ("unverified", None)


def test_during_rotation_the_second_secret_is_index_2():
    verdict = verify(BODY, GOOD, [OLD_SECRET, SECRET])
    assert (verdict.status, verdict.secret_index) == ("valid", 2)
    assert verdict.secret_fingerprint == fingerprint(SECRET)
    assert "#2" in verdict.label
    assert_secret_not_exposed(verdict, SECRET, OLD_SECRET)


def test_the_first_secret_still_verifies_during_rotation():
    old = platform_signature(BODY, OLD_SECRET)
    assert verify(BODY, old, [OLD_SECRET, SECRET]).secret_index == 1


@pytest.mark.parametrize(
    "header",
    ["é" * 64, f"sha256={GOOD[:-1]}é", "Ω≈ç√", "\udcff" * 64, "\x00" * 64],
    ids=["latin", "one non-ascii char", "symbols", "surrogates", "nul bytes"],
)
def test_a_non_ascii_header_is_invalid_and_does_not_raise(header):
    assert verify(BODY, header, [SECRET]).status == "invalid"


@settings(max_examples=200, deadline=None)
@given(header=st.text(max_size=80), body=st.binary(max_size=200))
def test_any_header_text_is_judged_without_raising(header, body):
    # A random header is never the HMAC of the body (odds 2**-256): it must come out
    # as a plain "invalid", whatever characters it holds.
    assert verify(body, header, [OLD_SECRET, SECRET]).status == "invalid"
