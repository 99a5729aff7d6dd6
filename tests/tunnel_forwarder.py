"""A stand-in tunnel program for the tests: a TCP forwarder that prints a public-looking URL.

    python tests/tunnel_forwarder.py --to 127.0.0.1:PORT|URL [--exit-after S] [--no-url]
        [--stderr] [--print-url URL]

It listens on a new free loopback port, prints a cloudflared-like banner naming
`http://127.0.0.1:<that port>` (so the URL changes on every start), and forwards each
connection's bytes both ways to `--to` until both sides are done. SIGTERM or SIGINT ends it
(exit 0); `--exit-after S` ends it with exit code 1 after S seconds (a crash); `--no-url`
prints the banner without a URL; `--stderr` prints to stderr as cloudflared does;
`--print-url` names that URL instead of its own (for a preset's pattern). Standard
library only.

The app takes a loopback address as a public URL only when PILOT_DESKTOP_TUNNEL_ALLOW_LOCAL=1
(pilot_desktop/tunnel/providers.ALLOW_LOCAL_ENV): tests/conftest.py sets it for the whole
test session, and the `serve` processes the tests start inherit it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import TextIO
from urllib.parse import urlsplit


def _log(out: TextIO, text: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} INF {text}", file=out, flush=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # pass the half-close on
    except (ConnectionError, OSError):
        pass


async def _serve(
    target: tuple[str, int], client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    try:
        up_r, up_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w))
    finally:
        for w in (up_w, client_w):
            w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()


def _target(text: str) -> tuple[str, int]:
    """host:port, or a URL (http://127.0.0.1:8787, as the `{local_url}` placeholder gives)."""
    if "://" in text:
        parts = urlsplit(text)
        return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def main(args: argparse.Namespace) -> int:
    target = _target(args.to)
    out = sys.stderr if args.stderr else sys.stdout
    server = await asyncio.start_server(lambda r, w: _serve(target, r, w), "127.0.0.1", 0)
    own = server.sockets[0].getsockname()[1]
    url = args.print_url or f"http://127.0.0.1:{own}"
    _log(out, "Thank you for trying the tunnel stand-in (tests/tunnel_forwarder.py)")
    _log(out, "Requesting new quick Tunnel on 127.0.0.1...")
    _log(out, "+----------------------------------------------------------------+")
    if args.no_url:
        _log(out, "|  Your quick Tunnel is being created, please wait...           |")
    else:
        _log(out, "|  Your quick Tunnel has been created! Visit it at:             |")
        _log(out, f"|  {url:<62}|")
    _log(out, "+----------------------------------------------------------------+")
    _log(out, f"Forwarding to {target[0]}:{target[1]}")

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    code = 0
    try:
        if args.exit_after is None:
            await done.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), args.exit_after)
            if not done.is_set():
                _log(out, "ERR the tunnel stand-in is exiting as asked (--exit-after)")
                code = 1
    finally:
        server.close()
    return code


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--to", required=True, help="host:port or URL to forward to (the receiver)")
    p.add_argument("--exit-after", type=float, default=None, help="exit with code 1 after S seconds")
    p.add_argument("--no-url", action="store_true", help="print the banner without a URL")
    p.add_argument("--stderr", action="store_true", help="print to stderr (as cloudflared does)")
    p.add_argument("--print-url", default=None, help="name this URL instead of its own")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
