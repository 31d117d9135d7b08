"""The organisation whose meeting the minutes record, as its title line names it.

"Surrey Police and Crime Panel - Tuesday, 4 March 2025" gives "Surrey Police and Crime
Panel"; "MINUTES OF A MEETING OF THE AVON AND SOMERSET POLICE AND CRIME PANEL HELD ON ..."
gives "Avon and Somerset Police and Crime Panel". The name is a run of capitalised words
(with "and", "of", "the", "&" and commas between them) that ends in the noun of a governing
body (Panel, Board, Committee), optionally "for <Place>". A hosting council
written before it ("Hampshire County Council Hampshire and Isle of Wight ...") and generic
words ("Minutes of a Meeting of the") are not part of the name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from index.layout import ITEM_TABLE_HEADER
from index.lines import FIELD_ROW

_WORD = r"[A-Z][\w'’.-]*"
_JOIN = r"(?:,?[ \t]+(?:(?:and|of|the|for|&|on)[ \t]+)*)"
_BODY_NOUN = r"(?:Panel|Board|Committee)"
_NAME = re.compile(
    rf"(?:{_WORD}{_JOIN})*?{_BODY_NOUN}\b(?:[ \t]+for[ \t]+{_WORD}(?:[ \t]+{_WORD})*)?"
)
_GENERIC_LEAD = re.compile(
    r"^.*\b(?:Minutes|Notes|Meeting|Agenda)\b,?(?:[ \t]+(?:of|for))?(?:[ \t]+(?:the|a))?[ \t]+",
    re.I,
)
_HOST_COUNCIL = re.compile(r"^.*?\bCouncil[ \t]+(?=[A-Z])")
_SMALL = frozenset("a an and at by for in of on or the to with".split())


def organisation(
    title: str, header: str, text: str, of_this_kind: Callable[[str], bool]
) -> str | None:
    """The body named in ``title``, else in the first header line naming one, else the body
    ``text`` names most often (minutes name their own body more than any other) provided it
    is a body of this meeting's kind (a 1:1's notes may name a board it reports to); None if
    none. Labelled rows ("Venue: Sparkenhoe Committee Room") name places, not bodies."""
    for line in [title, *header.split("\n")]:
        if ITEM_TABLE_HEADER.match(line):
            break  # what follows a council page's "No. Item" line is minutes, not header
        if not FIELD_ROW.match(line) and (name := _name_in(line)):
            return name
    name = _most_named(text)
    return name if name and of_this_kind(name) else None


def _most_named(text: str) -> str | None:
    """The name most often written, counting a longer name ("City of London Police
    Authority Board") as a mention of the name it ends with; returned in its most written
    longer form, if it has one."""
    names = [n for line in text.split("\n") if not FIELD_ROW.match(line) for n in _names_in(line)]
    if not names:
        return None
    mentions = {name: sum(other.endswith(name) for other in names) for name in names}
    top = max(mentions, key=lambda name: (mentions[name], -names.index(name)))
    longer = [name for name in names if name.endswith(top) and name != top]
    return max(longer, key=lambda name: (longer.count(name), len(name))) if longer else top


def _name_in(line: str) -> str | None:
    return next(iter(_names_in(line)), None)


def _names_in(line: str) -> list[str]:
    text = _capitalised(line.strip())
    names = []
    for match in _NAME.finditer(text):
        name = _HOST_COUNCIL.sub("", _GENERIC_LEAD.sub("", match.group(0))).strip(" ,")
        if len(name.split()) >= 2:
            names.append(name)
    return names


_CAPITALS_RUN = re.compile(r"\b[A-Z][A-Z'’&,.:/-]*(?:[ \t]+[A-Z][A-Z'’&,.:/-]*){2,}\b")


def _capitalised(text: str) -> str:
    """Runs of words in capitals in title case, small words lower case, so names can be
    read ("THE AVON AND SOMERSET POLICE AND CRIME PANEL")."""
    return _CAPITALS_RUN.sub(lambda m: _title_words(m.group(0)), text)


def _title_words(text: str) -> str:
    return " ".join(
        w.lower() if i and w.lower() in _SMALL else w[:1] + w[1:].lower()
        for i, w in enumerate(text.split(" "))
    )
