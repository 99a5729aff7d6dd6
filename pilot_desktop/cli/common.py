"""What every command shares: exit codes, errors, output, secrets from stdin, the context.

Output: `--json` (`add_json`) prints one stable JSON document (or NDJSON, where a command
says so) on stdout through `print_json`, its keys in camelCase at every level whatever the
code's names (`camel_keys`; a stored payload wrapped in `Verbatim` is kept as it is); tables
(`table`, cli/output.py) fit the terminal's width: empty columns left out, long text columns
cut first but never until two values look alike, then whole on a line under each row; ids,
times, phones and URLs never cut; messages, notes and warnings go to stderr as
`pilot-desktop: ...`. Exit codes: 0 done, 1 failed (the platform refused, no database, a
file in error ...), 2 the command cannot run as given (a bad value, refused without --yes),
130 interrupted.

What the CLI prints is data for other programs and for terminals: stdout and stderr pass
through `terminal_safe` (stored or remote text cannot drive the terminal), JSON is written
by the one strict writer `json_text`, and a reader that stops early (`| head`) ends the
command quietly with exit 0 (`guard_pipe`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO, cast

from pilot_desktop.api.errors import ApiError

# What every command prints data with (cli/output.py), offered here with the rest they share.
from pilot_desktop.cli.output import (  # noqa: F401 - re-exported
    Verbatim,
    add_json,
    camel_keys,
    print_json,
    table,
    text_width,
)
from pilot_desktop.core.format import terminal_safe
from pilot_desktop.services import logs
from pilot_desktop.services.accounts import AccountError, Accounts
from pilot_desktop.services.config import Config, SettingsError
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.services.secrets import SecretsError, SecretStore, open_secrets
from pilot_desktop.services.signing import SigningSecrets
from pilot_desktop.services.webhook_admin import AdminError, WebhookAdmin
from pilot_desktop.store.db import DB_NAME, StoreError, classify_error
from pilot_desktop.store.reads import Reads

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """A failure with a message for the operator and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def err(message: str) -> None:
    try:
        print(f"pilot-desktop: {message}", file=sys.stderr, flush=True)
    except BrokenPipeError:  # nobody reads stderr any more: nowhere to say it
        _discard(sys.stderr)


# -- the streams -----------------------------------------------------------------------------
class _TerminalSafe:
    """stdout or stderr with every write passed through `terminal_safe` (lines kept)."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        return self.raw.write(terminal_safe(text, lines=True))

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding ...
        return getattr(self.raw, name)


def safe_streams() -> None:
    """From here on, everything printed (tables, notes, errors quoting stored or remote
    text, logging on the console) is terminal-safe."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _TerminalSafe):
            setattr(sys, name, cast(TextIO, _TerminalSafe(stream)))


def data_stdout() -> TextIO:
    """Where a data file for other programs goes on stdout (`export`): byte for byte as
    written, unless stdout is a terminal, where it is made terminal-safe too."""
    out = sys.stdout
    if isinstance(out, _TerminalSafe) and not out.isatty():
        return out.raw
    return out


