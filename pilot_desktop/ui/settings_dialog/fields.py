"""What the settings dialog shows, read from the pydantic model (services/settings.py).

Nothing here is written per field: every leaf of `Settings` becomes a `FieldSpec` with its
dotted path, a readable label and unit, the model's description, its bounds (ge/le,
max_length), its choices (a Literal) and its kind. A field added to the model appears in
the dialog without a change here; only its group's title and the few notes below are words
chosen by hand (a missing title falls back to the name).
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

    def bounds_text(self) -> str:
        """ "1 to 10080 min", "up to 2000 characters", or ""."""
        if self.minimum is not None and self.maximum is not None:
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
        label=label,
        description=info.description or "",
        kind=kind,
        default=info.get_default(call_default_factory=True),
        optional=optional,
        minimum=minimum,
        maximum=maximum,
        max_length=max_length,
        choices=choices,
        unit=unit if kind in ("int", "float") else "",
        next_start=path in NEXT_START,
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
