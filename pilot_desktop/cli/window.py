"""No command: the window. The GUI loads only here."""

from __future__ import annotations

import argparse
import os

from pilot_desktop.cli.common import Ctx
from pilot_desktop.services import logs
from pilot_desktop.services.config import SettingsError

ENV_SECRETS = "PILOT_DESKTOP_SIGNING_SECRETS"


def add_options(parser: argparse.ArgumentParser) -> None:
    demo = parser.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="run against the built-in sandbox (the default until an account is connected "
        "and while nothing real has been received)",
    )
    demo.add_argument("--no-demo", dest="demo", action="store_false", help="never start the demo")


def given_secrets(cli: list[str] | None = None) -> list[str]:
    """--signing-secret values, then the environment's comma-separated ones."""
    env = [s for s in os.environ.get(ENV_SECRETS, "").split(",") if s.strip()]
    return [s.strip() for s in [*(cli or []), *env] if s.strip()]


def run(ctx: Ctx) -> int:
    logs.setup(ctx.paths, console=True)
    from pilot_desktop.ui.app import cannot_start, run_gui  # noqa: PLC0415 - Qt loads only for the window

    try:
        config = ctx.config
        # No account can be connected yet, so the window starts in demo mode until the real
        # receiver has been asked for once: `serve`, `hook-url` (the user is setting up real
        # webhooks), an account or `--no-demo`. From then on it starts the real receiver.
        if ctx.args.demo is False:
            config.mark_real_receiver()
    except SettingsError as exc:  # never a window over new settings or a new token: say why
        return cannot_start(str(exc), "Nothing was changed and nothing is received until it is fixed.")
    demo = ctx.args.demo if ctx.args.demo is not None else not config.state.value.real_receiver
    return run_gui(ctx.paths, config, demo=demo, signing_secrets=given_secrets())
