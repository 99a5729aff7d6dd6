"""Which number the operator means: the one reading of `-n TEXT` for every command.

TEXT is, in this order: a number id; a phone, international ("+55 11 98187-0697") or
national ("(11) 98187-0697", read with the country of the known numbers' phones:
core/phones.py); or a name, whole or a unique part of it, matched without regard to case
or accents ("restaurante sabor", "Imobiliaria Horizonte"). Several numbers matching, or
none, is a NumberLookupError that lists the candidates, never a silent guess.

The numbers come from where the caller acts: the accounts' (webhooks, send:
services/webhook_admin.py's find_number) or, for commands that read the store, the store's
(numbers with events, names and phones from webhooks and polls) together with the
accounts' as saved in the profile (`known_on_disk`, read-only: nothing is created).
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pilot_desktop.core.format import number_line
from pilot_desktop.core.phones import looks_like_phone, phone_forms, regions_of, to_e164
from pilot_desktop.services.config import STATE, SettingsError, read_json, validate
from pilot_desktop.services.paths import AppPaths
from pilot_desktop.store.db import DB_NAME
from pilot_desktop.store.errors import StoreError
from pilot_desktop.store.reads import Reads

Names = Mapping[str, tuple[str | None, str | None]]
MAX_LISTED = 12  # candidates named in an error; the rest counted


@dataclass(frozen=True)
class KnownNumber:
    id: str
    name: str | None = None
    phone: str | None = None


class NumberLookupError(ValueError):
    """No number, or several, match the text. `candidates`: the ones that matched (several)
    or every known one (none matched); `ambiguous` tells which."""

    def __init__(self, message: str, candidates: Sequence[KnownNumber], *, ambiguous: bool) -> None:
        super().__init__(message)
        self.candidates = list(candidates)
        self.ambiguous = ambiguous


def merge(*groups: Iterable[KnownNumber]) -> list[KnownNumber]:
    """One entry per id; a name or phone missing in one source is taken from another
    (the earlier group wins when both have one)."""
    out: dict[str, KnownNumber] = {}
    for group in groups:
        for n in group:
            had = out.get(n.id)
            if had is None:
                out[n.id] = KnownNumber(n.id, n.name or None, n.phone or None)
            else:
                out[n.id] = KnownNumber(n.id, had.name or n.name or None, had.phone or n.phone or None)
    return list(out.values())


def names_of(known: Iterable[KnownNumber]) -> dict[str, tuple[str | None, str | None]]:
    """For core/format's labels (`number_short`, `number_line`)."""
    return {n.id: (n.name, n.phone) for n in known}


def regions(known: Iterable[KnownNumber]) -> list[str]:
    """The countries national phones are read in: those of the known numbers' phones."""
    return regions_of(n.phone for n in known if n.phone)


def find(text: str, known: Sequence[KnownNumber]) -> KnownNumber:
    """The number `text` names among `known` (see the module's docstring). Raises
    NumberLookupError listing the candidates when none or several match."""
    wanted = text.strip()
    if not wanted:
        raise NumberLookupError("The number is empty: give its id, phone or name.", known, ambiguous=False)
    by_id = [n for n in known if n.id == wanted]
    if by_id:
        return by_id[0]
    if looks_like_phone(wanted):
        e164 = {n.id: _e164(n.phone) for n in known if n.phone}
        for form in phone_forms(wanted, regions(known)):  # best reading first
            found = [n for n in known if e164.get(n.id) == form]
            if found:
                return _one(text, found)
    key = _folded(wanted)
    for match in (lambda name: name == key, lambda name: key in name):
        found = [n for n in known if n.name and match(_folded(n.name))]
        if found:
            return _one(text, found)
    listed = _listed(known)
    raise NumberLookupError(
        f"No number matches '{text}' by id, phone or name; "
        + (f"known numbers: {listed}." if known else "no number is known yet."),
        known,
        ambiguous=False,
    )


def _one(text: str, found: list[KnownNumber]) -> KnownNumber:
    if len(found) == 1:
        return found[0]
    raise NumberLookupError(
        f"Several numbers match '{text}': {_listed(found)}; give the id or the phone.", found, ambiguous=True
    )


def _listed(numbers: Sequence[KnownNumber]) -> str:
    names = names_of(numbers)
    shown = [number_line(n.id, names) for n in sorted(numbers, key=lambda n: ((n.name or "").lower(), n.id))]
    more = (
        f" and {len(shown) - MAX_LISTED} more (`pilot-desktop numbers` lists them all)"
        if len(shown) > MAX_LISTED
        else ""
    )
    return ", ".join(shown[:MAX_LISTED]) + more


def _e164(phone: str | None) -> str | None:
    """A stored phone as E.164 (they are stored so; bare digits are read as international)."""
    if not phone:
        return None
    return to_e164(phone if phone.startswith("+") else f"+{phone}") or phone


def _folded(text: str) -> str:
    """Case and accents set aside: "Imobiliaria" finds "Imobiliária"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# -- the numbers a profile knows, read-only -------------------------------------------------
def of_store(reads: Reads) -> list[KnownNumber]:
    """Numbers with events in the store, with the names and phones webhooks and polls told."""
    names = reads.number_names()
    ids = [*reads.numbers_seen(), *names]
    return merge(KnownNumber(i, *names.get(i, (None, None))) for i in ids)


def of_accounts_on_disk(paths: AppPaths) -> list[KnownNumber]:
    """The accounts' numbers as saved in the profile's state file; nothing when there is
    none or it cannot be read (the store's numbers still resolve)."""
    try:
        raw = read_json(STATE, paths.state_file)
        state = validate(STATE, raw, paths.state_file) if raw is not None else None
    except (SettingsError, OSError):
        return []
    if state is None:
        return []
    return [KnownNumber(n.id, n.name or None, n.phone or None) for a in state.accounts for n in a.numbers]


def known_on_disk(paths: AppPaths, reads: Reads | None = None) -> list[KnownNumber]:
    """The store's numbers and the accounts', for commands that read the store."""
    store: list[KnownNumber] = []
    if reads is None and (paths.data_dir / DB_NAME).exists():
        try:
            opened = Reads.open(paths.data_dir)
        except (StoreError, sqlite3.Error):
            opened = None
        if opened is not None:
            try:
                store = of_store(opened)
            finally:
                opened.close()
    elif reads is not None:
        store = of_store(reads)
    return merge(store, of_accounts_on_disk(paths))
