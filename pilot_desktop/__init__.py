"""Pilot Desktop: monitor Pilot Status WhatsApp webhooks."""

__version__ = "0.1.0"