def _discard(stream: TextIO) -> None:
    """Point a stream whose reader went away at /dev/null: what is still buffered, and
    the flush at exit, go nowhere instead of raising (and exiting 120) again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def guard_pipe(main: Callable[[], int]) -> int:
    """Run the whole command (parsing and --help included) so that a reader which stops
    early (`export | head`, `messages --json | head -1`) ends it quietly with exit 0, as
    SIGPIPE ends other tools: no error, no traceback. stdout is flushed here, not at exit,
    where a closed pipe would print "Exception ignored" and exit 120."""
    try:
        try:
            return main()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        _discard(sys.stdout)
        return EXIT_OK


def read_secret(what: str) -> str:
    """One secret from stdin: a hidden prompt on a terminal, else the whole input (one line).
    Never from argv: shell history and `ps` would show it."""
    if sys.stdin is None:
        raise CliError(f"No {what} given: pipe it on stdin.", EXIT_USAGE)
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what[0].upper()}{what[1:]} (input hidden): ", stream=sys.stderr)
    else:
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise CliError(f"No {what} on stdin.", EXIT_USAGE)
    if any(c.isspace() for c in value):
        raise CliError(f"The {what} on stdin must be one line without spaces.", EXIT_USAGE)
    return value


def confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


@dataclass
class Ctx:
    """One command's context: its arguments and, opened on first use, the profile's
    configuration, secret store, accounts, signing secrets, webhook administration and
    the store's read facade (read-only; never created or upgraded)."""

    paths: AppPaths
    args: argparse.Namespace
    _reads: Reads | None = field(default=None, repr=False)

    @property
    def as_json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @cached_property
    def config(self) -> Config:
        return Config.open(self.paths)

    @cached_property
    def secrets(self) -> SecretStore:
        # A one-shot command says the keyring warning once per data folder; a process that
        # runs for days (`serve` sets `warn_each_start`) says it in its output at each start.
        return _LazySecrets(self.paths, once=not getattr(self.args, "warn_each_start", False))

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.config.state, self.secrets)

    @cached_property
    def signing(self) -> SigningSecrets:
        return SigningSecrets(self.config.state, self.secrets)

    @cached_property
    def admin(self) -> WebhookAdmin:
        return WebhookAdmin(self.config, self.accounts, self.signing, self.reads)

    def reads(self) -> Reads | None:
        """The store, read-only, when there is one."""
        if self._reads is None and (self.paths.data_dir / DB_NAME).exists():
            self._reads = Reads(self.paths.data_dir / DB_NAME)
        return self._reads

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()


class _LazySecrets:
    """The secret store, opened when a secret is first read or written (a command that
    finds none needs none); says on stderr when it is the 0600 file: once per data folder,
    or at each start of a long-running process."""

    def __init__(self, paths: AppPaths, *, once: bool = True) -> None:
        self._paths = paths
        self._once = once

    @cached_property
    def _store(self) -> SecretStore:
        store = open_secrets(self._paths.data_dir)
        if store.warning and not self._once:
            err(f"warning: {store.warning}")
        elif store.warning and _first_time(self._paths.data_dir / WARNED_NAME, store.warning):
            err(f"warning: {store.warning} (said once for this data folder)")
        return store

    @property
    def backend(self) -> str:
        return self._store.backend

    @property
    def warning(self) -> str | None:
        return self._store.warning

    def get(self, name: str) -> str | None:
        return self._store.get(name)

    def set(self, name: str, value: str) -> None:
        self._store.set(name, value)

    def delete(self, name: str) -> None:
        self._store.delete(name)


WARNED_NAME = ".secrets-warning"  # in the data folder: the warning last said there


def _first_time(marker: Path, text: str) -> bool:
    """True the first time `text` is to be said for this data folder (then remembered in
    `marker`); a warning said on every command is soon not read at all. A marker that
    cannot be read or written means saying it (again)."""
    try:
        if marker.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeError):
        pass
    with contextlib.suppress(OSError):  # private like the rest of the data folder
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    return True


Handler = Callable[[Ctx], int | Coroutine[Any, Any, int]]


def run(ctx: Ctx, handler: Handler) -> int:
    """Run a command; every expected failure becomes a sentence on stderr and an exit code."""
    try:
        if getattr(ctx.args, "log_file", False):  # commands that change the profile: in its log
            logs.setup(ctx.paths, console=False)
        result = handler(ctx)
        return result if isinstance(result, int) else asyncio.run(result)
    except CliError as exc:
        err(str(exc))
        return exc.code
    except AdminError as exc:
        err(str(exc))
        return EXIT_USAGE if exc.usage else EXIT_ERROR
    except (ApiError, AccountError, SecretsError, SettingsError, StoreError) as exc:
        err(str(exc))
        return EXIT_ERROR
    except sqlite3.Error as exc:  # a read of a damaged page part way through
        err(str(classify_error(ctx.paths.data_dir / DB_NAME, exc)))
        return EXIT_ERROR
    except BrokenPipeError:  # `messages --json | head`: guard_pipe ends the command quietly
        raise
    except OSError as exc:  # e.g. the data dir is a file, an unwritable export path
        where = f" ({exc.filename})" if exc.filename else ""
        err(f"{exc.strerror or exc}{where}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    finally:
        ctx.close()
