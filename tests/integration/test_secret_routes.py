"""Per-route signing secrets, end to end: real `serve`, real CLI processes, the real settings
and state files and secret store, the sandbox platform on loopback.

Webhook A (number 1, route R1) has its signing secret stored; webhook B (number 2, route R2)
has none. The rule: a route with at least one secret (stored for a webhook on that route, or
given with --signing-secret, which checks every route) refuses unsigned or wrongly signed
deliveries with 401; a route without one accepts them, stored as `unsigned` (no signature)
or `unverified` (a signature nothing here can check). A's secret does not vouch for R2: a
delivery to R2 signed with it is accepted like any signed delivery to an unchecked route,
as `unverified`. Calling it `valid` would claim B's delivery is authentic on the strength of
another webhook's secret, and refusing it would refuse what R2 accepts unsigned.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.signature import HEADER
from pilot_desktop.services.accounts import Accounts
from pilot_desktop.services.demo import demo_config, demo_paths, start_demo
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.runtime import Runtime
from pilot_desktop.services.secrets import MemorySecrets
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.store.db import connect
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, settings_of, sign, state_of, write_old_profile
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd
from tests.sandbox.conftest import body

GLOBAL = "whsec_global_for_every_route"
_unique = iter(range(10**9))


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    with running_sandbox() as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@dataclass
class Hooks:
    data: Path
    r1: str  # A's route (its number)
    r2: str  # B's route
    a: dict[str, Any]
    b: dict[str, Any]
    secret_a: str
    stored_note: str  # what `update --secret-stdin` said


def two_webhooks(platform: SandboxThread, data: Path, public_url: str) -> Hooks:
    """A on number 1 with its secret stored, B on number 2 without, both pointing here."""
    sb = platform.sandbox
    r1, r2 = sb.numbers[0].id, sb.numbers[1].id
    add_tenant(data, sb)
    ok(pd(data, "public-url", public_url))
    a = ok_json(pd(data, "webhooks", "create", "-n", r1, "--events", "message.received", "--json"))
    b = ok_json(pd(data, "webhooks", "create", "-n", r2, "--events", "message.received", "--json"))
    assert a["url"].endswith(f"/{r1}") and b["url"].endswith(f"/{r2}")
    secret_a = platform.call(lambda: sb.webhook_secret(a["id"]))
    stored = ok(pd(data, "webhooks", "update", a["id"], "--secret-stdin", stdin=secret_a))
    return Hooks(data, r1, r2, a, b, secret_a, stored.stderr)


def fp(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


class Poster:
    """Direct POSTs to one route; remembers each marker's answer to find it in the export."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __call__(self, route: str, secret: str | None = None, wrong: bool = False) -> tuple[int, str]:
        marker = f"m{next(_unique)}"
        raw = json.dumps(body("message.received", route, marker)).encode()
        headers = {}
        if secret is not None:
            headers[HEADER] = sign(raw + (b" " if wrong else b""), secret)
        r = self.server.post(raw, route=route, headers=headers)
        return r.status_code, marker

    def stored(self) -> dict[str, tuple[str, str | None]]:
        """marker -> (signature, signatureSecret) of every stored event."""
        return {
            rec["payload"]["data"]["id"]: (rec["signature"], rec["signatureSecret"])
            for rec in self.server.export()
        }


def check_line(server: Server) -> str:
    return server.wait_for_line("Signature check: ", 10)


def log_of(data: Path) -> str:
    return (data / "logs" / "pilot-desktop.log").read_text(encoding="utf-8", errors="replace")


