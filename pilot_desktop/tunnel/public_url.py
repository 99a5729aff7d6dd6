"""The tunnel's public base URL: checking what the user typed, and the hook URLs under it.

Every webhook the app manages points at `<public>/hooks/<token>/<route>`; the tunnel
forwards that path unchanged to the local receiver. Pure string work, no network.
"""

from __future__ import annotations

from urllib.parse import SplitResult, quote, unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(text: str) -> SplitResult:
    """`text` split into parts, or ValueError with a sentence naming the problem."""
    if not text:
        raise ValueError("Public URL is empty; enter the tunnel's address, e.g. https://name.example.com")
    if any(c.isspace() for c in text):
        raise ValueError("Public URL must not contain spaces")
    parts = urlsplit(text)
    if parts.scheme.lower() not in DEFAULT_PORTS or not text[len(parts.scheme) :].startswith("://"):
        raise ValueError("Public URL must start with https:// or http://")
    if "?" in text or "#" in text:
        raise ValueError("Public URL must not have a query (?…) or fragment (#…)")
    if not parts.hostname:
        raise ValueError("Public URL has no host name after the scheme")
    if "@" in parts.netloc:
        raise ValueError("Public URL must not contain a user name or password")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError("Public URL has an invalid port number") from None
    return parts


def _netloc(parts: SplitResult) -> str:
    """Host lower-cased (urlsplit does that), IPv6 bracketed, default port dropped."""
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    port = parts.port
    if port is None or port == DEFAULT_PORTS[parts.scheme.lower()]:
        return shown
    return f"{shown}:{port}"


def normalize_public_url(text: str) -> str:
    """The canonical form of a public base URL: `scheme://host[:port][/prefix]`.

    Surrounding blanks and trailing slashes go, scheme and host are lower-cased, a
    default port is dropped, a path prefix (a reverse proxy's mount point) is kept.
    Raises ValueError with a sentence for the user when the text is not usable.
    """
    parts = _split(text.strip())
    path = parts.path.rstrip("/")
    segments = path.split("/")
    if "hooks" in segments[:-1]:
        # A pasted hook URL: the token and route are added by the app, not typed.
        raise ValueError(
            "Public URL should be the tunnel's base address (e.g. https://name.example.com), "
            "not a hook URL with /hooks/<token> in it"
        )
    return f"{parts.scheme.lower()}://{_netloc(parts)}{path}"


def hook_url(public_base: str, token: str, route: str) -> str:
    """`<public>/hooks/<token>/<route>`, each of token and route one percent-encoded segment."""
    if not token:
        raise ValueError("The hook token is empty")
    if route in ("", ".", ".."):
        raise ValueError(f"A webhook route cannot be {route!r}")
    base = normalize_public_url(public_base)
    return f"{base}/hooks/{quote(token, safe='')}/{quote(route, safe='')}"


def _segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/")]


def points_here(url: str, public_base: str, token: str) -> bool:
    """Whether the webhook `url` reaches this app: `<public>/hooks/<token>` or one route
    segment under it (the receiver answers nothing deeper). Scheme and host compare
    case-insensitively, an explicit default port equals none; query and fragment are
    ignored (the receiver ignores them too). False when either URL is unusable."""
    if not token:
        return False
    try:
        base = _split(normalize_public_url(public_base))
        target = _split(url.strip().split("#", 1)[0].split("?", 1)[0])
    except ValueError:
        return False
    if (target.scheme.lower(), _netloc(target)) != (base.scheme.lower(), _netloc(base)):
        return False
    want = [*_segments(base.path), "hooks", token]
    got = _segments(target.path)
    if got[: len(want)] != want:
        return False
    rest = got[len(want) :]
    return rest == [] or (len(rest) == 1 and rest[0] != "")


def token_at(url: str, public_base: str) -> str | None:
    """The token of a hook URL at this public base (`<public>/hooks/<token>` or one route
    under it), compared as `points_here` does, whatever the token is; None for any other URL.
    A token other than the receiver's is refused there (404): a webhook of another install,
    or of this one before its token changed."""
    try:
        base = _split(normalize_public_url(public_base))
        target = _split(url.strip().split("#", 1)[0].split("?", 1)[0])
    except ValueError:
        return None
    if (target.scheme.lower(), _netloc(target)) != (base.scheme.lower(), _netloc(base)):
        return None
    prefix = [*_segments(base.path), "hooks"]
    got = _segments(target.path)
    rest = got[len(prefix) :]
    if got[: len(prefix)] != prefix or not rest or not rest[0] or len(rest) > 2:
        return None
    if len(rest) == 2 and not rest[1]:  # "…/hooks/<token>/": no route, nothing answers there
        return None
    return rest[0]
