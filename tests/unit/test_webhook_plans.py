"""What "point all my webhooks at this app" proposes, and delivery logs set beside the store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pilot_desktop.api.models import DeliveryLog, Webhook
from pilot_desktop.core.events import dedupe_key
from pilot_desktop.services.webhook_logs import compare_logs
from pilot_desktop.services.webhooks import (
    EMPTY_WARNING,
    HEALTH_NOTE,
    Target,
    events_warnings,
    plan_retarget,
    route_of,
)
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.reads import Reads

TOKEN = "tok_abcdefghijklmnop"
HERE = Target("https://new.tunnel.example", TOKEN)


def hook(hook_id: str, url: str, number: str = "num_A") -> Webhook:
    return Webhook(id=hook_id, name=hook_id, url=url, events=["*"], whatsappNumberIds=[number])


def test_retarget_moves_old_addresses_of_this_app_and_offers_the_rest_unticked() -> None:
    hooks = [
        hook("here", f"https://new.tunnel.example/hooks/{TOKEN}/num_A"),
        hook("moved", f"https://old.tunnel.example/hooks/{TOKEN}/num_A"),
        hook("bare", f"https://old.tunnel.example/hooks/{TOKEN}", number="num_B"),
        hook("crm", "https://crm.example/webhook", number="num_B"),
    ]
    changes = {c.webhook.id: c for c in plan_retarget(hooks, HERE)}
    assert set(changes) == {"moved", "bare", "crm"}  # "here" needs nothing
    assert changes["moved"].recommended and changes["moved"].new_url == HERE.url_for("num_A")
    # No route in the old URL: the number's route, so logs can be matched later.
    assert changes["bare"].recommended and changes["bare"].new_url == HERE.url_for("num_B")
    assert not changes["crm"].recommended and changes["crm"].new_url == HERE.url_for("num_B")


def test_route_of_reads_the_route_after_the_token() -> None:
    assert route_of(f"https://x.example/p/hooks/{TOKEN}/num_9", TOKEN) == "num_9"
    assert route_of(f"https://x.example/hooks/{TOKEN}", TOKEN) == ""
    assert route_of("https://x.example/hooks/other/num_9", TOKEN) is None


def test_event_warnings() -> None:
    assert events_warnings([]) == [EMPTY_WARNING]
    assert events_warnings(["number.disconnected"]) == [HEALTH_NOTE]
    assert events_warnings(["message.sent"]) == []
    assert events_warnings(["*"]) == []


def body(i: int) -> dict[str, Any]:
    return {
        "event": "message.sent",
        "data": {"numberId": "num_A", "messageId": f"w{i}", "id": f"m{i}", "fromMe": True,
                 "createdAt": f"2026-11-24T10:00:{i:02d}Z", "to": "+55119"},
    }  # fmt: skip


def store_event(conn: Any, obj: dict[str, Any], route: str, at: float) -> None:
    raw = json.dumps(obj).encode()
    conn.execute(
        "INSERT INTO events (dedupe_key, received_at, last_received_at, event, event_group, number_id,"
        " classification, signature, route, headers, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (dedupe_key(obj), at, at, obj["event"], "status", "num_A", "valid", "unsigned", route, "[]", raw),
    )


async def test_logs_compared_with_the_store_give_received_missing_failed_and_extra(tmp_path: Path) -> None:
    db = open_store(tmp_path)
    now = time.time()
    iso = datetime.fromtimestamp(now, UTC).isoformat()
    conn = connect(db)
    with conn:
        store_event(conn, body(1), "num_A", now)  # logged and stored
        store_event(conn, body(4), "num_A", now)  # stored, not in the logs: extra
        store_event(conn, body(5), "num_B", now)  # another route: not this webhook's
    conn.close()
    logs = [
        DeliveryLog(event="message.sent", status="SUCCESS", statusCode=200, payload=body(1), createdAt=iso),
        DeliveryLog(event="message.sent", status="SUCCESS", statusCode=200, payload=body(2), createdAt=iso),
        DeliveryLog(event="message.sent", status="FAILED", statusCode=503, payload=body(3), createdAt=iso),
    ]
    reads = Reads.open(tmp_path)
    try:
        result = await compare_logs(reads, logs, "num_A")
    finally:
        reads.close()
    assert [c.verdict for c in result.checks] == ["received", "missing", "not stored (delivery failed)"]
    assert [e["event"] for e in result.extra] == ["message.sent"] and len(result.extra) == 1
    assert result.counts == {"received": 1, "missing": 1, "failed": 1, "extra": 1}