def test_a_secret_checks_its_own_route_only(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    server = serve(data_dir=data)
    hooks = two_webhooks(platform, data, server.base)  # the loopback receiver is the "tunnel"
    r1, r2 = hooks.r1, hooks.r2
    post = Poster(server)

    code, valid = post(r1, hooks.secret_a)
    assert code == 200
    assert post(r1)[0] == 401  # unsigned
    assert post(r1, hooks.secret_a, wrong=True)[0] == 401  # signed over other bytes
    assert post(r1, "whsec_someone_else")[0] == 401
    code, unsigned = post(r2)
    assert code == 200  # B: no secret for its route, accepted unsigned
    code, with_a = post(r2, hooks.secret_a)
    assert code == 200  # A's secret does not check R2

    # The platform's own deliveries: A's verified, B's (signed with B's secret, not stored
    # here) accepted and marked unverified.
    sb = platform.sandbox
    for hook, number in ((hooks.a, r1), (hooks.b, r2)):
        platform.call(lambda n=number: sb.emit(n, "message.received", body("message.received", n, f"p-{n}")))
        [attempt] = platform.wait_for(lambda s, h=hook: s.delivered_log(h["id"]), what="the delivery")
        assert (attempt.status, attempt.status_code) == ("SUCCESS", 200), attempt

    stored = post.stored()
    assert stored[valid] == ("valid", f"#1 {fp(hooks.secret_a)}")
    assert stored[unsigned] == ("unsigned", None)
    assert stored[with_a] == ("unverified", None)
    assert stored[f"p-{r1}"] == ("valid", f"#1 {fp(hooks.secret_a)}")
    assert stored[f"p-{r2}"] == ("unverified", None)
    assert len(stored) == 5  # nothing refused was stored
    # Stored with its route; the note said what that changes, for which route.
    assert state_of(data)["signing_secret_routes"] == {hooks.a["id"]: r1}
    assert f"route {r1}" in hooks.stored_note and "401" in hooks.stored_note
    # serve noticed the secret stored while it ran, and said for which route.
    assert check_line(server).startswith("Signature check: off"), server.output()
    assert f"signature check on for route {r1}: 1 stored secret(s)" in log_of(data)

    # Forgotten: R1 accepts unsigned deliveries again, and the log says so.
    ok(pd(data, "webhooks", "update", hooks.a["id"], "--forget-secret"))
    assert post(r1)[0] == 200
    assert f"signature check off for route {r1}" in log_of(data)


def test_a_global_secret_still_checks_every_route(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    hooks = two_webhooks(platform, data, "https://tunnel.example.com")
    server = serve("--signing-secret", GLOBAL, data_dir=data)
    r1, r2 = hooks.r1, hooks.r2
    post = Poster(server)
    assert post(r2)[0] == 401  # no stored secret for R2, but the global one checks it
    assert post(r2, hooks.secret_a)[0] == 401  # A's secret does not check R2
    assert post(r1)[0] == 401
    code, r2_global = post(r2, GLOBAL)
    assert code == 200
    code, r1_global = post(r1, GLOBAL)
    assert code == 200
    code, r1_a = post(r1, hooks.secret_a)
    assert code == 200
    # The given secrets come first: their number does not move with the stored ones.
    assert post.stored() == {
        r2_global: ("valid", f"#1 {fp(GLOBAL)}"),
        r1_global: ("valid", f"#1 {fp(GLOBAL)}"),
        r1_a: ("valid", f"#2 {fp(hooks.secret_a)}"),
    }
    assert check_line(server) == f"Signature check: on for every route (1 given; 1 stored for route {r1})"


def test_a_settings_file_from_before_routes_gets_its_routes_when_serve_reads_the_list(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    """Serve's drift audit reads every number's webhooks at start: a secret stored before
    routes existed gets its route then, without anyone listing the webhooks."""
    hooks = two_webhooks(platform, data, "https://tunnel.example.com")
    r1, r2 = hooks.r1, hooks.r2
    # The file as a previous version wrote it: v2 (one file, no state.json), the secret's
    # webhook id without a route.
    old = write_old_profile(data, 2)
    assert old["signing_secret_webhooks"] == [hooks.a["id"]] and "signing_secret_routes" not in old

    server = serve(data_dir=data)
    post = Poster(server)
    deadline = time.monotonic() + 20
    while state_of(data).get("signing_secret_routes") != {hooks.a["id"]: r1}:
        assert time.monotonic() < deadline, f"no route learnt: {state_of(data)}"
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while post(r2)[0] != 200:  # the running receiver follows the state file within ~1 s
        assert time.monotonic() < deadline, "route R2 still checked by A's secret"
        time.sleep(0.1)
    assert post(r1)[0] == 401
    code, after = post(r1, hooks.secret_a)
    assert code == 200
    assert post.stored()[after][0] == "valid"
    migrated, migrated_state = settings_of(data), state_of(data)
    assert migrated["version"] == 4 and "signing_secret_webhooks" not in migrated
    assert "token" not in migrated["receiver"]
    assert migrated_state["token"] == old["receiver"]["token"] == server.token  # the hook URL kept
    assert migrated_state["signing_secret_webhooks"] == [hooks.a["id"]]
    log = log_of(data)
    assert f"signature check on for route {r1}: 1 stored secret(s)" in log


def test_the_secret_follows_its_webhook_to_a_new_route_and_a_shared_route_is_checked(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    server = serve(data_dir=data)
    hooks = two_webhooks(platform, data, server.base)
    r1, r2 = hooks.r1, hooks.r2
    post = Poster(server)
    assert post(r2)[0] == 200
    # A moves to B's route (as two webhooks of one number share it): its secret moves too.
    ok(pd(data, "webhooks", "update", hooks.a["id"], "--url", hooks.b["url"]))
    assert post(r1)[0] == 200  # R1 has no secret any more
    assert post(r2)[0] == 401  # A's secret checks R2 now, B's deliveries included
    assert state_of(data)["signing_secret_routes"] == {hooks.a["id"]: r2}
    assert post(r2, hooks.secret_a)[0] == 200
    # The list says why B is refused and what to do.
    listed = pd(data, "webhooks", "list")
    ok(listed)
    assert f"webhook {hooks.b['id']}" in listed.stderr and "401" in listed.stderr
    assert f"webhooks update {hooks.b['id']} --secret-stdin" in listed.stderr
    # The platform's delivery to B (signed with B's own secret) is refused...
    sb = platform.sandbox
    platform.call(lambda: sb.emit(r2, "message.received", body("message.received", r2, "to-b")))
    refused = platform.wait_for(lambda s: s.delivered_log(hooks.b["id"]), what="B's delivery")
    assert refused[0].status_code == 401
    # ...until B's secret is stored as well: both secrets check R2.
    secret_b = platform.call(lambda: sb.webhook_secret(hooks.b["id"]))
    ok(pd(data, "webhooks", "update", hooks.b["id"], "--secret-stdin", stdin=secret_b))
    assert post(r2, secret_b)[0] == 200 and post(r2, hooks.secret_a)[0] == 200
    assert "401" not in ok(pd(data, "webhooks", "list")).stderr


def test_a_secret_of_a_webhook_pointing_elsewhere_checks_nothing_here(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    number = sb.numbers[0].id
    add_tenant(data, sb)
    server = serve(data_dir=data)
    ok(pd(data, "public-url", server.base))
    other = ok_json(
        pd(
            data, "webhooks", "create", "-n", number, "--all-events",
            "--url", "https://crm.example.com/in", "--json",
        )
    )  # fmt: skip
    stored = ok(pd(data, "webhooks", "update", other["id"], "--secret-stdin", stdin="whsec_crm_secret"))
    with httpx.Client(timeout=10) as client:
        for route in (number, None):
            raw = json.dumps(body("message.received", number, f"x-{route}")).encode()
            assert client.post(server.hook(route), content=raw).status_code == 200
    assert "does not point at this app" in stored.stderr
    assert state_of(data)["signing_secret_routes"] == {other["id"]: None}


async def test_demo_deliveries_are_verified_by_the_secret_of_their_own_route(tmp_path: Path) -> None:
    """The window's demo: the sandbox's webhook secrets are stored per webhook, each for its
    number's route, and every delivery the sandbox makes is stored as `valid`."""
    config = demo_config()
    store = MemorySecrets()
    accounts = Accounts(config.state, store)
    signing = SigningSecrets(config.state, store)
    paths = demo_paths(resolve(tmp_path))
    paths.ensure()
    runtime = Runtime(
        paths.data_dir,
        config.state.value.token,
        signing,
        host=config.settings.value.receiver.host,
        port=config.settings.value.receiver.port,
    )
    await runtime.open()
    try:
        await runtime.listen()
        demo = await start_demo(runtime, config, accounts, signing, seed=3)
        try:
            sandbox = demo.sandbox
            numbers = [n.id for n in sandbox.numbers]
            for webhook_id, number_id in zip(demo.webhook_ids, numbers, strict=True):
                assert signing(number_id) == [sandbox.webhook_secret(webhook_id)]
            assert runtime.db_path is not None
            deadline = time.monotonic() + 20
            while True:
                conn = connect(runtime.db_path, readonly=True)
                try:
                    rows = conn.execute("SELECT route, signature FROM events").fetchall()
                finally:
                    conn.close()
                if {route for route, _ in rows} >= set(numbers):
                    break
                assert time.monotonic() < deadline, f"not every number's deliveries were stored: {rows}"
                await asyncio.sleep(0.1)
            assert {signature for _, signature in rows} == {"valid"}
            failed = [a for a in sandbox.delivered_log() if a.status != "SUCCESS"]
            assert not failed, failed
        finally:
            await demo.stop()
    finally:
        await runtime.stop()
        signing.close()


def test_an_old_secret_of_a_webhook_deleted_elsewhere_is_named_until_forgotten(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    """A v2 secret whose webhook no list shows any more (deleted on the dashboard) never gets a
    route, so it keeps checking every route: `webhooks list` names it and how to forget it."""
    hooks = two_webhooks(platform, data, "https://tunnel.example.com")
    sb = platform.sandbox
    gone = ok_json(pd(data, "webhooks", "create", "-n", hooks.r2, "--all-events", "--json"))
    ok(pd(data, "webhooks", "update", gone["id"], "--secret-stdin", stdin="whsec_of_a_deleted_hook"))
    platform.call(lambda: sb.state.remove_webhook(gone["id"]))
    write_old_profile(data, 2)
    server = serve(data_dir=data)
    post = Poster(server)

    listed = ok(pd(data, "webhooks", "list"))
    assert f"signing secret(s) of {gone['id']} belong to no webhook listed here" in listed.stderr
    assert state_of(data)["signing_secret_routes"] == {hooks.a["id"]: hooks.r1}
    assert post(hooks.r2)[0] == 401  # the orphan still checks every route, as it did in v2
    ok(pd(data, "webhooks", "update", gone["id"], "--forget-secret"))
    assert post(hooks.r2)[0] == 200
    assert post(hooks.r1)[0] == 401
    assert "belong to no webhook" not in ok(pd(data, "webhooks", "list")).stderr
