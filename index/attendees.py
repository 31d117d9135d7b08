"""Who attended a meeting, read from its header block and opening items.

People come from lists under "Present", "In attendance" or "Apologies" labels, from lines
shaped like an entry ("Name (AB)<TAB>Role", "Name, Role") and from "apologies were received
from A, B and C" sentences. Initials are the minutes' own where they give them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from index.lines import Line, is_furniture, squash, text_lines
from index.models import Attendee, AttendeeStatus


class ItemBounds(Protocol):
    """Where an agenda item lies in the text: ``after`` is the end of its number and heading."""

    @property
    def heading(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def after(self) -> int: ...


_HONORIFIC = r"(?:Councillors?|Cllrs?\.?|Cty\s+Cllr|Mr|Mrs|Ms|Miss|Dr)"
_RANK = (
    r"(?:(?:Acting|Temporary|Detective|A|T)[/ ])?"
    r"(?:DPFCC|PFCC|DPCC|PCC|DCC|ACC|CC|ACO|DCO|CFO|DCS|DCI|DI|DS|PSE|PS|PC"
    r"|Ch/Supt|C/Supt|D/Supt|Supt|C/Insp|Insp|Chief\s+Superintendent|Superintendent"
    r"|Chief\s+Inspector|Inspector|Sergeant)\.?"
)
# Each repeat needs a separator or a capital ("McEwan", "Hartland-Lane"): an optional
# separator and capital made the token match long words in exponentially many ways.
_NAME_TOKEN = r"[A-Z](?:\.|[a-z'’]+(?:[-'’][A-Z]?[a-z'’]+|[A-Z][a-z'’]+)*)?"
_PERSON = re.compile(
    rf"^(?:{_HONORIFIC}\s+)*(?:(?P<rank>{_RANK})\s+)?(?:{_HONORIFIC}\s+)*"
    rf"(?P<name>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,3}})"
    r"\s*(?:\((?P<paren>[^()]*)\)?)?$"
)
_INITIALS = re.compile(r"\(([A-Z][A-Za-z]{0,3})\)")
# "John Campion (JC) Chair – Police & Crime Commissioner": the role follows the initials
_INITIALS_THEN_ROLE = re.compile(
    r"^(?P<name>[^(),]+\([A-Z][A-Za-z]{0,3}\))\s*[-–—]?\s*(?P<role>\S.*)$"
)
ATTENDANCE_LABEL = re.compile(
    r"^(?P<label>members\s+present|present|also\s+present|also\s+in\s+attendance"
    r"|in\s+attendance|attendees|attendance|apologies(?:\s+for\s+absence)?|name)"
    r"[ \t]*(?:[:\t\-–][ \t\-–]*|$)(?P<rest>.*)$",
    re.IGNORECASE,
)
_CELL_BREAK = re.compile(r"\t+| {2,}| \| ")
_APOLOGIES_FROM = re.compile(r"\bapologies\b[^.\n]{0,60}?\bfrom\s+", re.IGNORECASE)
_LIST_END = re.compile(r"(?<![\s.][A-Z])\.(?=\s|$)|;|\n(?![ \t])")
_LIST_SEPARATOR = re.compile(r"(,\s*(?:and\s+)?|\s+and\s+|\s+&\s+)")
_OPENING_ITEM = re.compile(r"welcome|introduc|apolog|attend|present", re.IGNORECASE)


def _status(label: str) -> AttendeeStatus:
    label = label.lower()
    if label.startswith("apolog"):
        return "apologies"
    if label.startswith(("also", "in ")):
        return "in attendance"
    return "present"


def _listed_people(lines: list[Line]) -> list[Attendee]:
    """People listed one per line, with the status of the section ("Present", "In attendance",
    "Apologies") they are listed under. Outside such a section a line counts only if it has
    the shape of an entry: initials in brackets, or a role after a tab or comma."""
    people = []
    status: AttendeeStatus | None = None
    for line in lines:
        text = line.text.strip()
        if label := ATTENDANCE_LABEL.match(text):
            status = _status(label["label"])
            entry = label["rest"] if label["label"].lower() != "name" else ""
            person = _person(entry, listed=True, status=status) if entry else None
        elif text and not is_furniture(text):
            person = _person(text, listed=status is not None, status=status or "present")
        else:
            person = None
        if person:
            people.append(person)
    return people


def _person(text: str, *, listed: bool, status: AttendeeStatus) -> Attendee | None:
    """One attendee from "Name (AB)<TAB>Role", "Name, Role – Org (AB)" or "RANK Name (AB)".

    A bare name counts only when ``listed`` (under a "Present"-like label, or in a list of
    apologies); otherwise the line must show initials or a role. Initials come from the
    brackets when they fit the name; otherwise they are derived from the name ("Lara Lewis"
    gives "LL"): derived initials are a guess, not the minutes' own.
    """
    if len(text) > 160:
        return None
    cells = [cell.strip() for cell in _CELL_BREAK.split(text.strip(" |"))]
    if len(cells) > 1:
        name_part, role = cells[0], " ".join(c for c in cells[1:] if c)
    elif bracketed := _INITIALS_THEN_ROLE.match(text.strip()):
        name_part, role = bracketed["name"], bracketed["role"]
    elif ", " in text:
        name_part, role = (part.strip() for part in text.split(",", 1))
    else:
        name_part, role = text.strip(), ""
    match = _PERSON.match(name_part)
    if not match or not _enough_name(match):
        return None
    name = match["name"]
    paren = (match["paren"] or "").strip()
    initials = paren if _fits_initials(paren, name) else None
    if paren and not initials:
        role = f"{role} ({paren})" if role else paren
    role, bracketed = _take_initials(role, name)
    initials = initials or bracketed
    if not (role or initials or listed):
        return None
    role = _clean_role(role) or match["rank"]
    if role and len(role) > 100:
        return None
    return Attendee(
        name=name, initials=initials or _derive_initials(name), role=role or None, status=status
    )


def _enough_name(match: re.Match[str]) -> bool:
    """Two words make a name; one will do after a rank ("ACC Blatchly")."""
    return len(match["name"].split()) >= (1 if match["rank"] else 2)


def _fits_initials(text: str, name: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Za-z]{0,3}", text)) and text[0] == name[0]


def _take_initials(role: str, name: str) -> tuple[str, str | None]:
    """Role without "(AB)" groups that are the person's initials, and the first of them."""
    found = [m for m in _INITIALS.finditer(role) if _fits_initials(m.group(1), name)]
    for match in reversed(found):
        role = role[: match.start()] + role[match.end() :]
    return role, found[0].group(1) if found else None


