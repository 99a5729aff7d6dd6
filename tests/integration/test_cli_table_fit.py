"""What the CLI prints fits an 80, 100 or 120 column terminal without losing what people read
whole or type back: real `pilot-desktop` processes on a store filled with the sandbox's
traffic (seed 1, 14 numbers: "Imobiliária Horizonte" and "Imobiliária Horizonte · Filial 2"
among them) and a tenant account on a running sandbox platform.

Every line fits; ids, times, phones and URLs are never cut (a row's detail line holds what
the grid has no room for, whole); columns with nothing in them are left out; two different
names never look alike once cut; free text (status, accounts, number history) wraps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pilot_desktop.core.format import cli_time, parse_time
from pilot_desktop.sandbox.scenario import SandboxNumber
from tests.integration.sandbox_store import sandbox_traffic, store_traffic
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import Server, cli
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd

WIDTHS = (80, 100, 120)
PUBLIC = "https://pilot-desk-receiver.example.com"
CELLS = re.compile(r" {2,}")  # table cells are two or more spaces apart


@dataclass
class Desk:
    platform: SandboxThread
    data: Path
    numbers: list[SandboxNumber]

    def at(self, columns: int, *args: str) -> str:
        """stdout of `pilot-desktop ARGS` at `columns`, every line checked to fit."""
        out = ok(pd(self.data, *args, env={"COLUMNS": str(columns)})).stdout
        too_wide = [line for line in out.splitlines() if len(line) > columns]
        assert too_wide == [], f"{args} at {columns}:\n{out}"
        return out

    def json(self, *args: str) -> Any:
        return ok_json(pd(self.data, *args, "--json"))

    def ndjson(self, *args: str) -> list[Any]:
        return [json.loads(line) for line in ok(pd(self.data, *args, "--json")).stdout.splitlines()]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    data = tmp_path_factory.mktemp("fit") / "data"
    with running_sandbox(seed=1, numbers=14) as platform:
        numbers = list(platform.sandbox.numbers)
        # the traffic of both "Imobiliária Horizonte" numbers and two others
        store_traffic(data, sandbox_traffic([*numbers[:3], *numbers[12:14]], 900))
        add_tenant(data, platform.sandbox)
        yield Desk(platform, data, numbers)


def grid_rows(out: str) -> list[list[str]]:
    """The table's rows (not the header, not the indented detail lines), split into cells."""
    lines = [line for line in out.splitlines() if line and not line.startswith(" ")]
    return [CELLS.split(line) for line in lines[1:]]


def look_alike(a: str, b: str) -> bool:
    """Two shown cells a reader takes for the same: one cut and showing nothing the other
    does not."""
    sa, sb = a.removesuffix("…").rstrip(), b.removesuffix("…").rstrip()
    return (a.endswith("…") and sb.startswith(sa)) or (b.endswith("…") and sa.startswith(sb))


def test_messages_keep_ids_and_times_whole_and_leave_out_empty_columns(desk: Desk) -> None:
    listed = desk.ndjson("messages", "--limit", "30")
    assert len(listed) == 30
    for columns in WIDTHS:
        out = desk.at(columns, "messages", "--limit", "30")
        for m in listed:
            assert m["id"] in out, (columns, m["id"], out)  # typed back into `timeline`
            first_at = parse_time(m["firstAt"])
            assert first_at is not None and cli_time(first_at) in out
            assert m["contact"] in out
        header = out.splitlines()[0]
        assert header.startswith("FIRST SEEN")
        noted = any(m["error"] or m["lateSteps"] or m["replies"] for m in listed)
        assert bool(re.search(r"\bnotes\b", out, re.I)) == noted, out  # an empty column takes no room


