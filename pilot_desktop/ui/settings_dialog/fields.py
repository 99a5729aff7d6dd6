"""What the settings dialog shows, read from the pydantic model (services/settings.py).

Nothing here is written per field: every leaf of `Settings` becomes a `FieldSpec` with its
dotted path, a readable label and unit, the model's description, its bounds (ge/le,
max_length), its choices (a Literal) and its kind. A field added to the model appears in
the dialog without a change here; only its group's title and the few words below are
chosen by hand (a missing title falls back to the name; the model's description and
messages are shown unless the dialog has its own words for the field: LABELS,
DESCRIPTIONS, PLACEHOLDERS, PROBLEMS).
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from annotated_types import Ge, Le, MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pilot_desktop.services.settings import Settings

Kind = Literal["bool", "int", "float", "choice", "text", "list", "map"]

# Group titles, in the order shown; a sub-model not named here comes after, by its name.
GROUP_TITLES: dict[str, str] = {
    "notifications": "Notifications and the tray",
    "messages": "Stuck messages",
    "numbers": "Number polling",
    "alerts": "Alerts",
    "receiver": "Receiver",
    "tunnel": "Tunnel and its watch",
    "ui": "Window",
}
TOP_GROUP = "tunnel"  # top-level fields (public_url) belong with the tunnel
HIDDEN = frozenset({"version"})  # the file's format, not a preference

# What truly cannot change in a running app: the one-instance lock is taken at launch.
NEXT_START = frozenset({"notifications.single_instance"})

# Suffix -> (unit shown in the spin box, word for the bounds).
_UNITS = {"_s": " s", "_minutes": " min"}
_WORDS = {"ui": "UI", "url": "URL", "min": "minimum"}
_SECONDS = {" s": 1, " min": 60}
_SPANS = ((86_400, "day"), (3600, "h"), (60, "min"), (1, "s"))

# The dialog's words where the model's are the file's. The model's descriptions and messages
# document settings.json and are what the CLI prints for a hand-edited file ("null", "Unix
# time", number ids are what to type there); the dialog has an empty line, a clock and
# names instead. Keyed by dotted path; a field not named here shows the model's words.
LABELS: dict[str, str] = {
    "notifications.flap_window_s": "Flapping window",
    "notifications.flap_threshold": "Flapping drops",
    "notifications.snoozed": "Snoozed",
    "notifications.single_instance": "One window per data folder",
    "tunnel.auto_repoint": "Webhooks follow a new public URL",
    "ui.live_tail_rows": "Rows in Live",
}
DESCRIPTIONS: dict[str, str] = {
    "notifications.quiet_hours": "Hours without notifications, in local time, such as 22:00-07:00 "
    "(may span midnight). Empty: notify at any hour.",
    "notifications.muted": "Numbers never notified about: tick one to mute it.",
    "notifications.snoozed": "Numbers not notified about until the time shown (snoozed from the "
    "tray's menu); a snooze ends by itself.",
    "tunnel.mode": "manual: the public URL typed in below; cloudflared / ngrok: that program is "
    "started with the receiver (a quick tunnel / the ngrok agent); command: the command below; "
    "ngrok-sdk: ngrok inside this app (needs the optional ngrok package and an authtoken).",
    "tunnel.command": "The tunnel program to run in the command mode: {port} and {local_url} are "
    "filled in; its public URL is read from what it prints.",
    "tunnel.audit_interval_s": "How often this app checks that its webhooks still point here "
    "(also once at start).",
    "public_url": "The tunnel's public address (https://…) in the manual mode: this app's "
    "webhooks point there.",
    "ui.live_tail_rows": "Rows the Live tab keeps in memory.",
}
PLACEHOLDERS: dict[str, str] = {
    "notifications.quiet_hours": "none (e.g. 22:00-07:00)",
    "public_url": "none (e.g. https://name.example.com)",
}
# A refusal in the dialog's words; other refusals are the model's, cleaned (problem_words).
PROBLEMS: dict[str, str] = {
    "notifications.quiet_hours": "Quiet hours are two times of day, start-end, such as 22:00-07:00; "
    "leave the line empty for none.",
}


@dataclass(frozen=True)
class FieldSpec:
    path: str  # dotted, as Document.update takes it: "notifications.quiet_hours"
    label: str
    description: str
    kind: Kind
    default: Any
    optional: bool = False  # None allowed (an empty text is None)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    next_start: bool = False
    placeholder: str = ""  # an empty line's grey text

    def bounds_text(self) -> str:
        """ "1 to 100", "10 s to 24 h", "1 min to 7 days", "up to 2000 characters", or ""."""
        if self.minimum is not None and self.maximum is not None:
            if self.unit in _SECONDS:
                return f"{_span(self.minimum, self.unit)} to {_span(self.maximum, self.unit)}"
            if self.path.endswith("port"):  # a port is a name, never "65,535"
                return f"{self.minimum:.0f} to {self.maximum:.0f}"
            low, high = _number(self.minimum), _number(self.maximum)
            return f"{low} to {high}{self.unit}"
        if self.max_length is not None:
            return f"up to {self.max_length} characters"
        return ""


@dataclass(frozen=True)
class Group:
    key: str  # the sub-model's field name, e.g. "notifications"
    title: str
    description: str  # the sub-model's docstring
    fields: tuple[FieldSpec, ...]


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _span(value: float, unit: str) -> str:
    """A bound of a duration in the largest whole unit: 86400 s -> "24 h", 10080 min -> "7 days"."""
    seconds = value * _SECONDS[unit]
    for size, word in _SPANS:
        if seconds >= size and seconds % size == 0 and (size < 86_400 or seconds > 86_400):
            count = int(seconds // size)
            return f"{count:,} {word}{'s' if word == 'day' and count > 1 else ''}"
    return f"{_number(value)}{unit}"


def problem_words(path: str, problem: str) -> str:
    """A SettingsError line for the dialog: the field's own words (PROBLEMS), else the
    model's message without the field, pydantic's "Value error, " and the "(got ...)" echo
    (the editor shows what was typed), as a sentence."""
    if path in PROBLEMS:
        return PROBLEMS[path]
    text = problem.partition(": ")[2] if field_of(problem) else problem
    text = re.sub(r"\s*\(got .*\)$", "", text.removeprefix("Value error, ")).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def about(doc: str | None) -> str:
    """A sub-model's docstring for people: one line, without the code references."""
    return re.sub(r"\s*\([^)]*\.py[^)]*\)", "", " ".join((doc or "").split()))


