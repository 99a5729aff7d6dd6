"""Command line: `pilot-desktop` opens the window; subcommands run headless on the same core.

A module per command group (serve, sandbox, export, timeline, messages, numbers, accounts,
webhooks, and the window); common.py has what they share (exit codes, errors, output, the
context that opens the configuration, the accounts and the store when a command needs them).
"""

from pilot_desktop.cli.main import main

__all__ = ["main"]
