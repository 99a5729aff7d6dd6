"""Tunnel providers: what a managed tunnel reports, the programs the app knows, and reading
a program's output.

A provider (tunnel/command.py: a tunnel program; tunnel/ngrok_sdk.py: ngrok in-process)
tells its `TunnelStatus` to one `on_change` callback. A program is started from an argv
built by `command_line()`: a preset's template or the operator's own, split like a shell
would (shlex) and only then filled in, so a value can never add an argument. Its public URL
is read from its output lines by `find_public_url()`; what it prints is kept with secrets
masked (`mask_secrets()`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

from pilot_desktop.tunnel.public_url import normalize_public_url

log = logging.getLogger(__name__)

TunnelState = Literal["off", "starting", "up", "restarting", "failed", "stopped"]
COMMAND = "command"
PLACEHOLDERS = ("port", "local_url")
OUTPUT_LINES = 200  # kept per tunnel, oldest first


class TunnelError(Exception):
    """A sentence for the operator: why the tunnel cannot run as configured."""


@dataclass(frozen=True)
class TunnelStatus:
    mode: str  # the settings' tunnel.mode
    state: TunnelState
    public_url: str | None  # normalized (tunnel/public_url.normalize_public_url)
    pid: int | None = None
    since: float | None = None  # time.time() of entering this state
    error: str | None = None  # why failed/restarting
    output: tuple[str, ...] = ()  # last output lines (<= 200), oldest first, secrets masked
    restarts: int = 0


# A tunnel program that could not start or said it needs the operator is tried again this
# often (tunnel/command.py): its sentence says so, true in the window and under serve alike.
OPERATOR_RETRY_S = 60.0
RETRIED = "it is tried again every minute"


@dataclass(frozen=True)
class Preset:
    name: str
    program: str
    template: str
    url_pattern: re.Pattern[str]  # group 1 (or the whole match) is the public URL
    install_hint: str
    # A line saying the program cannot work until the operator acts (e.g. no authtoken):
    # the tunnel fails with the sentence instead of restarting again and again.
    needs_operator: tuple[tuple[re.Pattern[str], str], ...] = ()


PRESETS: dict[str, Preset] = {
    # A quick tunnel prints its URL on stderr inside a banner:
    #   INF |  https://some-random-words.trycloudflare.com   |
    # and names https://api.trycloudflare.com/tunnel when it cannot get one: not a tunnel.
    "cloudflared": Preset(
        name="cloudflared",
        program="cloudflared",
        template="cloudflared tunnel --no-autoupdate --url {local_url}",
        url_pattern=re.compile(
            r"(https://(?!api\.)[a-z0-9-]+\.trycloudflare\.com)(?![\w./-])", re.IGNORECASE
        ),
        install_hint="Get it from "
        "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/",
    ),
    # The agent (v3) logs in logfmt on stdout:
    #   t=... lvl=info msg="started tunnel" obj=tunnels name=command_line addr=http://localhost:8787
    #   url=https://1a2b-203-0-113-7.ngrok-free.app
    # The URL of the `started tunnel` line is the public one, whatever the domain
    # (ngrok-free.app, ngrok-free.dev, ngrok.app, ngrok.io, or the account's own).
    "ngrok": Preset(
        name="ngrok",
        program="ngrok",
        template="ngrok http {port} --log stdout --log-format logfmt",
        url_pattern=re.compile(r"started tunnel\b.*?\burl=(https://[^\s\"']+)", re.IGNORECASE),
        install_hint="Get it from https://ngrok.com/download and add your authtoken "
        "(ngrok config add-authtoken TOKEN)",
        needs_operator=(
            (
                # ERROR:  authentication failed: Usage of ngrok requires a verified account and
                # authtoken. ... ERR_NGROK_4018; 105 malformed, 106 v1, 107 invalid or revoked.
                re.compile(r"authentication failed|\bERR_NGROK_(?:105|106|107|4018)\b", re.IGNORECASE),
                "ngrok has no valid authtoken: copy yours from "
                "https://dashboard.ngrok.com/get-started/your-authtoken, run "
                f"ngrok config add-authtoken TOKEN; {RETRIED}.",
            ),
        ),
    ),
}


def needs_operator(line: str, mode: str) -> str | None:
    """The sentence for a line of a preset's program that says it cannot work until the
    operator acts (no authtoken, ...), or None."""
    preset = PRESETS.get(mode)
    for pattern, sentence in preset.needs_operator if preset else ():
        if pattern.search(line):
            return sentence
    return None


def not_installed_sentence(mode: str, program: str) -> str:
    preset = PRESETS.get(mode)
    where = f"{preset.install_hint}; {RETRIED}." if preset else f"Check the tunnel command; {RETRIED}."
    return f"{program} is not installed (not found on PATH). {where}"


# -- the command line ---------------------------------------------------------------------


def command_line(mode: str, template: str, *, port: int, local_url: str) -> list[str]:
    """The argv of the tunnel program for `mode`: a preset's template, or `template` for
    mode "command". The template is split like a shell would (quotes, backslashes; no
    variables, globs or pipes), then {port} and {local_url} are filled into each argument:
    a value never splits into more arguments. `{{` and `}}` stand for braces.
    Raises TunnelError naming the problem (unknown mode or placeholder, bad quoting)."""
    preset = PRESETS.get(mode)
    if preset is not None:
        template = preset.template
    elif mode != COMMAND:
        raise TunnelError(f"The tunnel mode {mode!r} does not run a program.")
    elif not template.strip():
        raise TunnelError(
            "No tunnel command is set: enter one in the tunnel settings, e.g. "
            "cloudflared tunnel --url {local_url}"
        )
    try:
        words = shlex.split(template)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise TunnelError(f"The tunnel command cannot be read ({exc}): check its quotes.") from None
    values = {"port": str(port), "local_url": local_url}
    hidden = secret_values(words)  # an error names the word: never a secret in it
    return [_fill(word, values, hidden) for word in words]


def _fill(word: str, values: dict[str, str], hidden: Sequence[str]) -> str:
    try:
        parts = list(string.Formatter().parse(word))
    except ValueError as exc:  # a lone { or }
        shown = mask_secrets(word, hidden)
        raise TunnelError(
            f"The tunnel command has a stray brace in {shown!r} ({exc}): placeholders are "
            "{port} and {local_url}; write {{ or }} for a brace."
        ) from None
    out = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if field not in values or spec or conversion:
            shown = (
                "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
            raise TunnelError(
                f"The tunnel command has an unknown placeholder {shown}: use {{port}} or {{local_url}}."
            )
        out.append(values[field])
    return "".join(out)


# -- the public URL in a line ------------------------------------------------------------

_ANY_URL = re.compile(r"https?://[^\s\"'<>|`,;()\[\]{}]+", re.IGNORECASE)
_LOCAL_NAMES = {"localhost", "0.0.0.0", "::"}  # noqa: S104 - names compared, nothing bound
# For the tests and their stand-in tunnel (tests/tunnel_forwarder.py, which prints
# http://127.0.0.1:<port>): "1" lets mode "command" take a local address as the public URL.
# Read at each match; never set it for real use (the platform cannot reach such an address).
ALLOW_LOCAL_ENV = "PILOT_DESKTOP_TUNNEL_ALLOW_LOCAL"


def find_public_url(line: str, mode: str, local_url: str) -> str | None:
    """The public URL a tunnel program printed in `line`, normalized, or None.

    A preset accepts only its own pattern (https). Mode "command" (any program) accepts the
    first http(s) URL that is a bare address — no path beyond "/", no query — and that the
    platform can reach: links to documentation or downloads have paths, and a local address
    (localhost, 0.0.0.0, loopback, link-local, private) is the program's own web interface or
    the receiver it forwards to, never a public URL (ALLOW_LOCAL_ENV lifts this for the tests;
    the receiver itself is refused even then).
    """
    preset = PRESETS.get(mode)
    if preset is not None:
        match = preset.url_pattern.search(line)
        if match is None:
            return None
        return _normalized(match.group(1) if match.re.groups else match.group(0))
    for match in _ANY_URL.finditer(line):
        text = match.group(0).rstrip(".:!?")
        parts = urlsplit(text)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            continue
        url = _normalized(text)
        if url is None or _is_receiver(url, local_url):
            continue
        if _is_local(urlsplit(url).hostname) and os.environ.get(ALLOW_LOCAL_ENV) != "1":
            continue
        return url
    return None


def _normalized(text: str) -> str | None:
    try:
        return normalize_public_url(text)
    except ValueError:
        return None


def _is_receiver(url: str, local_url: str) -> bool:
    try:
        a, b = urlsplit(url), urlsplit(local_url)
        a_port = a.port or (443 if a.scheme == "https" else 80)
        b_port = b.port or (443 if b.scheme == "https" else 80)
    except ValueError:
        return False
    if a_port != b_port:
        return False
    return a.hostname == b.hostname or (_loopback(a.hostname) and _loopback(b.hostname))


def _is_local(host: str | None) -> bool:
    """An address only this machine or its network can reach (the platform cannot)."""
    if host is None:
        return True
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ip_address(host.split("%", 1)[0])  # fe80::1%eth0: a zone names a local link
    except ValueError:
        return False  # a name: what it resolves to is the tunnel's business
    return ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_private


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


# -- secrets in output --------------------------------------------------------------------

MASK = "[hidden]"
# Flags whose value is a secret, as `--flag value` or `--flag=value` (also NAME=value).
_HIDDEN_KEYS = r"(?:auth[-_]?token|token|api[-_]?key|secret|password|passwd|credentials?)"
_SECRET_ARG = re.compile(rf"(?i)^--?{_HIDDEN_KEYS}(?:[-_][\w-]*)?$")
_SECRET_ASSIGN = re.compile(rf"(?i)^--?{_HIDDEN_KEYS}(?:[-_][\w-]*)?=(.+)$")
_VALUE = r"([^\s\"',;]{6,})"
_MASKS = (
    # --authtoken X, --token=X (a flag: its value follows a space or =)
    re.compile(rf"(?i)((?<![\w-])--?{_HIDDEN_KEYS}(?:[-_][\w-]+)?(?:\s+|=)[\"']?){_VALUE}"),
    # authtoken=X, NGROK_AUTHTOKEN=X, TUNNEL_TOKEN: X, "token": "X"
    re.compile(rf"(?i)(\b[\w-]*{_HIDDEN_KEYS}[\"']?\s*[=:]\s*[\"']?){_VALUE}"),
    re.compile(rf"(?i)(\bbearer\s+){_VALUE}"),
    # an ngrok authtoken's shape: 2a...(26-27 characters)_(20 or more)
    re.compile(r"()(\b[0-9A-Za-z]{20,30}_[0-9A-Za-z]{17,40}\b)"),
    # a cloudflared tunnel token is base64 JSON: eyJ...
    re.compile(r"()(\beyJ[A-Za-z0-9+/_=-]{20,})"),
)


def secret_values(argv: Sequence[str]) -> tuple[str, ...]:
    """The values given to secret-looking flags of `argv` (`--authtoken X`, `--token=X`):
    masked wherever they show up in the program's output."""
    found: list[str] = []
    for i, word in enumerate(argv):
        if (m := _SECRET_ASSIGN.match(word)) is not None:
            found.append(m.group(1))
        elif _SECRET_ARG.match(word) and i + 1 < len(argv):
            found.append(argv[i + 1])
    return tuple(v for v in found if len(v) >= 4)


