"""The Delivery tab's figures: how far the outbound messages of a period got, and how fast."""

from __future__ import annotations

import sqlite3

from pilot_desktop.core.lifecycle import FAILED, latency
from pilot_desktop.store.message_queries import first_id_since, message_numbers
from pilot_desktop.store.number_queries import names
from pilot_desktop.store.read_models import Funnel, FunnelSnapshot, NumberFunnel


def funnel(conn: sqlite3.Connection, number_id: str | None, since: float, until: float) -> Funnel:
    """Counts by the furthest step reached (a READ counts as sent and delivered too)."""
    where = "outbound = 1 AND id >= ? AND first_at >= ? AND first_at < ?"
    params: list[object] = [first_id_since(conn, since), since, until]
    if number_id is not None:
        where += " AND number_id = ?"
        params.append(number_id)
    total = sent = delivered = read = failed = 0
    to_delivered: list[float] = []
    to_read: list[float] = []
    for status, sent_at, delivered_at, read_at in conn.execute(
        f"SELECT status, sent_at, delivered_at, read_at FROM messages WHERE {where}", params
    ):
        total += 1
        sent += sent_at is not None or delivered_at is not None or read_at is not None
        delivered += delivered_at is not None or read_at is not None
        read += read_at is not None
        failed += status == FAILED
        if (d := latency(sent_at, delivered_at)) is not None:
            to_delivered.append(d)
        if (r := latency(delivered_at, read_at)) is not None:
            to_read.append(r)
    return Funnel(total, sent, delivered, read, failed, to_delivered, to_read)


def summarize(number: str, f: Funnel) -> NumberFunnel:
    return NumberFunnel(
        number=number,
        total=f.total,
        sent=f.sent,
        delivered=f.rate(f.delivered),
        read=f.rate(f.read),
        failed=f.rate(f.failed),
        median_delivery=f.median(f.to_delivered),
    )


def snapshot(conn: sqlite3.Connection, number: str | None, period: float, now: float) -> FunnelSnapshot:
    """The figures for one number (None: all, with a row per active number) over `period`."""
    since = now - period
    numbers = message_numbers(conn)
    per_number = []
    if number is None:
        per_number = [
            s
            for n in numbers
            if (s := summarize(n, funnel(conn, n, since, now))).total  # only active ones
        ]
    funnel_all = funnel(conn, number, since, now)
    return FunnelSnapshot(number, since, now, numbers, funnel_all, per_number, names(conn))
