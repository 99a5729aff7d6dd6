"""`pilot-desktop send [--watch]` against the sandbox platform, as a script uses it: a real
`serve` receiving the sandbox's webhooks on loopback, the CLI a real subprocess on the same
temporary data folder. The steps printed are compared with the sandbox's own record of the
message; a send whose answer is lost and is repeated with its key is one message."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random

import pytest

from pilot_desktop.sandbox.processes import make_contact
from tests.integration.sandbox_thread import SandboxThread, running_sandbox
from tests.integration.serving import BIN, CLI_TIMEOUT_S, Server, cli_env
from tests.integration.test_cli_webhooks import add_tenant, ok, ok_json, pd

SEED = 1  # SandboxThread's default: the contacts' traits below are drawn from it
SEND = "/v1/messages/send"
STEP = re.compile(r"^(SENT|DELIVERED|READ|FAILED|CANCELED)\s+\S+\s+\+\S+\s+(.*)$")


@pytest.fixture
def platform() -> Iterator[SandboxThread]:
    # No organic traffic: the only message is the one the test sends.
    with running_sandbox(seed=SEED, rate=0.0) as thread:
        yield thread


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def reading_contact() -> str:
    """A destination on WhatsApp with read receipts on (its traits follow from the seed), so
    its message usually ends READ; the test still follows whatever the sandbox did."""
    for n in range(1000):
        phone = f"+55119876{n:05d}"
        contact = make_contact(SEED, phone, Random(0))
        if contact.on_whatsapp and not contact.receipts_off:
            return phone
    raise AssertionError("no reading contact among 1000 phones")


def send(data: Path, *args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "send", *args, "--data-dir", str(data)],
        input="",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        check=False,
    )


def receiving(platform: SandboxThread, data: Path, serve: Callable[..., Server]) -> tuple[Server, str]:
    """serve on the data folder, a webhook of the first number delivering every event to it."""
    sb = platform.sandbox
    number = sb.numbers[0]
    add_tenant(data, sb)
    server = serve(data_dir=data)
    ok(pd(data, "public-url", server.base))
    ok_json(pd(data, "webhooks", "create", "-n", number.id, "--all-events", "--json"))
    return server, number.id


def test_send_watch_prints_each_step_as_it_arrives_and_exits_on_the_final_state(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    server, _ = receiving(platform, data, serve)
    platform.call(lambda: setattr(sb, "time_scale", 60.0))  # a minute of the platform per second
    phone = sb.numbers[0].phone
    run = send(data, "-n", phone, "--to", reading_contact(), "--text", "hello from the test", "--watch",
               "--timeout", "40")  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    fields = dict(re.findall(r"^(id|correlationId)\s+(\S+)$", run.stdout, re.M))
    record = platform.call(lambda: sb.scenario.message(fields["id"]))
    assert record is not None, run.stdout
    assert record.correlation_id == fields["correlationId"] and record.content == "hello from the test"

    printed = [m.group(1) for line in run.stdout.splitlines() if (m := STEP.match(line))]
    reached = [s for s, at in (("SENT", record.sent_at), ("DELIVERED", record.delivered_at),
                               ("READ", record.read_at)) if at]  # fmt: skip
    if record.status == "FAILED":
        reached.append("FAILED")
    assert printed == reached, f"{run.stdout}\n{run.stderr}\n{server.output()}"
    assert all("webhook message." in line for line in run.stdout.splitlines() if STEP.match(line))
    if record.status in ("READ", "FAILED"):
        assert run.returncode == 0, run.stderr
        assert f"Final: {record.status}." in run.stdout
    else:  # DELIVERED and never read (or not yet): the timeout says what it means
        assert run.returncode == 1 and "timed out" in run.stderr
        assert "read receipts" in run.stderr or record.status != "DELIVERED"


def test_watch_refuses_to_send_when_no_receiver_runs_on_the_data_folder(
    platform: SandboxThread, data: Path, serve: Callable[..., Server]
) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    args = ("-n", sb.numbers[0].id, "--to", "+5511987650001", "--text", "hi", "--watch", "--timeout", "5")
    never = send(data, *args)  # no receiver ever ran here: no store at all
    assert never.returncode == 2, never.stderr
    assert "No receiver has run on this data folder" in never.stderr and "--force" in never.stderr

    server = serve(data_dir=data)
    assert server.stop() == 0  # a clean stop: its heartbeat says so
    stopped = send(data, *args)
    assert stopped.returncode == 2, stopped.stderr
    assert "No receiver is running" in stopped.stderr and "stopped" in stopped.stderr
    assert platform.call(lambda: sb.faults.requests("POST", SEND)) == 0  # nothing was sent

    forced = send(data, *args, "--force", "--json")
    assert forced.returncode == 1 and "timed out" in forced.stderr  # sent, and nothing arrives
    accepted, end = (json.loads(line) for line in forced.stdout.splitlines())  # NDJSON while watching
    assert accepted["type"] == "accepted" and accepted["status"] == "QUEUED"
    assert end == {"type": "end", "status": None, "final": False, "timedOut": True}
    assert platform.call(lambda: [m.id for m in sb.state.messages.values()]) == [accepted["id"]]


def test_bad_input_is_refused_before_anything_is_sent(platform: SandboxThread, data: Path) -> None:
    sb = platform.sandbox
    add_tenant(data, sb)
    number = sb.numbers[0].id
    for args, code, says in (
        (("-n", number, "--to", "12125550123", "--text", "x"), 2, "add the '+'"),  # no phone of BR
        (("-n", number, "--to", "+55 11 98765", "--text", "x"), 2, "not an E.164"),
        (("-n", number, "--to", "+5511987650001", "--text", "   "), 2, "text is empty"),
        (("-n", number, "--to", "+5511987650001", "--text", "x" * 4097), 2, "at most 4,096"),
        (("-n", "num_nobody", "--to", "+5511987650001", "--text", "x"), 1, "No account can act on number"),
    ):
        refused = send(data, *args)
        assert refused.returncode == code, (args, refused.stderr)
        assert says in refused.stderr, (args, refused.stderr)
    assert platform.call(lambda: sb.faults.requests("POST", SEND)) == 0


def test_a_send_whose_answer_was_lost_is_one_message(platform: SandboxThread, data: Path) -> None:
    """The client repeats the send with its Idempotency-Key; a command repeated with
    --idempotency-key after every answer was lost gets the first acceptance back."""
    sb = platform.sandbox
    add_tenant(data, sb)
    number = sb.numbers[1].id
    args = ("-n", number, "--to", "+5511987650002", "--text", "once", "--json")
    platform.call(lambda: sb.faults.inject("POST", SEND, None, drop=True, after_handler=True))
    first = send(data, *args)
    accepted = ok_json(first)
    assert platform.call(lambda: sb.faults.requests("POST", SEND)) == 2  # the lost answer, then the replay
    assert accepted["replayed"] is True
    assert platform.call(lambda: [m.id for m in sb.state.messages.values()]) == [accepted["id"]]

    # Every answer lost: the command fails saying the send may have gone out ...
    platform.call(lambda: sb.faults.inject("POST", SEND, None, drop=True, after_handler=True, count=3))
    lost = send(data, *args[:-1])
    assert lost.returncode == 1 and "may have been applied" in lost.stderr, lost.stderr
    # ... and repeating it with the key it names sends nothing new.
    said = re.search(r"--idempotency-key (\S+)", lost.stderr)
    assert said, lost.stderr
    again = send(data, *args[:-1], "--idempotency-key", said[1])
    assert again.returncode == 0, again.stderr
    assert "already accepted" in again.stderr
    ids = platform.call(lambda: [m.id for m in sb.state.messages.values()])
    assert len(ids) == 2 and re.search(rf"^id\s+{ids[1]}$", again.stdout, re.M), (ids, again.stdout)
