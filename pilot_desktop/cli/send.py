"""`pilot-desktop send -n NUMBER --to +E164 --text TEXT [--watch]`: send a test message and
follow it (services/send.py).

The send carries an Idempotency-Key (a new one per command, or `--idempotency-key` to
repeat a command safely: the platform then answers the first acceptance again). With
`--watch` the command follows the message in this data folder's store as the running
receiver (the window or `serve`) stores its webhooks, printing each step as it arrives,
and exits on a final state (READ, FAILED, CANCELED: 0) or at `--timeout` (1). DELIVERED is
not final: it stays the last step when the contact's read receipts are off, which the
timeout then says. Without a running receiver no step can arrive, so `--watch` refuses to
send (exit 2) unless `--force`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from pilot_desktop.api.errors import ApiError
from pilot_desktop.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Ctx, err, print_json
from pilot_desktop.core.format import clock, duration, iso, short
from pilot_desktop.services.send import (
    FINAL,
    MAX_TEXT,
    Sender,
    SendError,
    Sent,
    Update,
    Watch,
    receiver_alive,
    step_text,
)
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.read_models import MessageRow, Step
from pilot_desktop.store.reads import Reads

POLL_S = 0.25  # store reads per second while watching: 4, each a few index lookups
DEFAULT_TIMEOUT_S = 120.0


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    send = sub.add_parser(
        "send",
        parents=[common, as_json],
        help="send a test text message through the API (and --watch its steps arrive)",
        description="Sends a text through Pilot Status with an Idempotency-Key and prints the "
        "message's id and correlationId. With --watch, prints each step as its webhook reaches "
        "the receiver running on this data folder (the window or `serve`), and exits 0 on a final "
        "state (READ, FAILED, CANCELED) or 1 at the timeout. DELIVERED is not final: with the "
        "contact's read receipts off it stays the last step, and the timeout says so.",
    )
    send.add_argument(
        "--number", "-n", metavar="N", required=True, help="send from this number (id, phone or name)"
    )
    send.add_argument("--to", required=True, metavar="+E164", help="the destination, E.164 with '+'")
    send.add_argument("--text", required=True, help=f"the message (at most {MAX_TEXT} characters)")
    send.add_argument("--watch", action="store_true", help="follow the message until a final state")
    send.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"with --watch: give up after this long (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    send.add_argument(
        "--force", action="store_true", help="with --watch: send even when no receiver is running here"
    )
    send.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="reuse this key (repeating the same command then cannot send twice); default: a new one",
    )
    send.set_defaults(handler=run, log_file=True)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError("give between 0 and 86400 seconds")
    return value


async def run(ctx: Ctx) -> int:
    args = ctx.args
    sender = Sender(ctx.accounts, ctx.admin.find_number)
    try:
        request = sender.prepare(args.number, args.to, args.text)
    except SendError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_ERROR) from exc
    if args.idempotency_key is not None and not 0 < len(args.idempotency_key) <= 255:
        raise CliError("--idempotency-key: 1 to 255 characters", EXIT_USAGE)
    reads = _watch_reads(ctx) if args.watch else None
    try:
        key = args.idempotency_key or sender.key_for(request)
        try:
            sent = await sender.send(request, idempotency_key=key)
        except ApiError as exc:
            if not exc.maybe_applied:
                raise CliError(str(exc)) from exc
            # Each run of the command makes its own key: say the one to repeat it with.
            raise CliError(
                f"{exc} It may have been sent: to try again without sending twice, repeat the "
                f"command with --idempotency-key {key}"
            ) from exc
        _print_sent(ctx, sent)
        if reads is None:
            return EXIT_OK
        return await _watch(ctx, Watch(reads, sent), args.timeout)
    finally:
        if reads is not None:
            reads.close()


def _watch_reads(ctx: Ctx) -> Reads:
    """The store, read-only, after checking a receiver is there to fill it (before sending)."""
    try:
        reads = Reads.open(ctx.paths.data_dir)
    except StoreError as exc:
        if not ctx.args.force:
            raise CliError(
                f"{exc} No receiver has run on this data folder, so no step of the message would "
                "arrive: start `pilot-desktop serve` (or the window) on it, or add --force to send anyway.",
                EXIT_USAGE,
            ) from exc
        raise CliError(f"{exc} (--force cannot watch a store that does not exist)") from exc
    alive, why = receiver_alive(reads.heartbeat(), time.time())
    if alive is False and not ctx.args.force:
        reads.close()
        raise CliError(
            f"No receiver is running on {ctx.paths.data_dir} ({why}), so no step of the message "
            "would arrive. Start `pilot-desktop serve` (or the window) on it, or add --force to send "
            "and watch anyway.",
            EXIT_USAGE,
        )
    if alive is not True:
        err(f"warning: {why}; steps arrive only while a receiver runs on this data folder")
    return reads


def _print_sent(ctx: Ctx, sent: Sent) -> None:
    if ctx.as_json:
        doc = sent.as_json()
        if ctx.args.watch:
            doc = {"type": "accepted", **doc}
        print_json(doc, indent=None if ctx.args.watch else 2)
        return
    if sent.replayed:
        err("note: this Idempotency-Key was already accepted; the platform answered that send again")
    print(f"id             {sent.id}")
    print(f"correlationId  {sent.correlation_id or '(none)'}")
    print(f"status         {sent.status} at {sent.created_at or '(no time)'}")
    sys.stdout.flush()


async def _watch(ctx: Ctx, watch: Watch, limit: float) -> int:
    deadline = time.monotonic() + limit
    if not ctx.as_json:
        print(f"Watching {watch.sent.id} (up to {duration(limit)}; Ctrl+C stops watching)…", flush=True)
    update = Update()
    while True:
        update = watch.poll()
        for step in update.steps:
            _print_step(ctx, watch.sent, step, update.message)
        for reply in update.replies:
            _print_reply(ctx, reply)
        if update.final:
            break
        if time.monotonic() >= deadline:
            return _timed_out(ctx, watch, limit)
        await asyncio.sleep(POLL_S)
    m = update.message
    assert m is not None
    if ctx.as_json:
        print_json({"type": "end", "status": m.status, "final": True, "timedOut": False}, indent=None)
    else:
        print(f"Final: {m.status}.", flush=True)
    return EXIT_OK


def _print_step(ctx: Ctx, sent: Sent, step: Step, m: MessageRow | None) -> None:
    failure = None
    if step.status == "FAILED" and m is not None:
        failure = {"error": m.error, "errorCode": m.error_code}
    if ctx.as_json:
        r = step.reconstructed
        print_json(
            {
                "type": "step",
                "status": step.status,
                "event": step.event,
                "createdAt": step.event_time,
                "receivedAt": iso(step.received_at),
                "eventId": step.event_id,
                "late": step.late,
                "reconstructed": None if r is None else {"source": r.source, "at": r.at_text or iso(r.at)},
                "failure": failure,
            },
            indent=None,
        )
        return
    at = step.at if step.at is not None else step.received_at
    after = f"+{duration(max(0.0, at - sent.created))}"
    line = f"{step.status:<10} {clock(at)}  {after:>11}  {step_text(step)}"
    if step.late:
        line += "  (late: arrived after a later step)"
    if failure is not None:
        reason = failure["error"] or "(no error text)"
        line += f"\n           reason: {reason} [{failure['errorCode'] or 'no code'}]"
    print(line, flush=True)


def _print_reply(ctx: Ctx, reply: MessageRow) -> None:
    if ctx.as_json:
        print_json({"type": "reply", "id": reply.msg_id, "from": reply.peer, "text": reply.text}, indent=None)
    else:
        print(
            f"REPLY      {clock(reply.first_at)}  from {reply.peer or '?'}: {short(reply.text, 80)!r}",
            flush=True,
        )


def _timed_out(ctx: Ctx, watch: Watch, timeout: float) -> int:
    m = watch.last.message
    status = m.status if m is not None else None
    if status is None:
        why = (
            f"no webhook of {watch.sent.id} reached the store in {duration(timeout)}: check that a "
            "webhook of this number with the message events points at the running receiver"
        )
    elif status == "DELIVERED":
        why = (
            f"{watch.sent.id} was DELIVERED and not read within {duration(timeout)}; with the contact's "
            "read receipts off DELIVERED is its final state"
        )
    else:
        final = ", ".join(FINAL)
        why = f"{watch.sent.id} reached {status} and no final state ({final}) within {duration(timeout)}"
    if ctx.as_json:
        print_json({"type": "end", "status": status, "final": False, "timedOut": True}, indent=None)
    err(f"timed out: {why}")
    return EXIT_ERROR
