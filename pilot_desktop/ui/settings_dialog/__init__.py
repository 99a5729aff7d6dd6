"""The Settings dialog, generated from the settings model (services/settings.py)."""

from pilot_desktop.ui.settings_dialog.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
