"""The sandbox's REST API: an aiohttp application with the documented `/v1` routes.

Routes live in `webhooks_api.py`, `numbers_api.py` and `messages_api.py`; the shared
rules (keys, scope, JSON errors) in `rest.py`. Every error, including unknown paths and
methods, is JSON `{"error": ..., "code": ...}` like the platform's (§6). In front of
them, `faults.py` counts requests, plays injected faults and applies the rate limit.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from pilot_desktop.sandbox.messages_api import MessageRoutes
from pilot_desktop.sandbox.numbers_api import NumberRoutes
from pilot_desktop.sandbox.rest import Context, json_errors
from pilot_desktop.sandbox.webhooks_api import WebhookRoutes

MAX_BODY = 1024 * 1024


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True, "sandbox": True})


def build_app(ctx: Context) -> web.Application:
    # Faults first: an `after_handler` fault replaces an answer json_errors has already made.
    middlewares: list[Middleware] = [ctx.faults.middleware(ctx.state), json_errors]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    for routes in (WebhookRoutes(ctx), NumberRoutes(ctx), MessageRoutes(ctx)):
        routes.register(app.router)
    app.router.add_get("/healthz", _health)
    return app
