"""ngrok in-process: the official ngrok Agent SDK for Python (`ngrok` on PyPI, the optional
extra `pilot-desktop[ngrok]`), no program to install.

`NgrokSdkTunnel` has the same start/restart/stop/status/on_change as tunnel/command.py's
`CommandTunnel`. It imports `ngrok` only when started, calls `ngrok.forward(addr,
authtoken=...)` and reports the listener's URL; `stop()` closes the listener. Each way it can
fail is a sentence: the SDK is not installed, no authtoken, the authtoken refused (ngrok's
error code, e.g. ERR_NGROK_107) — all three wait for the operator —, or ngrok's service
not reachable or not answering, which is tried again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pilot_desktop.tunnel.providers import StatusTeller, TunnelStatus, mask_secrets
from pilot_desktop.tunnel.public_url import normalize_public_url

log = logging.getLogger(__name__)

AUTHTOKEN_SECRET = "ngrok-authtoken"  # noqa: S105 - its name in the secret store (keyring)
MODE = "ngrok-sdk"
DASHBOARD = "https://dashboard.ngrok.com/get-started/your-authtoken"
# The sentences say what to fix, in words the window and the CLI share; each front end adds
# how to store the authtoken and start the tunnel again there (nothing retries these alone).
WHERE_TO_SET = "store it in this app"
NOT_INSTALLED = (
    "The ngrok SDK is not installed in this app's Python environment: run "
    "pip install 'pilot-desktop[ngrok]' (or pip install ngrok)."
)
NO_AUTHTOKEN = (
    f"ngrok in-process needs your ngrok authtoken, and none is stored: copy it from {DASHBOARD} "
    f"and {WHERE_TO_SET}."
)
REFUSED = "ngrok refused the authtoken"
# ngrok's codes for an authtoken it does not accept (https://ngrok.com/docs/errors/):
# 105 malformed, 106 a v1 token, 107 invalid or revoked, 4018 an account/authtoken required.
AUTH_CODES = frozenset({"ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018"})
CLOSE_S = 5.0


class _Stop(Exception):
    """A failure that waits for the operator (the sentence is the message)."""


class _Retry(Exception):
    """A failure worth trying again after the backoff (the sentence is the message)."""


class NgrokSdkTunnel:
    def __init__(
        self,
        authtoken: str | None,
        *,
        port: int,
        on_change: Callable[[TunnelStatus], None],
        sdk: Any | None = None,
        host: str = "127.0.0.1",
        backoff: Sequence[float] = (1, 2, 4, 8, 15, 30, 60),
        connect_timeout_s: float = 20.0,
    ) -> None:
        self.authtoken = (authtoken or "").strip() or None
        self.addr = f"{host}:{port}"
        self.backoff = tuple(backoff) or (1.0,)
        self.connect_timeout_s = connect_timeout_s
        self._sdk = sdk
        self._teller = StatusTeller(TunnelStatus(MODE, "off", None), on_change)
        self._task: asyncio.Task[None] | None = None
        self._launched: asyncio.Future[None] | None = None
        self._starts = 0

    @property
    def status(self) -> TunnelStatus:
        return self._teller.status

    async def start(self) -> None:
        """Begin connecting; returns once the state is starting (or failed), not waiting for ngrok."""
        if self._task is not None and not self._task.done():
            return
        loop = asyncio.get_running_loop()
        self._launched = loop.create_future()
        self._task = loop.create_task(self._runner(), name="tunnel ngrok-sdk")
        await asyncio.wait({self._launched, self._task}, return_when=asyncio.FIRST_COMPLETED)

    async def restart(self) -> None:
        await self._halt()
        await self.start()

    async def stop(self) -> None:
        """Close the listener; state "stopped". Idempotent."""
        await self._halt()
        self._teller.close()
        if self.status.state != "stopped":
            self._teller.set(state="stopped", public_url=None, error=None)

    async def _halt(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _line(self, text: str) -> None:
        self._teller.line(mask_secrets(f"{time.strftime('%H:%M:%S')} {text}", [self.authtoken or ""]))

    def _set(self, **changes: Any) -> None:
        self._teller.set(**changes)
        if self._launched is not None and not self._launched.done():
            self._launched.set_result(None)

    # -- the runner -------------------------------------------------------------------------

    async def _runner(self) -> None:
        failures = 0
        try:
            while True:
                restarts = self._starts
                self._starts += 1
                try:
                    await self._serve_once(restarts)
                    return
                except _Retry as exc:
                    delay = self.backoff[min(failures, len(self.backoff) - 1)]
                    failures += 1
                    self._line(str(exc))
                    self._set(
                        state="restarting", public_url=None, error=f"{exc} Trying again in {delay:g} s."
                    )
                    await asyncio.sleep(delay)
        except Exception as exc:  # a failure that waits for the operator
            sentence = str(exc) if isinstance(exc, _Stop) else f"ngrok failed unexpectedly: {exc!r}."
            if not isinstance(exc, _Stop):
                log.exception("ngrok in-process failed")
            self._line(sentence)
            self._set(state="failed", public_url=None, error=sentence)

    async def _serve_once(self, restarts: int) -> None:
        """Connect, report the URL, hold the listener until cancelled; raises _Retry or _Stop."""
        sdk = self._module()
        if self.authtoken is None:
            raise _Stop(NO_AUTHTOKEN)
        self._set(state="starting", public_url=None, error=None, restarts=restarts)
        self._line(f"Connecting to ngrok's service, forwarding to {self.addr}…")
        listener = await self._forward(sdk)
        try:
            try:
                url = normalize_public_url(str(listener.url()))
            except ValueError as exc:
                raise _Stop(f"ngrok answered a URL this app cannot use: {exc}.") from None
            self._line(f"Forwarding {url} to {self.addr}")
            self._set(state="up", public_url=url, error=None)
            await asyncio.Event().wait()  # held until stop() / restart() cancels
        finally:
            await self._close(listener)

    def _module(self) -> Any:
        if self._sdk is not None:
            return self._sdk
        importlib.invalidate_caches()  # installed since the last try
        try:
            return importlib.import_module("ngrok")
        except ImportError:
            raise _Stop(NOT_INSTALLED) from None

    async def _forward(self, sdk: Any) -> Any:
        try:
            pending = sdk.forward(self.addr, authtoken=self.authtoken)
            if not inspect.isawaitable(pending):
                return pending
            return await asyncio.wait_for(pending, self.connect_timeout_s)
        except TimeoutError:
            raise _Retry(
                f"ngrok's service did not answer within {self.connect_timeout_s:g} s: check this "
                "machine's internet connection (and a firewall or proxy in the way)."
            ) from None
        except (ValueError, OSError) as exc:
            raise classify(exc, self.authtoken) from None

    async def _close(self, listener: Any) -> None:
        with contextlib.suppress(Exception):
            closing = listener.close()
            if inspect.isawaitable(closing):
                await asyncio.wait_for(closing, CLOSE_S)


def classify(exc: BaseException, authtoken: str | None = None) -> Exception:
    """ngrok's error as `_Stop` (the operator must act) or `_Retry` (try again later).

    The SDK raises ValueError(message, ngrok's text[, "ERR_NGROK_nnn"]), e.g.
    ValueError('failed to connect session', 'failed to establish tcp connection') without
    a network, or with ERR_NGROK_107 for a revoked authtoken."""
    args = [str(a) for a in exc.args]
    code = next((a for a in args if a.startswith("ERR_NGROK_")), None)
    detail = "; ".join(a for a in args[1:] if a != code) or (args[0] if args else type(exc).__name__)
    detail = mask_secrets(detail.strip().rstrip("."), [authtoken or ""])
    text = " ".join(args).lower()
    if code in AUTH_CODES or "authentication fail" in text or "authtoken" in text:
        return _Stop(
            f"{REFUSED} ({code + ': ' if code else ''}{detail}). Copy a current "
            f"one from {DASHBOARD} and {WHERE_TO_SET}."
        )
    if code is not None:
        return _Retry(f"ngrok refused the tunnel ({code}: {detail}).")
    return _Retry(
        f"ngrok's service could not be reached ({detail}): check this machine's internet "
        "connection (and a firewall or proxy in the way)."
    )


def wants_authtoken(error: str | None) -> bool:
    """The tunnel failed for want of a (valid) authtoken: a front end says how to store one."""
    return error is not None and error.startswith((NO_AUTHTOKEN, REFUSED))
