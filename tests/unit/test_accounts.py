"""Accounts, signing secrets and the state they leave: keys detected and stored where they belong.

The account tests talk to the real sandbox on loopback (the stand-in for the platform).
"""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from pilot_desktop.api.errors import ApiError
from pilot_desktop.sandbox.server import Sandbox
from pilot_desktop.services import signing as signing_mod
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.paths import resolve
from pilot_desktop.services.secrets import (
    FileSecrets,
    KeyringSecrets,
    MemorySecrets,
    SecretsError,
    open_secrets,
    service_name,
)
from pilot_desktop.services.signing import SigningRoutes, SigningSecrets


class MemoryKeyring(KeyringBackend):
    """A working keyring in memory, standing in for the OS one."""

    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


# -- secret stores ----------------------------------------------------------------------------
def test_without_a_keyring_secrets_go_to_an_owner_only_file_with_a_warning(tmp_path: Path) -> None:
    store = open_secrets(tmp_path)  # conftest forces the "fail" keyring backend
    assert isinstance(store, FileSecrets)
    assert store.warning is not None and str(tmp_path / "secrets.json") in store.warning
    store.set("api-key:a", "ps_secret_value")
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert open_secrets(tmp_path).get("api-key:a") == "ps_secret_value"  # survives a restart
    store.delete("api-key:a")
    assert store.get("api-key:a") is None


def test_a_damaged_secrets_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("[1, 2]")
    with pytest.raises(SecretsError, match=r"secrets\.json"):
        FileSecrets(tmp_path / "secrets.json").get("x")


def test_with_a_keyring_secrets_go_there_namespaced_by_data_folder(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = open_secrets(tmp_path / "a")
    assert isinstance(store, KeyringSecrets) and store.warning is None
    store.set("api-key:x", "ps_one")
    other = open_secrets(tmp_path / "b")
    assert other.get("api-key:x") is None  # another profile does not see it
    assert memory_keyring.values == {(service_name(tmp_path / "a"), "api-key:x"): "ps_one"}
    assert not (tmp_path / "a" / "secrets.json").exists()


# -- settings v1, v2 --------------------------------------------------------------------------
def test_v1_settings_migrate_to_settings_and_state_keeping_their_values(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    v1 = {
        "version": 1,
        "receiver": {"host": "0.0.0.0", "port": 9000, "token": "t" * 20},
        "real_receiver": True,
    }
    path.write_text(json.dumps(v1))
    config = Config.open(resolve(tmp_path))
    settings, state = config.settings.value, config.state.value
    assert settings.version == 4 and settings.receiver.port == 9000 and settings.receiver.host == "0.0.0.0"
    assert settings.public_url is None
    assert state.token == "t" * 20 and state.real_receiver and state.accounts == []
    assert state.signing_secret_webhooks == [] and state.signing_secret_routes == {}
    # Written back migrated: the preferences in settings.json, the rest in state.json.
    on_disk = json.loads(path.read_text())
    assert on_disk["version"] == 4 and "token" not in on_disk["receiver"]
    assert "real_receiver" not in on_disk and "accounts" not in on_disk
    saved_state = json.loads((tmp_path / "state.json").read_text())
    assert saved_state["token"] == "t" * 20 and saved_state["real_receiver"] is True
    assert saved_state["accounts"] == [] and saved_state["signing_secret_webhooks"] == []


def test_a_bad_public_url_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 2, "public_url": "ftp://tunnel.example"}))
    with pytest.raises(SettingsError, match="public_url"):
        Config.open(resolve(tmp_path))


# -- accounts against the sandbox ---------------------------------------------------------------
@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(seed=2, numbers=3, time_scale=0.0)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()


def accounts_for(tmp_path: Path) -> tuple[Accounts, Config]:
    config = Config.open(resolve(tmp_path))
    return Accounts(config.state, FileSecrets(tmp_path / "secrets.json")), config


async def test_a_tenant_key_is_detected_with_every_number(tmp_path: Path, sandbox: Sandbox) -> None:
    accounts, config = accounts_for(tmp_path)
    account = await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
    assert account.scope == "tenant"
    assert {n.id for n in account.numbers} == {n.id for n in sandbox.numbers}
    assert all(n.phone.startswith("+") and n.name for n in account.numbers)
    saved = (tmp_path / "state.json").read_text()
    assert sandbox.tenant_key not in saved and account.id in saved  # the key is not state
    assert sandbox.tenant_key not in (tmp_path / "settings.json").read_text()
    assert accounts.secrets.get(account.key_ref) == sandbox.tenant_key
    assert config.state.value.accounts == [account] and accounts.get(account.id) == account
    assert config.state.value.real_receiver  # an account means real traffic: no demo next launch


