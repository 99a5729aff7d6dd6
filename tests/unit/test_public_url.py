"""The public base URL setting: what is accepted, how it is written back, the hook URLs under it."""

from __future__ import annotations

import pytest

from pilot_desktop.tunnel.public_url import hook_url, normalize_public_url, points_here

TOKEN = "tok_0123456789abcdef"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("https://name.example.com", "https://name.example.com"),
        ("  https://name.example.com/  \n", "https://name.example.com"),
        ("HTTPS://Name.Example.COM//", "https://name.example.com"),
        ("https://name.example.com:443", "https://name.example.com"),
        ("http://name.example.com:80/", "http://name.example.com"),
        ("https://name.example.com:8443", "https://name.example.com:8443"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("http://[::1]:8787/", "http://[::1]:8787"),
        ("https://proxy.example.com/pilot/", "https://proxy.example.com/pilot"),
        ("https://proxy.example.com/a/Mixed-Case", "https://proxy.example.com/a/Mixed-Case"),
    ],
)
def test_a_usable_public_url_is_kept_in_one_canonical_form(typed: str, kept: str) -> None:
    assert normalize_public_url(typed) == kept
    assert normalize_public_url(kept) == kept  # idempotent: saving twice changes nothing


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("name.example.com", "must start with https:// or http://"),
        ("ftp://name.example.com", "must start with https:// or http://"),
        ("https:name.example.com", "must start with https:// or http://"),
        ("https://", "no host name"),
        ("https:///path", "no host name"),
        ("https://name.example.com/?a=1", "query"),
        ("https://name.example.com/#top", "fragment"),
        ("https://name.example.com?", "query"),
        ("https://user:pw@name.example.com", "user name or password"),
        ("https://name.example.com:99999", "port"),
        ("https://name.example.com:http", "port"),
        ("https://name example.com", "spaces"),
        (f"https://name.example.com/hooks/{TOKEN}", "not a hook URL"),
        (f"https://name.example.com/hooks/{TOKEN}/orders", "not a hook URL"),
    ],
)
def test_an_unusable_public_url_is_refused_with_a_sentence_naming_the_problem(
    typed: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=r"^Public URL") as caught:
        normalize_public_url(typed)
    assert problem in str(caught.value)


def test_hook_url_is_the_public_base_then_hooks_token_route() -> None:
    assert hook_url("https://name.example.com/", TOKEN, "orders") == (
        f"https://name.example.com/hooks/{TOKEN}/orders"
    )
    assert hook_url("https://proxy.example.com/pilot", TOKEN, "orders") == (
        f"https://proxy.example.com/pilot/hooks/{TOKEN}/orders"
    )


@pytest.mark.parametrize(
    ("route", "segment"),
    [("a/b", "a%2Fb"), ("sales team", "sales%20team"), ("ü?#", "%C3%BC%3F%23"), ("x.y-z_1~", "x.y-z_1~")],
)
def test_hook_url_encodes_the_route_as_one_path_segment(route: str, segment: str) -> None:
    url = hook_url("https://name.example.com", TOKEN, route)
    assert url == f"https://name.example.com/hooks/{TOKEN}/{segment}"
    assert points_here(url, "https://name.example.com", TOKEN)


@pytest.mark.parametrize("route", ["", ".", ".."])
def test_hook_url_refuses_a_route_that_is_no_path_segment(route: str) -> None:
    with pytest.raises(ValueError, match="route"):
        hook_url("https://name.example.com", TOKEN, route)


def test_hook_url_refuses_an_unusable_base() -> None:
    with pytest.raises(ValueError, match="must start with https:// or http://"):
        hook_url("name.example.com", TOKEN, "orders")


BASE = "https://name.example.com"


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/hooks/{TOKEN}",
        f"{BASE}/hooks/{TOKEN}/orders",
        f"HTTPS://NAME.example.com/hooks/{TOKEN}/orders",
        f"https://name.example.com:443/hooks/{TOKEN}/orders",
        f"{BASE}/hooks/{TOKEN}/orders?source=platform",
        f"  {BASE}/hooks/{TOKEN}/a%2Fb  ",
    ],
)
def test_a_webhook_under_public_hooks_token_points_here(url: str) -> None:
    assert points_here(url, BASE, TOKEN)


@pytest.mark.parametrize(
    "url",
    [
        f"http://name.example.com/hooks/{TOKEN}/orders",  # another scheme
        f"https://other.example.com/hooks/{TOKEN}/orders",  # another host
        f"https://name.example.com:8443/hooks/{TOKEN}/orders",  # another port
        f"{BASE}/hooks/{TOKEN}x/orders",  # a longer token
        f"{BASE}/hooks/{TOKEN[:-1]}/orders",  # a shorter one
        f"{BASE}/hooks/{TOKEN.upper()}/orders",  # the token is case-sensitive
        f"{BASE}/hook/{TOKEN}/orders",
        f"{BASE}/hooks/{TOKEN}/orders/deeper",  # the receiver answers one route segment only
        f"{BASE}/hooks/{TOKEN}/",
        f"{BASE}/x/hooks/{TOKEN}",
        f"{BASE}/hooks",
        "not a url",
        "",
    ],
)
def test_a_webhook_elsewhere_does_not_point_here(url: str) -> None:
    assert not points_here(url, BASE, TOKEN)


def test_points_here_respects_a_path_prefix_and_default_ports() -> None:
    base = "http://proxy.example.com:80/pilot/"
    assert points_here(f"http://proxy.example.com/pilot/hooks/{TOKEN}/orders", base, TOKEN)
    assert not points_here(f"http://proxy.example.com/hooks/{TOKEN}/orders", base, TOKEN)
    assert not points_here(f"http://proxy.example.com/pilotx/hooks/{TOKEN}/orders", base, TOKEN)


def test_points_here_is_false_without_a_usable_base_or_token() -> None:
    url = f"{BASE}/hooks/{TOKEN}/orders"
    assert not points_here(url, "", TOKEN)
    assert not points_here(url, "name.example.com", TOKEN)
    assert not points_here(f"{BASE}/hooks//orders", BASE, "")
