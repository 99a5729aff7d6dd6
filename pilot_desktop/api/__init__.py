"""Async client of the Pilot Status REST API (Qt-free)."""

from pilot_desktop.api.client import DEFAULT_BASE_URL, PilotClient
from pilot_desktop.api.errors import ApiError

__all__ = ["DEFAULT_BASE_URL", "ApiError", "PilotClient"]