async def test_a_number_key_is_detected_with_its_one_number(tmp_path: Path, sandbox: Sandbox) -> None:
    accounts, _ = accounts_for(tmp_path)
    number = sandbox.numbers[1]
    account = await accounts.add(sandbox.number_keys[number.id], base_url=sandbox.base_url)
    assert account.scope == "number"
    assert [n.id for n in account.numbers] == [number.id]


async def test_a_bad_key_is_refused_and_nothing_is_stored(tmp_path: Path, sandbox: Sandbox) -> None:
    accounts, config = accounts_for(tmp_path)
    with pytest.raises(ApiError) as caught:
        await accounts.add("ps_not_a_key", base_url=sandbox.base_url)
    assert caught.value.status == 401 and "API key" in str(caught.value)
    assert accounts.all == []
    assert not (tmp_path / "secrets.json").exists()
    assert json.loads((tmp_path / "state.json").read_text())["accounts"] == []
    assert not config.state.value.real_receiver


async def test_the_same_key_twice_is_refused(tmp_path: Path, sandbox: Sandbox) -> None:
    accounts, _ = accounts_for(tmp_path)
    await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url, label="Main")
    with pytest.raises(AccountError, match="Main"):
        await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)


async def test_a_number_key_is_preferred_over_the_tenant_key_for_its_number(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    accounts, _ = accounts_for(tmp_path)
    tenant = await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
    number = sandbox.numbers[0]
    own = await accounts.add(sandbox.number_keys[number.id], base_url=sandbox.base_url)
    chosen = {n.id: a.id for a, n in accounts.numbers()}
    assert len(chosen) == 3  # every number once
    assert chosen[number.id] == own.id
    assert {v for k, v in chosen.items() if k != number.id} == {tenant.id}
    # Both act on the right number: the tenant key through the header.
    for n in sandbox.numbers:
        async with accounts.client_for_number(n.id) as client:
            hook = await client.create_webhook("https://example.test/h", ["message.sent"])
        assert hook.number_id == n.id
    with pytest.raises(AccountError, match="num_unknown"):
        accounts.client_for_number("num_unknown")


async def test_removing_an_account_deletes_its_key(tmp_path: Path, sandbox: Sandbox) -> None:
    accounts, _ = accounts_for(tmp_path)
    account = await accounts.add(sandbox.tenant_key, base_url=sandbox.base_url)
    accounts.remove(account.id)
    assert accounts.all == [] and accounts.secrets.get(account.key_ref) is None
    assert json.loads((tmp_path / "state.json").read_text())["accounts"] == []


# -- signing secrets ----------------------------------------------------------------------------
def test_signing_secrets_are_stored_by_webhook_and_listed_per_route(tmp_path: Path) -> None:
    config = Config.open(resolve(tmp_path))
    signing = SigningSecrets(config.state, MemorySecrets())
    signing.set("wh_1", "s1", "num_1")
    signing.set("wh_2", "s2", "num_2")
    signing.set("wh_3", "s3", "num_1")  # a second webhook on the same number
    signing.set("wh_bare", "s4", "")  # the hook URL without a route
    signing.set("wh_away", "s5", None)  # points at another system
    assert signing("num_1") == ["s1", "s3"]
    assert signing("num_2") == ["s2"]
    assert signing(None) == ["s4"]
    assert signing("num_other") == []  # a route without a secret: unchecked
    signing.forget("wh_1")
    assert signing("num_1") == ["s3"]  # the cache follows every change
    state = config.state.value
    assert state.signing_secret_webhooks == ["wh_2", "wh_3", "wh_bare", "wh_away"]
    assert state.signing_secret_routes == {
        "wh_2": "num_2",
        "wh_3": "num_1",
        "wh_bare": "",
        "wh_away": None,
    }
    assert state.signing_secrets_revision == 6  # bumped by every set and forget
    assert "s2" not in state.model_dump_json()
    for name in ("state.json", "settings.json"):
        assert "s2" not in (tmp_path / name).read_text()  # ids only, never secrets
    assert Config.open(resolve(tmp_path)).state.value == state  # as written


def test_v2_settings_keep_their_secrets_checking_every_route_until_routes_are_known(tmp_path: Path) -> None:
    """A profile written before secrets had routes: nothing that was checked stops being
    checked; once the webhook list gives each secret its route, it checks that route only."""
    path = tmp_path / "settings.json"
    v2 = {
        "version": 2,
        "receiver": {"host": "127.0.0.1", "port": 8787, "token": "t" * 20},
        "real_receiver": True,
        "ui": {"live_tail_rows": 5000},
        "public_url": "https://tunnel.example.com",
        "accounts": [],
        "signing_secret_webhooks": ["wh_a", "wh_b"],
    }
    path.write_text(json.dumps(v2))
    config = Config.open(resolve(tmp_path))
    state = config.state.value
    assert config.settings.value.version == 4
    assert config.settings.value.public_url == "https://tunnel.example.com"
    assert state.signing_secret_webhooks == ["wh_a", "wh_b"]
    assert state.signing_secret_routes == {}
    assert json.loads(path.read_text())["version"] == 4  # written back migrated
    assert json.loads((tmp_path / "state.json").read_text())["signing_secret_routes"] == {}
    store = MemorySecrets()
    store.set("signing-secret:wh_a", "sa")
    store.set("signing-secret:wh_b", "sb")
    signing = SigningSecrets(config.state, store)
    assert signing.unrouted() == ["wh_a", "wh_b"]
    for route in ("num_1", "num_2", None):
        assert signing(route) == ["sa", "sb"]  # as in v2: every route

    # A list that shows one of them (wh_x has no secret: it is not recorded).
    assert signing.note_routes({"wh_a": "num_1", "wh_x": "num_2"})
    assert Config.open(resolve(tmp_path)).state.value.signing_secret_routes == {"wh_a": "num_1"}
    assert signing("num_1") == ["sa", "sb"]
    assert signing("num_2") == ["sb"]  # wh_b's route is still unknown
    assert signing.routes() == SigningRoutes({"num_1": 1}, everywhere=1)
    assert signing.note_routes({"wh_b": None})  # points at another system: checks nothing here
    assert signing("num_2") == []
    assert signing.unrouted() == []
    before = (tmp_path / "state.json").stat().st_ino
    assert not signing.note_routes({"wh_a": "num_1", "wh_b": None})  # unchanged: not saved again
    assert (tmp_path / "state.json").stat().st_ino == before
    # An edit that points wh_a elsewhere moves its secret to the new route.
    assert signing.note_routes({"wh_a": "num_9"})
    assert signing("num_1") == [] and signing("num_9") == ["sa"]


def test_a_bad_route_names_its_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 3, "signing_secret_routes": {"wh_1": "a/b"}}))
    with pytest.raises(SettingsError, match=r"signing_secret_routes\.wh_1: .*one URL path segment"):
        Config.open(resolve(tmp_path))
    path.write_text(json.dumps({"version": 3, "signing_secret_routes": {"wh_1": 5}}))
    with pytest.raises(SettingsError, match=r"signing_secret_routes\.wh_1"):
        Config.open(resolve(tmp_path))
    # The same in state.json, where the routes live now.
    path.unlink()
    Config.open(resolve(tmp_path))
    state_file = tmp_path / "state.json"
    raw = json.loads(state_file.read_text())
    raw["signing_secret_routes"] = {"wh_1": "a/b"}
    state_file.write_text(json.dumps(raw))
    with pytest.raises(SettingsError, match=r"(?s)state\.json.*signing_secret_routes\.wh_1: .*one URL path"):
        Config.open(resolve(tmp_path))


