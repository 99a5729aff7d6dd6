"""`pilot-desktop timeline|messages|rebuild` through the real console script.

A few messages with known stories are delivered to a real `serve` (late, repeated and
reply-first deliveries, failures with documented and undocumented codes, a stuck send, an
old one), then the commands are run as subprocesses against its data dir, read-only.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.lifecycle import STATUSES
from pilot_desktop.store.db import open_store
from pilot_desktop.store.schema import APPLICATION_ID, MIGRATIONS
from tests.integration.serving import BIN, CLI_TIMEOUT_S, Server, ServerPool, cli, cli_env, read_ndjson

NUM_A, NUM_B = "num_01JCLITESTAAAA", "num_01JCLITESTBBBB"
NUM_PHONE = "+5511911112222"
CONTACT = "+5511988887777"  # shares several messages: the newest is an inbound one


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status(event: str, at: float, msg: str, *, provider: str | None, number: str = NUM_A, to: str = CONTACT,
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    data: dict[str, Any] = {
        "numberId": number,
        "messageId": provider,
        "id": msg,
        "type": "text",
        "fromMe": True,
        "createdAt": iso(at),
        "from": NUM_PHONE,
        "to": to,
        "content": f"Olá! Mensagem {msg}.",
        "correlationId": f"corr_{msg}",
        **extra,
    }
    return {"event": event, "data": data}


def inbound(event: str, at: float, msg: str, provider: str, text: str, **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": NUM_A,
        "messageId": provider,
        "id": msg,
        "type": "text",
        "fromMe": False,
        "createdAt": iso(at),
        "from": CONTACT,
        "to": NUM_PHONE,
        "content": text,
        **extra,
    }
    return {"event": event, "data": data}


@dataclass
class History:
    server: Server
    event_ids: dict[str, int]  # label -> stored event id

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def run(self, *args: str) -> Any:
        """In a terminal wide enough for every column (tables fit the width: cli/common.py)."""
        return subprocess.run(
            [str(BIN), *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            env={**cli_env(), "COLUMNS": "250"},
            check=False,
        )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    pool = ServerPool(tmp_path_factory.mktemp("cli-messages"))
    server = pool.start()
    now = time.time()
    t0 = now - 3600
    sent = status("message.sent", t0, "msg_read_1", provider="3EB0READ1")
    delivered = status("message.delivered", t0 + 2.5, "msg_read_1", provider="3EB0READ1")
    read = status("message.read", t0 + 32.5, "msg_read_1", provider="3EB0READ1")
    reply = inbound(
        "message.reply", t0 + 60, "in_reply_1", "wamid.REPLY1", "SIM",
        quotedMessageId="3EB0READ1", correlationId="corr_msg_read_1",
    )  # fmt: skip
    old: dict[str, Any] = {"number": NUM_B, "to": "+5511977776666"}
    not_confirmed = "Sent, but the delivery was not confirmed before the deadline."
    plan = [
        ("reply", reply),  # before its original's message.sent
        ("delivered", delivered),
        ("sent", sent),  # late: after the delivery
        ("delivered again", delivered),  # a retry
        ("read", read),
        ("fail sent", status("message.sent", t0 + 100, "msg_fail_1", provider="3EB0FAIL1")),
        (
            "fail",
            status(
                "message.failed",
                t0 + 400,
                "msg_fail_1",
                provider="3EB0FAIL1",
                error=not_confirmed,
                errorCode="DELIVERED_NOT_CONFIRMED",
            ),
        ),
        (
            "undocumented",
            status(
                "message.failed",
                t0 + 500,
                "msg_undoc_1",
                provider=None,
                error="Meta rate limit reached for this phone number; try again later.",
                errorCode="META_RATE_LIMITED",
            ),
        ),
        ("stuck", status("message.sent", now - 7200, "msg_stuck_1", provider="3EB0STUCK", number=NUM_B)),
        ("old", status("message.sent", now - 10 * 86400, "msg_old_1", provider="3EB0OLD1", **old)),
        ("old delivered", status("message.delivered", now - 863997, "msg_old_1", provider="3EB0OLD1", **old)),
        ("inbound", inbound("message.received", now - 60, "in_new_1", "wamid.NEW1", "Vocês abrem amanhã?")),
    ]
    ids: dict[str, int] = {}
    for label, body in plan:
        resp = server.post(body)
        assert resp.status_code == 200, resp.text
        ids[label] = resp.json()["id"]
    yield History(server, ids)
    problems = pool.close()
    assert not problems, "\n\n".join(problems)


def timeline_doc(h: History, ident: str) -> dict[str, Any]:
    res = h.run("timeline", ident, "--json")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


# -- timeline ------------------------------------------------------------------------------
def test_timeline_finds_a_message_by_any_of_its_ids(history: History) -> None:
    read_event = history.event_ids["read"]
    for ident in ("msg_read_1", "corr_msg_read_1", "3EB0READ1", f"#{read_event}"):
        assert timeline_doc(history, ident)["id"] == "msg_read_1", ident
    bare = history.run("timeline", str(read_event), "--json")  # never silently an event number
    assert bare.returncode == 2 and bare.stdout == "" and f"'#{read_event}'" in bare.stderr


def test_timeline_json_has_every_step_with_its_times_lateness_and_deliveries(history: History) -> None:
    doc = timeline_doc(history, "msg_read_1")
    assert (doc["id"], doc["correlationId"], doc["messageId"]) == (
        "msg_read_1",
        "corr_msg_read_1",
        "3EB0READ1",
    )
    assert doc["status"] == "READ" and doc["error"] is None and doc["pending"] == []
    steps = doc["steps"]
    assert [s["event"] for s in steps] == ["message.sent", "message.delivered", "message.read"]
    assert [s["late"] for s in steps] == [True, False, False]
    assert [s["deliveries"] for s in steps] == [1, 2, 1]
    for s in steps:
        assert s["createdAt"].endswith("Z") and s["receivedAt"].endswith("Z")
    assert doc["sentToDeliveredSeconds"] == pytest.approx(2.5, abs=0.01)
    assert doc["deliveredToReadSeconds"] == pytest.approx(30.0, abs=0.01)
    assert [(r["id"], r["text"], r["from"]) for r in doc["replies"]] == [("in_reply_1", "SIM", CONTACT)]


def test_timeline_text_is_readable(history: History) -> None:
    res = history.run("timeline", "3EB0READ1")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("Message msg_read_1 · outbound text · READ")
    assert "late (arrived after a later step)" in out
    assert "×2 deliveries" in out
    assert "+2.5 s" in out and "+30.0 s" in out  # durations between the steps
    assert "sent → delivered  2.5 s" in out
    assert "Replies (1)" in out and "'SIM'" in out and "in_reply_1" in out
    assert "Steps (3; 1 repeated deliveries)" in out


def test_timeline_of_a_failure_says_status_reason_code_meaning_and_hint(history: History) -> None:
    out = history.run("timeline", "msg_fail_1").stdout
    assert (
        "Failure: FAILED → Sent, but the delivery was not confirmed before the deadline. → "
        "DELIVERED_NOT_CONFIRMED" in out
    )
    assert "meaning: Sent, but no delivery confirmation came before the deadline" in out
    assert "Failed only because the confirmation did not come in time" in out  # a hint
    err = timeline_doc(history, "msg_fail_1")["error"]
    assert err["errorCode"] == "DELIVERED_NOT_CONFIRMED" and err["documented"] is True

    out = history.run("timeline", "msg_undoc_1").stdout
    assert "META_RATE_LIMITED" in out and "needs review" in out
    assert timeline_doc(history, "msg_undoc_1")["error"]["documented"] is False


def test_timeline_of_a_pending_message_lists_what_is_missing(history: History) -> None:
    doc = timeline_doc(history, "msg_stuck_1")
    assert doc["status"] == "SENT" and doc["pending"] == ["DELIVERED", "READ"]
    assert "pending: DELIVERED → READ" in history.run("timeline", "msg_stuck_1").stdout


def test_timeline_of_a_reply_names_the_message_it_answers(history: History) -> None:
    doc = timeline_doc(history, "wamid.REPLY1")
    assert doc["id"] == "in_reply_1" and doc["replyTo"] == "msg_read_1"
    assert "In reply to msg_read_1" in history.run("timeline", "in_reply_1").stdout


def test_timeline_by_phone_shows_the_newest_message_with_that_contact(history: History) -> None:
    for phone in (CONTACT, "+55 (11) 98888-7777", CONTACT.lstrip("+")):
        res = history.run("timeline", phone, "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["id"] == "in_new_1", phone
        assert "newest message" in res.stderr


def test_timeline_not_found_says_what_was_searched(history: History) -> None:
    res = history.run("timeline", "nope-123")
    assert res.returncode == 1 and res.stdout == ""
    assert "'nope-123'" in res.stderr
    for kind in ("internal ids", "correlationIds", "provider messageIds", "contact phones", "#ID"):
        assert kind in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("command", [["timeline", "x"], ["messages"], ["rebuild"]])
def test_no_database_is_a_sentence_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo"
    res = cli(*command, "--data-dir", missing)
    assert res.returncode == 1
    assert "No database in" in res.stderr and str(missing) in res.stderr
    assert "Traceback" not in res.stderr
    assert not missing.exists()


# -- messages ------------------------------------------------------------------------------
def listed(h: History, *args: str) -> list[dict[str, Any]]:
    res = h.run("messages", "--json", *args)
    assert res.returncode == 0, res.stderr
    return read_ndjson(res.stdout)


def test_messages_json_is_ndjson_newest_first(history: History) -> None:
    rows = listed(history)
    ids = [r["id"] for r in rows]
    assert ids[0] == "in_new_1"
    assert set(ids) == {"in_new_1", "msg_old_1", "msg_stuck_1", "msg_undoc_1", "msg_fail_1", "msg_read_1",
                        "in_reply_1"}  # fmt: skip
    read = next(r for r in rows if r["id"] == "msg_read_1")
    assert read["status"] == "READ" and read["replies"] == 1 and read["lateSteps"] == 1
    assert read["contact"] == CONTACT and read["numberId"] == NUM_A and read["direction"] == "outbound"


def test_messages_by_status_is_case_insensitive(history: History) -> None:
    assert {r["id"] for r in listed(history, "--status", "Failed")} == {"msg_fail_1", "msg_undoc_1"}
    assert {r["id"] for r in listed(history, "--status", "read,SENT")} == {"msg_read_1", "msg_stuck_1"}
    assert [r["id"] for r in listed(history, "--status", "delivered")] == ["msg_old_1"]


def test_messages_rejects_an_unknown_status_naming_the_choices(history: History) -> None:
    res = history.run("messages", "--status", "delivred")
    assert res.returncode == 2
    assert "DELIVRED" in res.stderr and ", ".join(STATUSES) in res.stderr


@pytest.mark.parametrize(("option", "value"), [("--limit", "0"), ("--since", "yesterday"), ("--limit", "x")])
def test_messages_rejects_bad_values(history: History, option: str, value: str) -> None:
    res = history.run("messages", option, value)
    assert res.returncode == 2 and value in res.stderr


def test_messages_filters_combine(history: History) -> None:
    assert [r["id"] for r in listed(history, "--stuck")] == ["msg_stuck_1"]
    assert {r["id"] for r in listed(history, "--number", NUM_B)} == {"msg_stuck_1", "msg_old_1"}
    assert "msg_old_1" not in {r["id"] for r in listed(history, "--since", "24h")}
    assert [r["id"] for r in listed(history, "--since", "3d", "--number", NUM_B)] == ["msg_stuck_1"]
    old = iso(time.time() - 11 * 86400)
    assert "msg_old_1" in {r["id"] for r in listed(history, "--since", old)}
    assert len(listed(history, "--limit", "2")) == 2


def test_messages_table(history: History) -> None:
    res = history.run("messages", "--status", "failed")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["FIRST", "SEEN", "DIR", "STATUS", "NUMBER", "CONTACT", "ID", "NOTES", "TEXT"]
    assert any("msg_fail_1" in line and "DELIVERED_NOT_CONFIRMED" in line for line in lines)
    assert lines[-1] == "2 of 2 matching messages, newest first"
    res = history.run("messages", "--number", "num_unknown")
    assert res.returncode == 1 and res.stdout == ""
    assert "No number matches 'num_unknown'" in res.stderr and NUM_A in res.stderr


# -- rebuild -------------------------------------------------------------------------------
def test_rebuild_gives_up_with_a_message_while_the_database_stays_locked(tmp_path: Path) -> None:
    db = open_store(tmp_path / "d")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holding the lock
    try:
        res = cli("rebuild", "--data-dir", tmp_path / "d", "--wait", "0.5")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.returncode == 1
    assert "stayed busy for 0.5 s" in res.stderr and "Nothing was changed" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli("rebuild", "--data-dir", tmp_path / "d")
    assert res.returncode == 0 and "Rebuilt 0 messages (0 steps)" in res.stdout


def test_an_old_database_is_upgraded_by_rebuild_not_by_reads(history: History, tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    old = sqlite3.connect(data / "pilot-desktop.sqlite3", isolation_level=None)
    try:  # schema 1 (events only) holding the history's events
        for statement in MIGRATIONS[0]:
            old.execute(statement)
        old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        old.execute("PRAGMA user_version = 1")
        cols = ", ".join(r[1] for r in old.execute("PRAGMA table_info(events)"))
        old.execute("ATTACH DATABASE ? AS src", (f"file:{history.server.db}?mode=ro",))
        old.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM src.events")
        old.execute("DETACH DATABASE src")
    finally:
        old.close()
    res = cli("messages", "--data-dir", data)
    assert res.returncode == 1 and "schema 1" in res.stderr and "pilot-desktop rebuild" in res.stderr
    res = cli("rebuild", "--data-dir", data)
    assert res.returncode == 0, res.stderr
    assert "upgrading the database from schema 1" in res.stderr and "Rebuilt 7 messages" in res.stdout
    res = cli("timeline", "msg_read_1", "--json", "--data-dir", data)
    assert res.returncode == 0 and json.loads(res.stdout)["replies"][0]["id"] == "in_reply_1"
