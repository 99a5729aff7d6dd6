"""`-n` names a number the way an operator knows it, on every command, and the CLI shows
numbers by name in the window's words: real CLI processes on a store filled with the
sandbox's traffic and a tenant account on a running sandbox platform.

The sandbox (seed 1, 14 numbers) names its numbers after shops; numbers 13 and 14 are
"· Filial 2" branches of the first two, so a part of a name can match two numbers. The
store holds the traffic of the first three only: the others are known to the account.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.sandbox.scenario import Emission, SandboxNumber
from tests.integration.sandbox_store import sandbox_traffic, store_traffic
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd

WIDE = {"COLUMNS": "250"}  # tables unelided: what a wide terminal shows
# The Numbers pane's words for a number's state.
STATE_LABEL = {
    "OPEN": "Connected",
    "CONNECTING": "Connecting",
    "CLOSED": "Disconnected",
    "REMOVED": "Removed",
    "UNKNOWN": "State unknown",
}


@dataclass
class Desk:
    platform: SandboxThread
    data: Path
    numbers: list[SandboxNumber]
    traffic: list[Emission]

    def run(self, *args: str) -> Any:
        return pd(self.data, *args, env=WIDE)

    def by_name(self, name: str) -> SandboxNumber:
        return next(n for n in self.numbers if n.name == name)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "pilot-desktop.sqlite3")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    data = tmp_path_factory.mktemp("lookup") / "data"
    with running_sandbox(seed=1, numbers=14) as platform:
        numbers = list(platform.sandbox.numbers)
        traffic = sandbox_traffic(numbers[:3], 600)
        store_traffic(data, traffic)
        add_tenant(data, platform.sandbox)
        yield Desk(platform, data, numbers, traffic)


def ids_listed(result: Any) -> set[str]:
    return {json.loads(line)["numberId"] for line in ok(result).stdout.splitlines()}


def national(phone: str) -> str:
    """ "+5527965303701" as a Brazilian types it at home: "(27) 96530-3701"."""
    digits = phone.removeprefix("+55")
    return f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"


def test_messages_n_takes_the_name_the_phone_national_or_not_or_the_id(desk: Desk) -> None:
    shop = desk.by_name("Restaurante Sabor Caseiro")
    assert shop in desk.numbers[:3]  # its traffic is stored
    for text in (
        "Restaurante Sabor Caseiro",
        "restaurante sabor caseiro",
        "Sabor Caseiro",  # a unique part of the name
        shop.phone,
        national(shop.phone),
        shop.phone.removeprefix("+"),
        shop.id,
    ):
        result = desk.run("messages", "-n", text, "--json", "--limit", "500")
        assert ids_listed(result) == {shop.id}, (text, result.stderr)
    table = ok(desk.run("messages", "-n", "Restaurante Sabor Caseiro", "--limit", "3")).stdout
    assert "No messages match" not in table


def test_names_are_matched_without_accents(desk: Desk) -> None:
    shop = desk.by_name("Imobiliária Horizonte")
    assert ids_listed(desk.run("messages", "-n", "imobiliaria horizonte", "--json")) == {shop.id}


def test_a_part_of_two_names_is_refused_naming_both(desk: Desk) -> None:
    branch = desk.numbers[13]
    first = desk.by_name(branch.name.split(" · ")[0])
    for command in (("messages",), ("numbers",), ("webhooks", "list")):
        result = desk.run(*command, "-n", first.name.split()[0])
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Several numbers match" in result.stderr
        assert first.id in result.stderr and branch.id in result.stderr and branch.name in result.stderr
    # the whole name is one number
    assert ids_listed(desk.run("messages", "-n", first.name, "--json")) <= {first.id}


def test_an_unknown_number_is_an_error_listing_the_known_ones(desk: Desk) -> None:
    result = desk.run("messages", "-n", "Padaria Central")
    assert result.returncode == 1 and result.stdout == ""
    assert "No number matches 'Padaria Central'" in result.stderr
    listed = sorted(desk.numbers, key=lambda n: n.name.lower())
    for n in listed[:12]:  # by name, the store's and the account's alike
        assert f"{n.name} · {n.phone} ({n.id})" in result.stderr
    assert "and 2 more (`pilot-desktop numbers` lists them all)" in result.stderr


def test_messages_and_timeline_show_the_number_by_name(desk: Desk) -> None:
    shop = desk.by_name("Restaurante Sabor Caseiro")
    table = ok(desk.run("messages", "-n", shop.id, "--limit", "5")).stdout.splitlines()
    assert all("Restaurante Sabor Caseiro" in line for line in table[1:6])
    first = json.loads(ok(desk.run("messages", "-n", shop.id, "--json", "--limit", "1")).stdout)
    assert (first["numberName"], first["numberPhone"]) == (shop.name, shop.phone)
    text = ok(desk.run("timeline", first["id"])).stdout
    assert f"Restaurante Sabor Caseiro · {shop.phone} ({shop.id})" in text
    doc = ok_json(desk.run("timeline", first["id"], "--json"))
    assert doc["numberName"] == shop.name


def test_timeline_reads_a_bare_number_as_a_phone_and_only_hash_as_an_event(desk: Desk) -> None:
    with desk.db() as conn:
        event, msg_id = conn.execute(
            "SELECT s.event_id, m.msg_id FROM message_steps s JOIN messages m ON m.id = s.message "
            "WHERE m.msg_id IS NOT NULL ORDER BY s.event_id LIMIT 1"
        ).fetchone()
        peer, newest = conn.execute(
            "SELECT peer, msg_id FROM messages WHERE peer LIKE '+55%' AND msg_id IS NOT NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert len(str(event)) < 6  # short: no phone
    bare = desk.run("timeline", str(event))
    assert bare.returncode == 2 and bare.stdout == ""
    assert f"'#{event}'" in bare.stderr and "event" in bare.stderr
    assert ok_json(desk.run("timeline", f"#{event}", "--json"))["id"] == msg_id
    by_phone = desk.run("timeline", national(peer), "--json")
    newest_with_peer = ok_json(by_phone)
    assert newest_with_peer["contact"] == peer and newest_with_peer["id"] == newest
    assert "phone" in by_phone.stderr


def test_numbers_lists_every_known_number_in_the_windows_words(desk: Desk) -> None:
    listed = ok_json(desk.run("numbers", "--json"))  # no --refresh: nothing asked of the platform
    assert {e["numberId"] for e in listed} == {n.id for n in desk.numbers}
    seen = {n.id for n in desk.numbers[:3]}
    for e in listed:
        assert e["stateLabel"] == STATE_LABEL[e["state"]]
        if e["numberId"] in seen:  # the stored number.* webhooks told the state
            assert e["state"] in ("OPEN", "CLOSED", "CONNECTING") and e["sinceSeconds"] is not None
        else:
            assert e["state"] == "UNKNOWN" and e["name"]
    table = ok(desk.run("numbers")).stdout.splitlines()
    assert table[0].split()[:5] == ["NAME", "PHONE", "ID", "STATE", "FOR"]
    shop = desk.by_name("Restaurante Sabor Caseiro")
    (row,) = [line for line in table if shop.id in line]
    state = next(e for e in listed if e["numberId"] == shop.id)
    assert STATE_LABEL[state["state"]] in row and " min" in row  # connected for some minutes
    assert "OPEN" not in "\n".join(table) and "CLOSED" not in "\n".join(table)
    one = ok_json(desk.run("numbers", "-n", national(shop.phone), "--json"))
    assert [e["numberId"] for e in one] == [shop.id]


def test_webhooks_and_send_take_a_national_phone_or_a_name(desk: Desk) -> None:
    shop = desk.numbers[5]  # known to the account only
    for text in (national(shop.phone), shop.name.lower()):
        listed = desk.run("webhooks", "list", "-n", text, "--json")
        assert ok(listed).returncode == 0, (text, listed.stderr)
    unknown = desk.run("webhooks", "list", "-n", "(27) 90000-0000")
    assert unknown.returncode == 1 and "No account can act on number" in unknown.stderr


def test_send_reads_a_national_destination_in_the_sending_numbers_country(desk: Desk) -> None:
    shop = desk.by_name("Restaurante Sabor Caseiro")  # a Brazilian number
    sent = desk.run("send", "-n", shop.name, "--to", "(11) 98187-0697", "--text", "Olá!", "--json")
    accepted = ok_json(sent)
    found = desk.platform.call(
        lambda: [(m.number_id, m.destination) for m in desk.platform.sandbox.state.messages.values()
                 if m.id == accepted["id"]]
    )  # fmt: skip
    assert found == [(shop.id, "+5511981870697")]


# -- exact before loose, labels read back, empty text, malformed events, state words --------
# A second store: numbers whose names collide on accents, and one named after another's phone.
TRICKY = [
    SandboxNumber("num_01JNT19DANW3EKC5BQR8YGY5TA", "+5521955555555", "Café", "PILOT_STATUS"),
    SandboxNumber("num_01JNT19DANW3EKC5BQR8YGY5TB", "+5521966666666", "Cafe", "PILOT_STATUS"),
    SandboxNumber("num_01JNT19DANW3EKC5BQR8YGY5TC", "+5521922222222", "Loja", "PILOT_STATUS"),
    SandboxNumber("num_01JNT19DANW3EKC5BQR8YGY5TD", "+5521944444444", "+5521922222222", "PILOT_STATUS"),
]


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("tricky") / "data"
    store_traffic(data, sandbox_traffic(TRICKY, 60))
    return data


def listed_ids(data: Path, text: str) -> list[str]:
    return [e["numberId"] for e in ok_json(pd(data, "numbers", "-n", text, "--json", env=WIDE))]


def test_an_empty_number_is_a_usage_error_on_every_command(desk: Desk) -> None:
    for command in (
        ("messages", "-n", ""),
        ("numbers", "-n", " "),
        ("webhooks", "list", "-n", ""),  # was: every webhook listed
        ("webhooks", "update", "wh_any", "-n", "", "--pause"),
        ("webhooks", "logs", "wh_any", "-n", ""),
    ):
        result = desk.run(*command)
        assert result.returncode == 2 and result.stdout == "", (command, result.stdout, result.stderr)
        assert "The number is empty" in result.stderr, (command, result.stderr)


def test_the_exact_name_wins_over_the_same_name_without_accents(tricky: Path) -> None:
    cafe_accented, cafe_plain = TRICKY[0], TRICKY[1]
    assert listed_ids(tricky, "Café") == [cafe_accented.id]
    assert listed_ids(tricky, "CAFÉ") == [cafe_accented.id]
    assert listed_ids(tricky, "Cafe") == [cafe_plain.id]


def test_a_phone_of_one_number_that_is_the_name_of_another_is_ambiguous(tricky: Path) -> None:
    loja, named_like_it = TRICKY[2], TRICKY[3]
    result = pd(tricky, "numbers", "-n", loja.phone, env=WIDE)
    assert result.returncode == 2 and result.stdout == ""
    assert "Several numbers match" in result.stderr
    assert loja.id in result.stderr and named_like_it.id in result.stderr
    assert listed_ids(tricky, named_like_it.phone) == [named_like_it.id]


def test_the_clis_own_label_and_ids_in_any_case_are_accepted_back(desk: Desk) -> None:
    branch = desk.numbers[13]  # "… · Filial 2"
    for text in (
        f"{branch.name} · {branch.phone} ({branch.id})",  # as `numbers`, errors and notes print it
        f"{branch.name} · {branch.phone}",
        f"{branch.name} {branch.phone}",
        branch.name.replace(" · ", " "),  # the name's dot left out
        branch.id.lower(),  # ULIDs: case does not matter
    ):
        assert listed_ids(desk.data, text) == [branch.id], text
    shop = desk.by_name("Restaurante Sabor Caseiro")
    for text in (f"{shop.name} · {shop.phone}", shop.id.lower()):
        assert ids_listed(desk.run("messages", "-n", text, "--json", "--limit", "50")) == {shop.id}, text
    first = json.loads(ok(desk.run("messages", "-n", shop.id, "--json", "--limit", "1")).stdout)
    assert ok_json(desk.run("timeline", first["id"].lower(), "--json"))["id"] == first["id"]


def test_timeline_refuses_a_malformed_event_number_and_names_other_events(desk: Desk) -> None:
    for text in ("#abc", "#", "# 5", "#12a"):
        result = desk.run("timeline", text)
        assert result.returncode == 2 and result.stdout == "", (text, result.stderr)
        assert "not an event number" in result.stderr and "'#123'" in result.stderr
    with desk.db() as conn:
        event, number_id = conn.execute(
            "SELECT id, number_id FROM events WHERE event = 'number.created' ORDER BY id LIMIT 1"
        ).fetchone()
    shop = next(n for n in desk.numbers if n.id == number_id)
    result = desk.run("timeline", f"#{event}")
    assert result.returncode == 1 and result.stdout == ""
    assert f"#{event} is a number.created event" in result.stderr and shop.name in result.stderr
    assert "not a step of any message" in result.stderr
    invalid = desk.run("timeline", "12345678")  # possible in Brazil, but no one's phone
    assert invalid.returncode == 2 and "'#12345678'" in invalid.stderr


def test_numbers_never_says_healthy_unless_connected(desk: Desk) -> None:
    listed = ok_json(desk.run("numbers", "--json"))
    assert any(e["state"] != "OPEN" for e in listed)  # the account-only numbers: state unknown
    for e in listed:
        if e["state"] != "OPEN":
            assert e["health"] != "healthy", e
    for line in ok(desk.run("numbers")).stdout.splitlines()[1:]:
        assert "Connected" in line or "healthy" not in line.lower(), line


def test_uptime_counts_the_pairing_as_no_downtime(tricky: Path) -> None:
    listed = ok_json(pd(tricky, "numbers", "--json", "--history", "10", env=WIDE))
    paired = [
        e for e in listed
        if [(t["from"], t["to"]) for t in e["history"] if t["kind"] == "connection"]
        == [("CONNECTING", "OPEN"), ("UNKNOWN", "CONNECTING")]
    ]  # fmt: skip
    assert paired  # created, paired within seconds, connected since
    assert all(e["uptime24h"] == 1.0 for e in paired), [(e["name"], e["uptime24h"]) for e in paired]


def test_numbers_history_must_not_be_negative(desk: Desk) -> None:
    result = desk.run("numbers", "--history", "-1")
    assert result.returncode == 2 and result.stdout == "" and "--history" in result.stderr


def test_a_polls_first_reading_says_the_time_since_the_change_is_unknown(desk: Desk, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(desk.data, data)
    ok(pd(data, "numbers", "--refresh", env=WIDE))  # the account-only numbers: first seen by this poll
    listed = {e["numberId"]: e for e in ok_json(pd(data, "numbers", "--json", env=WIDE))}
    polled = [listed[n.id] for n in desk.numbers[3:]]
    assert all(e["state"] != "UNKNOWN" and e["source"] == "poll" for e in polled), polled
    assert all(e["since"] is None and e["sinceSeconds"] is None for e in polled)
    table = ok(pd(data, "numbers", env=WIDE)).stdout.splitlines()
    for n in desk.numbers[3:]:
        (row,) = [line for line in table if n.id in line]
        assert " unknown " in row and " 0 s " not in row, row
