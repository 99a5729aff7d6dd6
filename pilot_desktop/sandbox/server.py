"""`Sandbox`: a local Pilot Status platform on the running loop (demo mode, tests, benches).

It serves the documented REST API, and a clock task plays the scenario: every tick it
pulls the emissions due on the scenario's clock (`elapsed * time_scale`) and hands them
to the dispatcher, which delivers them to the subscribed webhooks. A paused clock
(`time_scale` 0) plays nothing, not even the `number.created` of second 0, so webhooks
created before resuming get everything. A stall longer than `MAX_TICK_GAP_S` (a blocked
loop, a suspended laptop) is skipped rather than replayed all at once. Webhook signing
secrets are never returned by the API (§2.3); the sandbox shows them only through
`webhook_secret()`, i.e. on its own console, as the real dashboard would. `faults`
(`faults.py`) injects API failures, rate limits per key and counts requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pilot_desktop.core.urls import http_base
from pilot_desktop.sandbox.api import build_app
from pilot_desktop.sandbox.dispatcher import DispatchConfig, Dispatcher
from pilot_desktop.sandbox.faults import Faults
from pilot_desktop.sandbox.rest import Context
from pilot_desktop.sandbox.scenario import Emission, Scenario, make_numbers
from pilot_desktop.sandbox.state import DeliveryLog, SandboxState

log = logging.getLogger(__name__)

TICK_S = 0.1
MAX_TICK_GAP_S = 5.0  # wall seconds one tick may play (x time_scale); longer gaps are skipped
SHUTDOWN_GRACE_S = 2.0


class Sandbox:
    """One tenant with `numbers` numbers whose traffic (`rate` webhooks/s of scenario
    time, reproducible from `seed`) runs `time_scale` times faster than the wall clock.

    Start with `time_scale=0.0` to set up webhooks first, then set `time_scale` to run:
    nothing is emitted while paused, and the scenario resumes from second 0.

    Delivery knobs: `retry_window` (wall seconds; no retry starts later than this after
    the first attempt), `retry_base` (first backoff, doubling), `attempt_timeout` (s per
    attempt), `duplicate_rate` (share of 2xx answers treated as lost, so delivered
    twice), `reorder_jitter` (random delay up to this many seconds per delivery).
    `on_attempt` sees every delivery attempt (console).

    API knobs: `rate_limit=(N, S)` lets each API key make N requests per sliding S
    seconds (then 429 `RATE_LIMITED` with `retryAfterSeconds` and `Retry-After`);
    `faults.inject(...)` makes chosen requests fail, and `faults.requests(...)` counts
    what reached the API (see `faults.py`).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        numbers: int = 3,
        rate: float = 2.0,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_window: float = 300.0,
        retry_base: float = 1.0,
        attempt_timeout: float = 10.0,
        duplicate_rate: float = 0.0,
        reorder_jitter: float = 0.0,
        time_scale: float = 1.0,
        start: datetime | None = None,
        on_attempt: Callable[[DeliveryLog], None] | None = None,
        rate_limit: tuple[int, float] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._time_scale = time_scale
        self._base = 0.0  # scenario seconds at `_t0` (changes with `time_scale`)
        self.numbers = make_numbers(seed, numbers)
        # Scenario second 0 is now unless told otherwise, so event times read as live.
        self.scenario = Scenario(seed, self.numbers, rate=rate, start=start or datetime.now(UTC))
        self.state = SandboxState(self.numbers)
        config = DispatchConfig(
            retry_window=retry_window,
            retry_base=retry_base,
            timeout=attempt_timeout,
            duplicate_rate=duplicate_rate,
            reorder_jitter=reorder_jitter,
            seed=seed,
        )
        self.dispatcher = Dispatcher(self.state, config, on_attempt)
        self.faults = Faults(rate_limit)
        self.bound: tuple[str, int] | None = None
        self._runner: web.AppRunner | None = None
        self._clock: asyncio.Task[None] | None = None
        self._t0: float | None = None  # loop time of scenario second `_base`
        self._ticked = 0.0  # loop time of the last tick
        self._played = 0.0  # scenario second the scenario has been played to
        self._stopped = False

    # -- what a console, the demo and tests need ------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self.bound or (self.host, self.port)
        return http_base(host, port)

    @property
    def tenant_key(self) -> str:
        return self.state.tenant_key.key

    @property
    def number_keys(self) -> dict[str, str]:
        return {number_id: key.key for number_id, key in self.state.number_keys.items()}

    def webhook_secret(self, webhook_id: str) -> str:
        """The signing secret of a webhook (KeyError if unknown). Console use only."""
        return self.state.webhooks[webhook_id].secret

    @property
    def time_scale(self) -> float:
        return self._time_scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        """Change the speed while running; the scenario clock never jumps or runs back."""
        if scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self._t0 is not None:
            self._base = self.scenario_time()
            self._t0 = self._ticked = self._loop_time()
        self._time_scale = scale

    def scenario_time(self) -> float:
        if self._t0 is None:
            return 0.0
        # A stall counts for at most MAX_TICK_GAP_S (the next tick skips the rest).
        now = min(self._loop_time(), self._ticked + MAX_TICK_GAP_S)
        return self._base + (now - self._t0) * self._time_scale

    def delivered_log(self, webhook_id: str | None = None, event: str | None = None) -> list[DeliveryLog]:
        """Every delivery attempt so far, oldest first (bounded), optionally filtered."""
        return [
            e
            for e in self.dispatcher.history
            if (webhook_id is None or e.webhook_id == webhook_id) and (event is None or e.event == event)
        ]

    def emit(self, number_id: str, event: str, body: dict[str, Any]) -> int:
        """Deliver one event now as if the platform emitted it; returns the webhook count."""
        if number_id not in self.state.numbers:
            raise KeyError(number_id)
        return self._dispatch(number_id, event, body)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen and start the clock. Raises OSError (port taken ...); nothing is left running."""
        ctx = Context(self.state, self.scenario, self.scenario_time, self.faults)
        self._runner = web.AppRunner(build_app(ctx), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server  # the only place aiohttp exposes the bound port (port 0)
        sockets = getattr(server, "sockets", None) or []
        self.bound = (self.host, sockets[0].getsockname()[1]) if sockets else (self.host, self.port)
        await self.dispatcher.start()
        self._t0 = self._ticked = self._loop_time()
        self._clock = asyncio.create_task(self._run_clock(), name="sandbox-clock")
        log.info("sandbox listening on %s", self.base_url)

    async def stop(self, drain_timeout: float = 0.5) -> None:
        """Stop the clock and the API, let in-flight deliveries finish briefly, cancel the
        rest (pending retries included), close the HTTP client. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._clock is not None:
            self._clock.cancel()
            await asyncio.gather(self._clock, return_exceptions=True)
        self.faults.close()  # answer requests held by an injected `delay` now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if drain_timeout > 0:
            await self.dispatcher.drain(within=drain_timeout)
        await self.dispatcher.stop()
        log.info("sandbox stopped")

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def _tick(self) -> list[Emission]:
        """The emissions due since the last tick; nothing while paused."""
        assert self._t0 is not None
        now = self._loop_time()
        if (stalled := now - self._ticked) > MAX_TICK_GAP_S:
            # Replaying a suspend's worth of traffic at once would flood every target.
            self._t0 += stalled - MAX_TICK_GAP_S
            log.warning(
                "sandbox clock: no tick for %.0f s (stalled loop or suspend); skipped, not replayed", stalled
            )
        self._ticked = now
        until = self.scenario_time()
        if until <= self._played:  # paused: even second 0 waits for the clock to run
            return []
        self._played = until
        return self.scenario.next_batch(until)

    async def _run_clock(self) -> None:
        while True:
            try:
                batch = self._tick()
            except Exception:
                # A scenario bug must not silently stop the traffic: log, keep ticking.
                log.exception("sandbox scenario tick failed")
                batch = []
            for emission in batch:
                try:
                    self._on_emission(emission)
                except Exception:  # one bad body must not drop the rest of the batch
                    log.exception("sandbox could not dispatch %s", emission.event)
            await asyncio.sleep(TICK_S)

    def _on_emission(self, emission: Emission) -> None:
        self._dispatch(emission.number_id, emission.event, emission.body)

    def _dispatch(self, number_id: str, event: str, body: dict[str, Any]) -> int:
        data = body.get("data")
        if isinstance(data, dict) and event in ("number.connected", "number.disconnected", "number.removed"):
            # Remembered for `primaryLink.connectedAt` in /v1/numbers.
            connected = event == "number.connected"
            self.state.connected_at[number_id] = str(data.get("createdAt")) if connected else None
        return self.dispatcher.submit(number_id, event, body)