def test_numbers_show_ids_and_phones_whole_and_no_two_names_alike(desk: Desk) -> None:
    numbers = {n.id: n for n in desk.numbers}
    for columns in WIDTHS:
        out = desk.at(columns, "numbers")
        for n in numbers.values():
            assert n.id in out and n.phone in out, (columns, n.id, out)
        names = [row[0] for row in grid_rows(out)]
        assert len(names) == len(numbers), out
        alike = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if look_alike(a, b)]
        assert alike == [], f"at {columns}:\n{out}"
        assert "Imobiliária Horizonte · Filial 2" in desk.at(120, "numbers")


def test_number_history_lines_wrap_to_the_terminal(desk: Desk) -> None:
    for columns in WIDTHS:
        out = desk.at(columns, "numbers", "--history", "5")
        assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", out, re.M), out  # the transitions


def test_the_timeline_steps_keep_the_time_of_day_to_the_millisecond(desk: Desk) -> None:
    [message] = desk.ndjson("messages", "--limit", "1")
    steps = desk.json("timeline", message["id"])["steps"]
    assert steps
    for columns in WIDTHS:
        out = desk.at(columns, "timeline", message["id"])
        for step in steps:
            arrived = step["receivedAt"]  # 2026-12-05T00:16:59.096Z
            assert f"on {arrived[:10]}" in out and arrived[11:23] in out, (columns, arrived, out)
            assert step["event"] in out and f"#{step['eventId']}" in out


def test_webhook_urls_and_ids_are_read_whole(desk: Desk) -> None:
    ok(pd(desk.data, "public-url", PUBLIC))
    sb = desk.platform.sandbox
    made = []
    events, name = "message.received,message.read", "Customer relationship system, production"
    for n, end in ((sb.numbers[0], "receiver-a"), (sb.numbers[1], "receiver-b")):
        url = f"{PUBLIC}/hooks/{end}"
        made.append(
            desk.json("webhooks", "create", "-n", n.id, "--url", url, "--events", events, "--name", name)
        )
    plan = desk.json("webhooks", "subscribe-all")  # what it would do, to this app's URL
    for columns in WIDTHS:
        out = desk.at(columns, "webhooks", "list")
        for hook in made:
            assert hook["id"] in out and hook["url"] in out, (columns, out)
        preview = desk.at(columns, "webhooks", "subscribe-all")
        unbroken = re.sub(r"\n +", "", preview)  # a URL longer than a line is continued on the next
        assert plan["steps"] and all(step["newUrl"] in unbroken for step in plan["steps"]), preview
        assert all(step["numberId"] in preview for step in plan["steps"]), preview
        assert all(step["reason"] in " ".join(preview.split()) for step in plan["steps"]), preview


def test_accounts_and_status_lines_wrap_to_the_terminal(desk: Desk) -> None:
    for columns in WIDTHS:
        accounts = desk.at(columns, "accounts", "list")
        for n in desk.numbers:
            assert n.id in accounts and n.phone in accounts
        status = pd(desk.data, "status", env={"COLUMNS": str(columns)})
        assert status.returncode in (0, 1) and "Traceback" not in status.stderr  # 1: nothing running
        assert [line for line in status.stdout.splitlines() if len(line) > columns] == [], status.stdout


def test_rejections_keep_time_and_id_whole_and_read_the_reason(serve: Callable[..., Server]) -> None:
    server = serve()
    for n in range(3):
        assert server.post(b"not json at all " * n, route=f"num_{n}").status_code == 400
    rows = json.loads(cli("rejections", "--data-dir", server.data_dir, "--json").stdout)
    assert len(rows) == 3
    for columns in WIDTHS:
        for extra in ((), ("--all",)):
            res = pd(server.data_dir, "rejections", *extra, env={"COLUMNS": str(columns)})
            out = ok(res).stdout
            assert [line for line in out.splitlines() if len(line) > columns] == [], out
            for row in rows:
                assert re.search(rf"^\S.*  {row['id']}  ", out, re.M), (columns, out)  # id in its row, whole
                words = row["reason"].split()
                assert " ".join(words[:4]) in " ".join(out.split()), (columns, row["reason"], out)
