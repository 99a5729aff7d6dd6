"""The Settings dialog is generated from the model (ui/settings_dialog/fields.py): a field
added to a sub-model appears with its label, unit, description, bounds and choices, with
no change to the dialog; problems of a SettingsError are read back to their field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pilot_desktop.services.config import SETTINGS, SettingsError, validate
from pilot_desktop.ui.settings_dialog.fields import field_of, groups


class Extra(BaseModel):
    """Something new (core/extra.py's rules)."""

    retry_after_s: int = Field(default=5, ge=1, le=600, description="Wait before a retry.")
    ratio: float = Field(default=1.5, ge=1.0, le=9.5, description="A ratio.")
    flavour: Literal["plain", "fancy"] = Field(default="plain", description="How it looks.")
    label: str | None = Field(default=None, max_length=40, description="A name, or none.")
    ids: list[str] = Field(default_factory=list, description="Some ids.")
    until: dict[str, float] = Field(default_factory=dict, description="Ids until a time.")


class Model(BaseModel):
    version: int = 1
    extra: Extra = Field(default_factory=Extra)
    top: bool = Field(default=True, description="A top-level switch.")


def test_a_new_field_appears_with_its_words_bounds_and_kind() -> None:
    found = {g.key: g for g in groups(Model)}
    extra = found["extra"]
    assert extra.title == "Extra" and extra.description == "Something new."  # no code references
    specs = {s.path: s for s in extra.fields}
    retry = specs["extra.retry_after_s"]
    assert (retry.label, retry.unit, retry.kind, retry.default) == ("Retry after", " s", "int", 5)
    assert retry.bounds_text() == "1 s to 10 min" and retry.description == "Wait before a retry."
    assert specs["extra.ratio"].kind == "float" and specs["extra.ratio"].bounds_text() == "1 to 9.5"
    assert specs["extra.flavour"].choices == ("plain", "fancy")
    label = specs["extra.label"]
    assert (label.kind, label.optional, label.max_length) == ("text", True, 40)
    assert label.bounds_text() == "up to 40 characters"
    assert specs["extra.ids"].kind == "list" and specs["extra.until"].kind == "map"
    assert [s.path for s in found["tunnel"].fields] == ["top"]  # top-level fields: with the tunnel
    assert "version" not in {s.path for g in found.values() for s in g.fields}


def test_a_settings_error_names_fields_the_dialog_can_mark() -> None:
    try:
        validate(SETTINGS, {"notifications": {"quiet_hours": "9"}, "receiver": {"port": 70000}}, None)
    except SettingsError as exc:
        assert sorted(field_of(p) for p in exc.fields) == ["notifications.quiet_hours", "receiver.port"]
    else:
        raise AssertionError("accepted")
    assert field_of("(top level): not an object") == ""


def test_a_refusal_reads_as_a_sentence_without_the_file_s_words() -> None:
    """pydantic's "Value error, " and the "(got ...)" echo are dropped (the editor shows what
    was typed); a field with its own dialog words uses them."""
    from pilot_desktop.ui.settings_dialog.fields import problem_words

    try:
        validate(SETTINGS, {"public_url": "ftp://x", "notifications": {"quiet_hours": "9"}}, None)
    except SettingsError as exc:
        shown = {field_of(p): problem_words(field_of(p), p) for p in exc.fields}
    else:
        raise AssertionError("accepted")
    assert shown["public_url"] == "Public URL must start with https:// or http://."
    quiet = shown["notifications.quiet_hours"]
    assert "null" not in quiet and "22:00-07:00" in quiet and "empty" in quiet