def label_of(name: str) -> tuple[str, str]:
    """ "disconnect_delay_s" -> ("Disconnect delay", " s")."""
    unit = ""
    for suffix, shown in _UNITS.items():
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], shown
            break
    words = [_WORDS.get(w, w) for w in name.split("_")]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:], unit


def _kind(annotation: Any) -> tuple[Kind, bool, tuple[str, ...]]:
    """(kind, optional, choices) of a field's annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
        origin = typing.get_origin(annotation)
    if origin is Literal:
        return "choice", optional, tuple(str(a) for a in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        return "list", optional, ()
    if origin is dict:
        return "map", optional, ()
    if annotation is bool:
        return "bool", optional, ()
    if annotation is int:
        return "int", optional, ()
    if annotation is float:
        return "float", optional, ()
    return "text", optional, ()


def spec_of(path: str, name: str, info: FieldInfo) -> FieldSpec:
    kind, optional, choices = _kind(info.annotation)
    minimum = maximum = None
    max_length = None
    for meta in info.metadata:
        if isinstance(meta, Ge):
            minimum = float(meta.ge)  # type: ignore[arg-type]
        elif isinstance(meta, Le):
            maximum = float(meta.le)  # type: ignore[arg-type]
        elif isinstance(meta, MaxLen):
            max_length = meta.max_length
    label, unit = label_of(name)
    return FieldSpec(
        path=path,
        label=LABELS.get(path, label),
        description=DESCRIPTIONS.get(path, info.description or ""),
        kind=kind,
        default=info.get_default(call_default_factory=True),
        optional=optional,
        minimum=minimum,
        maximum=maximum,
        max_length=max_length,
        choices=choices,
        unit=unit if kind in ("int", "float") else "",
        next_start=path in NEXT_START,
        placeholder=PLACEHOLDERS.get(path, "none" if optional else ""),
    )


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def groups(model: type[BaseModel] = Settings) -> list[Group]:
    """Every shown field of `model`, by sub-model, in GROUP_TITLES' order."""
    found: dict[str, list[FieldSpec]] = {}
    docs: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if name in HIDDEN:
            continue
        if _is_model(info.annotation):
            sub: type[BaseModel] = info.annotation  # type: ignore[assignment]
            docs[name] = about(sub.__doc__)
            specs = [spec_of(f"{name}.{n}", n, i) for n, i in sub.model_fields.items()]
            found.setdefault(name, []).extend(specs)
        else:
            found.setdefault(TOP_GROUP, []).append(spec_of(name, name, info))
    order = [k for k in GROUP_TITLES if k in found] + sorted(k for k in found if k not in GROUP_TITLES)
    return [
        Group(key, GROUP_TITLES.get(key, label_of(key)[0]), docs.get(key, ""), tuple(found[key]))
        for key in order
    ]


def value_at(settings: BaseModel, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def field_of(problem: str) -> str:
    """The dotted field a SettingsError line names: "tunnel.command: Value error, ..." ->
    "tunnel.command"; "" when it names none."""
    head, sep, _ = problem.partition(": ")
    return head.strip() if sep and " " not in head.strip() else ""