def _clean_role(role: str) -> str:
    role = squash(role).strip(" ,;:-–")
    while role.endswith(")") and role.count(")") > role.count("("):
        role = role[:-1].rstrip(" ,;:-–")
    return role


def _derive_initials(name: str) -> str:
    """Initials made from a name ("Lara Lewis" -> "LL") when the minutes give none."""
    return "".join(word[0] for word in name.split()).upper()


def _apologies(text: str) -> list[Attendee]:
    """People named in "apologies were received from A (Role), B and C" sentences."""
    people = []
    for match in _APOLOGIES_FROM.finditer(text):
        end = _LIST_END.search(text, match.end())
        names = squash(text[match.end() : end.start() if end else len(text)])
        for entry in _split_list(names):
            if person := _person(entry.strip(" ."), listed=True, status="apologies"):
                people.append(person)
    return people


def _split_list(text: str) -> list[str]:
    """Split "A (X and Y), B and C" on commas and "and" outside brackets."""
    entries: list[str] = [""]
    depth = 0
    for piece in _LIST_SEPARATOR.split(text):
        if _LIST_SEPARATOR.fullmatch(piece) and depth == 0:
            entries.append("")
            continue
        entries[-1] += piece
        depth += piece.count("(") - piece.count(")")
    return [entry for entry in entries if entry.strip()]


def _unique(people: list[Attendee]) -> list[Attendee]:
    """One entry per name; the first listing (usually the fullest) wins."""
    seen: dict[str, Attendee] = {}
    for person in people:
        seen.setdefault(person.name.casefold(), person)
    return list(seen.values())


def read_attendees(text: str, header_end: int, spans: Sequence[ItemBounds]) -> list[Attendee]:
    """Everyone the header block and the opening items (the first item, "Welcome",
    "Apologies", ...) list, once each."""
    opening = [s for i, s in enumerate(spans) if i == 0 or _OPENING_ITEM.search(s.heading)]
    people = _listed_people(text_lines(text, 0, header_end))
    for span in opening:
        people += _listed_people(text_lines(text, span.after, span.end)[1:])
    for start, end in [(0, header_end), *((s.start, s.end) for s in opening)]:
        people += _apologies(text[start:end])
    return _unique(people)
