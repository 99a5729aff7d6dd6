"""ngrok in-process (the `ngrok` extra): tested up to where it needs ngrok's service.

The real SDK is used when it is installed; ngrok's service itself (outside this machine) is
stood in for by a module with the SDK's `forward()` and the errors it raises, as
ngrok-python does: ValueError(message, ngrok's text[, "ERR_NGROK_nnn"]).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from pilot_desktop.cli.watch_lines import start_again
from pilot_desktop.tunnel.ngrok_sdk import MODE, NO_AUTHTOKEN, NOT_INSTALLED, NgrokSdkTunnel
from pilot_desktop.tunnel.providers import TunnelStatus
from pilot_desktop.ui.panes.webhooks.tunnel_history import error_text

BOGUS_TOKEN = "2bogusTokenForTheTests0000_1a2B3c4D5e6F7g8H9i0Jk"
REAL_SDK_WAIT_S = 20.0


class Seen:
    def __init__(self) -> None:
        self.all: list[TunnelStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: TunnelStatus) -> None:
        self.all.append(status)
        self._changed.set()

    async def until(self, check: Callable[[TunnelStatus], bool], *, within: float = 20.0) -> TunnelStatus:
        async with asyncio.timeout(within):
            while True:
                for status in self.all:
                    if check(status):
                        return status
                self._changed.clear()
                await self._changed.wait()


class Listener:
    def __init__(self, url: str) -> None:
        self._url = url
        self.closed = False

    def url(self) -> str:
        return self._url

    async def close(self) -> None:
        self.closed = True


class Service:
    """Stands in for ngrok's service behind the SDK's `forward()`: each call takes the next
    outcome (an exception to raise, a Listener to answer, or None to never answer)."""

    def __init__(self, *outcomes: BaseException | Listener | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    async def forward(self, addr: Any = None, **options: Any) -> Listener:
        self.calls.append((addr, options))
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if outcome is None:
            await asyncio.Event().wait()
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, Listener)
        return outcome

    def module(self) -> SimpleNamespace:
        return SimpleNamespace(forward=self.forward)


def unreachable() -> ValueError:
    return ValueError("failed to connect session", "failed to establish tcp connection")


def settled(status: TunnelStatus) -> bool:
    return status.state in ("up", "restarting", "failed")


async def test_with_the_installed_sdk_or_without_it_the_operator_reads_what_happened() -> None:
    seen = Seen()
    tunnel = NgrokSdkTunnel(BOGUS_TOKEN, port=8787, on_change=seen, connect_timeout_s=REAL_SDK_WAIT_S)
    try:
        await tunnel.start()
        status = await seen.until(settled, within=REAL_SDK_WAIT_S + 10)
    finally:
        await tunnel.stop()
    if importlib.util.find_spec("ngrok") is None:
        assert status.state == "failed" and status.error == NOT_INSTALLED
        return
    # The real SDK, a made-up authtoken: no route to ngrok here (it is retried), or, on a
    # machine that reaches ngrok, the token refused (it waits for the operator).
    assert status.error is not None
    assert BOGUS_TOKEN not in status.error and BOGUS_TOKEN not in "\n".join(status.output)
    if status.state == "restarting":
        assert status.error.startswith(
            (
                "ngrok's service could not be reached (",
                f"ngrok's service did not answer within {REAL_SDK_WAIT_S:g} s",
            )
        ), status.error
        assert status.error.endswith("Trying again in 1 s.")
    else:
        assert status.state == "failed" and status.error.startswith("ngrok refused the authtoken"), status


async def test_without_the_sdk_installed_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ngrok", None)  # import ngrok -> ImportError, as when not installed
    seen = Seen()
    tunnel = NgrokSdkTunnel(BOGUS_TOKEN, port=8787, on_change=seen)
    await tunnel.start()
    assert tunnel.status.state == "failed"
    assert tunnel.status.error == NOT_INSTALLED
    assert "pip install 'pilot-desktop[ngrok]'" in NOT_INSTALLED
    await tunnel.stop()


@pytest.mark.parametrize("token", [None, "", "   "])
async def test_without_an_authtoken_it_says_where_to_set_it(token: str | None) -> None:
    service = Service(Listener("https://never.ngrok-free.app"))
    tunnel = NgrokSdkTunnel(token, port=8787, on_change=Seen(), sdk=service.module())
    await tunnel.start()
    assert tunnel.status.state == "failed" and tunnel.status.error == NO_AUTHTOKEN
    assert tunnel.status.output[-1].endswith(NO_AUTHTOKEN)  # shown as is in the output too
    # Said in words the window and the CLI share; each front end adds how to store it there.
    assert "dashboard.ngrok.com" in NO_AUTHTOKEN and "restart" not in NO_AUTHTOKEN
    assert "pilot-desktop tunnel authtoken" in start_again(MODE, "failed", NO_AUTHTOKEN, in_serve=True)
    assert "authtoken field" in error_text(tunnel.status)
    assert service.calls == []  # nothing sent without a token
    await tunnel.stop()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ValueError(
                "failed to connect session",
                "The authtoken you specified is properly formed, but it is invalid. "
                f"Your authtoken: {BOGUS_TOKEN}",
                "ERR_NGROK_107",
            ),
            "ERR_NGROK_107",
        ),
        (
            ValueError(
                "failed to connect session",
                "The authtoken you specified does not look like a proper ngrok authtoken.",
                "ERR_NGROK_105",
            ),
            "ERR_NGROK_105",
        ),
        (ValueError("failed to connect session", "authentication failure"), None),
    ],
)
async def test_a_refused_authtoken_fails_with_ngroks_reason_and_is_not_retried(
    error: ValueError, code: str | None
) -> None:
    service = Service(error)
    seen = Seen()
    tunnel = NgrokSdkTunnel(BOGUS_TOKEN, port=8787, on_change=seen, sdk=service.module(), backoff=(0.01,))
    await tunnel.start()
    status = await seen.until(lambda s: s.state == "failed")
    assert status.error is not None
    assert status.error.startswith(f"ngrok refused the authtoken ({code}: " if code else "ngrok refused")
    assert "https://dashboard.ngrok.com/get-started/your-authtoken" in status.error
    assert BOGUS_TOKEN not in status.error and BOGUS_TOKEN not in "\n".join(status.output)
    await asyncio.sleep(0.3)  # a 10 ms backoff would have retried many times by now
    assert len(service.calls) == 1 and tunnel.status.state == "failed"
    await tunnel.stop()


async def test_an_unreachable_service_is_retried_with_backoff_until_the_tunnel_is_up() -> None:
    listener = Listener("https://1a2b-203-0-113-7.ngrok-free.app/")
    service = Service(unreachable(), unreachable(), listener)
    seen = Seen()
    tunnel = NgrokSdkTunnel(BOGUS_TOKEN, port=8787, on_change=seen, sdk=service.module(), backoff=(0.05, 0.1))
    await tunnel.start()
    up = await seen.until(lambda s: s.state == "up")
    down = [s for s in seen.all if s.state == "restarting"]
    assert [s.error for s in down] == [
        "ngrok's service could not be reached (failed to establish tcp connection): check this machine's "
        f"internet connection (and a firewall or proxy in the way). Trying again in {delay} s."
        for delay in ("0.05", "0.1")
    ]
    assert up.public_url == "https://1a2b-203-0-113-7.ngrok-free.app" and up.restarts == 2
    assert service.calls == [("127.0.0.1:8787", {"authtoken": BOGUS_TOKEN})] * 3
    await tunnel.stop()
    assert listener.closed and tunnel.status.state == "stopped"
    await tunnel.stop()  # idempotent
    assert tunnel.status.state == "stopped"


async def test_a_service_that_does_not_answer_is_given_up_on_after_the_timeout() -> None:
    service = Service(None)
    seen = Seen()
    tunnel = NgrokSdkTunnel(
        BOGUS_TOKEN, port=8787, on_change=seen, sdk=service.module(), connect_timeout_s=0.2, backoff=(0.05,)
    )
    await tunnel.start()
    down = await seen.until(lambda s: s.state == "restarting")
    assert down.error is not None and down.error.startswith("ngrok's service did not answer within 0.2 s")
    await seen.until(lambda s: s.restarts >= 1 and s.state == "starting")
    await tunnel.stop()
    assert tunnel.status.state == "stopped"


async def test_restart_closes_the_listener_and_reports_the_new_url() -> None:
    first, second = Listener("https://first.ngrok-free.app"), Listener("https://second.ngrok-free.app")
    service = Service(first, second)
    seen = Seen()
    tunnel = NgrokSdkTunnel(BOGUS_TOKEN, port=8787, on_change=seen, sdk=service.module())
    await tunnel.start()
    await seen.until(lambda s: s.public_url == "https://first.ngrok-free.app")
    await tunnel.restart()
    up = await seen.until(lambda s: s.public_url == "https://second.ngrok-free.app")
    assert first.closed and not second.closed and up.restarts == 1
    await tunnel.stop()
    assert second.closed
