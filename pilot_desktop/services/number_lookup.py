"""Which number the operator means: the one reading of `-n TEXT` for every command.

TEXT is, in this order: a number id (ULIDs: any case); the CLI's own label of a number
("Name · +55 11 98187-0697 (num_…)": its id; "Name · phone" or "Name phone"); a phone,
international ("+55 11 98187-0697") or national ("(11) 98187-0697", read with the country
of the known numbers' phones: core/phones.py); or a name. An exact match beats a looser one
at every level: the name as written (case aside) before it without accents ("Café" is not
"Cafe" when both exist), a whole name before a unique part of one ("restaurante sabor").
Several numbers matching at the first level that matches, or none, or a phone of one number
that is the name of another, is a NumberLookupError that lists the candidates, never a
silent guess. Empty text is a usage error (`usage`), like an ambiguous one.

The numbers come from where the caller acts: the accounts' (webhooks, send:
services/webhook_admin.py's find_number) or, for commands that read the store, the store's
(numbers with events, names and phones from webhooks and polls) together with the
accounts' as saved in the profile (`known_on_disk`, read-only: nothing is created).
"""

from __future__ import annotations

import re
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
    or every known one (none matched); `ambiguous` tells which. `usage`: the text itself is
    wrong (empty or ambiguous: the CLI's exit 2), not merely unknown."""

    def __init__(
        self, message: str, candidates: Sequence[KnownNumber], *, ambiguous: bool, empty: bool = False
    ) -> None:
        super().__init__(message)
        self.candidates = list(candidates)
        self.ambiguous = ambiguous
        self.usage = ambiguous or empty


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


_LABEL_ID = re.compile(r"\(([^()\s]+)\)\s*$")  # "… (num_01…)": the id the CLI prints last


def find(text: str, known: Sequence[KnownNumber]) -> KnownNumber:
    """The number `text` names among `known` (see the module's docstring). Raises
    NumberLookupError listing the candidates when none or several match."""
    wanted = text.strip()
    if not wanted:
        raise NumberLookupError(
            "The number is empty: give its id, phone or name.", known, ambiguous=False, empty=True
        )
    by_id = _by_id(wanted, known)
    if by_id is None and (labelled := _LABEL_ID.search(wanted)):  # the CLI's "Name · phone (id)"
        by_id = _by_id(labelled.group(1), known)
    if by_id is not None:
        return by_id
    by_phone = _by_phone(wanted, known)
    levels = [
        lambda name: _nfc(name) == _nfc(wanted),  # as written, case aside: accents count
        lambda name: _folded(name) == _folded(wanted),
    ]
    for match in levels:
        found = [n for n in known if n.name and match(n.name)]
        if by_phone and found and {n.id for n in found} != {n.id for n in by_phone}:
            return _one(text, merge(by_phone, found))  # a phone of one, the name of another
        if found and not by_phone:
            return _one(text, found)
    if by_phone:
        return _one(text, by_phone)
    for found in (
        _by_label(wanted, known),
        [n for n in known if n.name and _folded(wanted) in _folded(n.name)],
    ):
        if found:
            return _one(text, found)
    listed = _listed(known)
    raise NumberLookupError(
        f"No number matches '{text}' by id, phone or name; "
        + (f"known numbers: {listed}." if known else "no number is known yet."),
        known,
        ambiguous=False,
    )


def _by_id(text: str, known: Sequence[KnownNumber]) -> KnownNumber | None:
    """Exact first, then case aside (ids are ULIDs: case-insensitive)."""
    exact = [n for n in known if n.id == text]
    if exact:
        return exact[0]
    folded = [n for n in known if n.id.casefold() == text.casefold()]
    return folded[0] if len(folded) == 1 else None


def _by_phone(text: str, known: Sequence[KnownNumber]) -> list[KnownNumber]:
    if not looks_like_phone(text):
        return []
    e164 = {n.id: _e164(n.phone) for n in known if n.phone}
    for form in phone_forms(text, regions(known)):  # best reading first
        found = [n for n in known if e164.get(n.id) == form]
        if found:
            return found
    return []


def _by_label(text: str, known: Sequence[KnownNumber]) -> list[KnownNumber]:
    """ "Name · phone" or "Name phone" (the CLI's label): a name and a phone, of one number."""
    words = text.replace("·", " ").split()
    found: list[KnownNumber] = []
    for cut in range(1, len(words)):
        name, phone = " ".join(words[:cut]), " ".join(words[cut:])
        if not looks_like_phone(phone):
            continue
        found += [
            n
            for n in _by_phone(phone, known)
            if n.name and _folded(n.name) == _folded(name) and n not in found
        ]
    return found


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


def _nfc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _folded(text: str) -> str:
    """Case and accents set aside: "Imobiliaria" finds "Imobiliária"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold()).replace("·", " ")  # the label's dot
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