def shown_command(template: str) -> str:
    """A tunnel command template as it may be displayed: the values of its secret flags and
    anything shaped like a token masked (the settings file keeps the real value)."""
    try:
        words = shlex.split(template)
    except ValueError:  # bad quoting (a usage error shows it): split on spaces then
        words = template.split()
    return mask_secrets(template, secret_values(words))


def mask_secrets(text: str, values: Iterable[str] = ()) -> str:
    """`text` with authtokens, tokens, passwords and the given `values` replaced by [hidden]."""
    # Values shorter than 4 characters are not secrets ("" would be masked everywhere).
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _MASKS:
        text = pattern.sub(lambda m: m.group(1) + MASK if m.group(2) != MASK else m.group(0), text)
    return text


# -- telling the status -------------------------------------------------------------------


class StatusTeller:
    """Holds a provider's status and tells each change to `on_change`; a listener that
    raises is logged, never stops the provider. New output lines alone are told at most
    once per `output_every_s` (a chatty program does not flood the listener).

    The output is the lines given to `line()`, or what `output()` answers when given: then
    it is asked only when a status is told (a provider keeps raw lines and does the costly
    cleaning and masking at most once per `output_every_s`, not per line)."""

    def __init__(
        self,
        status: TunnelStatus,
        on_change: Callable[[TunnelStatus], None],
        *,
        output_every_s: float = 1.0,
        call_later: Callable[[float, Callable[[], None]], Any] | None = None,
        output: Callable[[], tuple[str, ...]] | None = None,
    ) -> None:
        self.status = status
        self._on_change = on_change
        self._every = output_every_s
        self._call_later = call_later or (lambda delay, fn: asyncio.get_running_loop().call_later(delay, fn))
        self._lines: list[str] = []
        self._output = output or (lambda: tuple(self._lines))
        self._told_output_at = 0.0
        self._pending: Any = None

    def set(self, **changes: Any) -> None:
        """A state or URL change: told at once (with the output so far)."""
        if "state" in changes and changes["state"] != self.status.state and "since" not in changes:
            changes["since"] = time.time()
        self.status = replace(self.status, output=self._output(), **changes)
        self._tell()

    def line(self, text: str) -> None:
        self._lines.append(text)
        if len(self._lines) > OUTPUT_LINES:
            del self._lines[: len(self._lines) - OUTPUT_LINES]
        self.output_changed()

    def output_changed(self) -> None:
        """New output: told now if nothing was told for `output_every_s`, else once then."""
        if self._pending is not None:
            return
        wait = self._told_output_at + self._every - time.monotonic()
        if wait <= 0:
            self._flush()
        else:
            self._pending = self._call_later(wait, self._flush)

    def _flush(self) -> None:
        self._pending = None
        self._told_output_at = time.monotonic()  # rendered: the next render waits, told or not
        output = self._output()
        if self.status.output != output:
            self.status = replace(self.status, output=output)
            self._tell()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _tell(self) -> None:
        self._told_output_at = time.monotonic()
        try:
            self._on_change(self.status)
        except Exception:
            log.exception("a tunnel status listener failed")