def _store_many(folder: str, prefix: str, count: int) -> None:
    store = FileSecrets(Path(folder) / "secrets.json")
    for i in range(count):
        store.set(f"{prefix}{i}", f"value-{prefix}{i}")


def test_secrets_stored_by_several_processes_at_once_are_all_kept(tmp_path: Path) -> None:
    """Without a keyring the window, `serve` and the CLI share one file: none may lose another's."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_store_many, args=(str(tmp_path), f"p{n}_", 60)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored == {f"p{n}_{i}": f"value-p{n}_{i}" for n in range(4) for i in range(60)}
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".secrets.json.")]  # no temp left


class FlakySecrets(MemorySecrets):
    """A keyring that refuses reads while `locked` (a desktop keyring locked for a moment)."""

    locked = False

    def get(self, name: str) -> str | None:
        if self.locked:
            raise SecretsError("The system keyring could not be read: locked")
        return super().get(name)


def test_secrets_not_read_because_the_keyring_was_locked_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing_mod, "RETRY_S", 0.0)
    store = FlakySecrets()
    receiver = SigningSecrets(Config.open(resolve(tmp_path)).state, store)  # a running serve
    # The CLI stores a secret (another process, the same profile), while the keyring is
    # locked for the receiver's re-read.
    SigningSecrets(Config.open(resolve(tmp_path)).state, store).set("wh_1", "whsec_new", "num_1")
    store.locked = True
    assert receiver("num_1") == []  # not readable now: the previous secrets (none) stay
    store.locked = False
    assert receiver("num_1") == ["whsec_new"]  # the next request reads them again
