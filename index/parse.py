"""Parse the plain text of a set of minutes into one typed :class:`~index.models.Meeting`.

``Meeting.text`` is the source text after :func:`normalise` (markup gone, see there), and every
offset points into it. Then:

* **Agenda items** are numbered headings in the shapes real minutes use: ``1. Welcome``, an
  all-capitals ``1 INTRODUCTION AND WELCOME``, a number alone on its line with the heading on
  the next (``39/20`` then ``APOLOGIES FOR ABSENCE``), sub-items ``4.1`` and ``3(1)``, and
  ``Item 2:`` labels, even inside a line flattened from a table. Only the longest run of
  candidates whose numbers follow one another is kept, so a numbered list inside an item does
  not split it. An item's span runs from its number (the heading is included) to where the
  next item begins, without trailing whitespace or a closing ``END`` line.
* **The header block** (everything before the first item) gives title, kind, date, time, venue
  and attendees. Attendees also come from the opening item ("Welcome", "Apologies"), where
  minutes often list who attended and whose apologies were noted.
* **Sessions**: a "Closed Session" / "Part 2" / "exempt" line or heading makes the items from
  there on closed; "Open Session" / "Part 1" makes them open again.
* **Protective markings** ("OFFICIAL SENSITIVE - Operational") are lines of their own; they
  mark the meeting and the item they sit in, and never start an item.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.errors import ParseError
from index.attendees import ATTENDANCE_LABEL, read_attendees
from index.body import organisation
from index.dates import FoundDate, find_date, find_meeting_date
from index.layout import (
    DOCUMENT_LINK,
    ITEM_TABLE_HEADER,
    Heading,
    first_prose,
    heading_items,
    part_items,
)
from index.lines import (
    CLOSED_SESSION,
    FIELD_ROW,
    MARKING,
    OPEN_SESSION,
    Line,
    heading_like,
    is_furniture,
    session_line,
    squash,
    text_lines,
)
from index.models import AgendaItem, Meeting, Session
from index.readers import read_source, source_name

_BOLD_ON, _BOLD_OFF = "\ue000", "\ue001"


# --------------------------------------------------------------------------- normalisation

_INVISIBLE = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\u200b": None,
        "\u00ad": None,
        "\ufeff": None,
        _BOLD_ON: None,
        _BOLD_OFF: None,
    }
)
_MD_BOLD = re.compile(r"\*\*(?=\S)([^\n]*?\S)\*\*")
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+|$)", re.MULTILINE)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*?/?>")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LINE_TAGS = frozenset(
    "br p div h1 h2 h3 h4 h5 h6 ul ol tr table section header footer article blockquote hr".split()
)
_INLINE_TAGS = frozenset("u i em sup sub span font s strike small big a mark".split())
_TRAILING_SPACE = re.compile(rf"[ \t]+(?=[{_BOLD_ON}{_BOLD_OFF}]*$)", re.MULTILINE)


def normalise(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text a Meeting keeps, and the (start, end) spans that were bold in the source.

    Line endings become ``\\n``; non-breaking and zero-width spaces are evened out; HTML tags
    are removed (``<li>`` becomes a ``- `` line, ``<td>`` a tab, block tags a line break) and
    entities decoded; markdown ``#`` heading markers and ``**`` bold markers are dropped;
    trailing spaces and runs of blank lines are trimmed. Bold (``**``, ``<b>``, ``<strong>``)
    is remembered as spans because a flattened table's only sign of a heading may be bold.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_INVISIBLE)
    text = _MD_BOLD.sub(rf"{_BOLD_ON}\1{_BOLD_OFF}", text).replace("**", "")
    text = _TAG.sub(_tag_replacement, text)
    text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = _MD_HEADING.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return _take_bold_spans(text)


def _tag_replacement(match: re.Match[str]) -> str:
    closing, name = match.group(1), match.group(2).lower()
    if name in ("b", "strong"):
        return _BOLD_OFF if closing else _BOLD_ON
    if name == "li":
        return "" if closing else "\n- "
    if name in ("td", "th"):
        return "" if closing else "\t"
    if name in _LINE_TAGS:
        return "\n"
    if name in _INLINE_TAGS:
        return ""
    return match.group(0)


def _take_bold_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    length = 0
    for piece in re.split(f"([{_BOLD_ON}{_BOLD_OFF}])", text):
        if piece == _BOLD_ON:
            opened = length if opened is None else opened
        elif piece == _BOLD_OFF:
            if opened is not None and length > opened:
                spans.append((opened, length))
            opened = None
        else:
            out.append(piece)
            length += len(piece)
    return "".join(out), spans


# --------------------------------------------------------------------------- agenda items

_NUM = r"\d{1,3}(?:\.\d{1,2}|\(\d{1,2}\))?"
_NUMBERED_HEADING = re.compile(
    rf"^[ \t]*(?P<num>{_NUM})(?:(?P<punct>[.)])[ \t]*|[ \t]+)(?P<head>[^\W\d_].*)$"
)
_REFERENCE = r"\d{1,3}(?:\.\d{1,2})?/\d{2}(?:/\d{1,2}/\d{4})?"
_REFERENCE_PREFIX = r"(?:(?:Ref|Minute|Min)\.?[ \t]+|[A-Z]{2,5}[ \t]*/?[ \t]*)"
_NUMBER_ALONE = re.compile(rf"^[ \t]*{_REFERENCE_PREFIX}?(?P<num>{_REFERENCE}|{_NUM})\.?[ \t]*$")
_INLINE_REFERENCE = re.compile(
    rf"(?<!\S){_REFERENCE_PREFIX}?(?P<num>{_REFERENCE})[ \t]+"
    r"(?P<head>[A-Z][A-Z/&,'’ -]*[A-Z])(?=[ \t]+[A-Z][a-z]|[ \t]*$)"
)
_FLATTENED_LINE = 300
_ITEM_LABEL = re.compile(rf"\bItem[ \t]+(?P<num>{_NUM})[ \t]*[:\-–]", re.IGNORECASE)
_MAX_NUMBER_GAP = 5
_END_LINE = re.compile(
    r"\n[ \t]*[-–—*_ ]*(?:END|(?i:end\s+of\s+(?:the\s+)?(?:meeting|minutes)))[-–—*_. ]*\Z"
)
_BULLET = re.compile(r"[-•*·–]\s")


@dataclass(frozen=True)
class _Marker:
    """Where an agenda item begins, as found in the text."""

    start: int
    number: str
    heading: str | None  # None: look for it in the table's left column or in bold text
    after: int  # end of the marker (the label, or the heading's line); headings are sought here
    tabbed: bool = False  # the marker sits in the left column of a tab-separated row


@dataclass(frozen=True)
class _Span:
    number: str
    heading: str
    start: int
    end: int
    after: int  # end of the marker: the item's body begins on the line after this offset


def _markers(text: str) -> list[_Marker]:
    """Every place that could begin an agenda item, in text order."""
    lines = text_lines(text)
    item_table = _item_table_end(text)
    found: list[_Marker] = []
    for i, line in enumerate(lines):
        if match := _NUMBERED_HEADING.match(line.text):
            head = match["head"].strip()
            plain_number = match["num"].isdigit() and not match["punct"]
            # "1 Apologies" is an item in a council item table; elsewhere a bare number
            # before mixed case is as likely a figure opening a sentence
            tabled = bool(item_table) and line.start >= item_table
            if (
                head[0].isupper()
                and heading_like(head)
                and (not plain_number or head.isupper() or tabled)
            ):
                found.append(_Marker(line.start + match.start("num"), match["num"], head, line.end))
        elif match := _NUMBER_ALONE.match(line.text):
            following = next((n for n in lines[i + 1 : i + 4] if n.text.strip()), None)
            if following and _heading_after_number(following.text):
                start = line.start + len(line.text) - len(line.text.lstrip())
                found.append(_Marker(start, match["num"], following.text.strip(), following.end))
        else:
            found.extend(_labelled_markers(line))
            if len(line.text) >= _FLATTENED_LINE:
                found.extend(_inline_references(line))
    return sorted(found, key=lambda marker: marker.start)


def _inline_references(line: Line) -> list[_Marker]:
    """Minute references inside a paragraph flattened from a PDF ("PCP 34.12/13 APOLOGIES
    FOR ABSENCE The Chairman..."): the heading is the run of capitals after the reference."""
    return [
        _Marker(line.start + m.start(), m["num"], m["head"].strip(), line.start + m.end())
        for m in _INLINE_REFERENCE.finditer(line.text)
        if len(m["head"].split()) >= 1 and len(m["head"]) >= 4
    ]


_MAX_HEADING_AFTER_NUMBER = 300  # a number alone on its line is sign enough of an item


def _heading_after_number(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]", text)) and len(text.strip()) <= _MAX_HEADING_AFTER_NUMBER


def _labelled_markers(line: Line) -> list[_Marker]:
    """``Item 3:`` labels; the heading is the rest of the line only when that reads as one."""
    markers = []
    for match in _ITEM_LABEL.finditer(line.text):
        at_line_start = not line.text[: match.start()].strip()
        tabbed = at_line_start and "\t" in line.text[match.end() :]
        rest = line.text[match.end() :].strip()
        heading = rest if at_line_start and not tabbed and heading_like(rest) else None
        start, after = line.start + match.start(), line.start + match.end()
        markers.append(_Marker(start, match["num"], heading, after, tabbed))
    return markers


def _number_key(number: str) -> tuple[int, int]:
    """(item, sub-item): "4" -> (4, 0), "4.1" and "4(1)" -> (4, 1), "39/20" -> (39, 0)."""
    main, sub = re.match(r"(\d+)(?:[.(](\d+))?", number).group(1, 2)
    return int(main), int(sub or 0)


def _follows(previous: tuple[int, int], key: tuple[int, int]) -> bool:
    """Whether item ``key`` can come next after item ``previous``."""
    if key[0] == previous[0]:
        return key[1] > previous[1]
    return previous[0] < key[0] <= previous[0] + _MAX_NUMBER_GAP


def _longest_sequence(markers: list[_Marker]) -> list[_Marker]:
    """The longest chain of markers whose numbers follow one another (earliest on ties).

    Dynamic programming over the markers; whether one can follow another depends only on
    their numbers, so each number keeps just the best chain ending in it.
    """
    length: list[int] = []
    parent: list[int | None] = []
    best_for_number: dict[tuple[int, int], int] = {}
    for i, marker in enumerate(markers):
        key = _number_key(marker.number)
        before = [j for k, j in best_for_number.items() if _follows(k, key)]
        previous = max(before, key=lambda j: (length[j], -j), default=None)
        length.append(1 + (length[previous] if previous is not None else 0))
        parent.append(previous)
        if key not in best_for_number or length[i] > length[best_for_number[key]]:
            best_for_number[key] = i
    chain = []
    end = max(range(len(markers)), key=lambda i: (length[i], -i), default=None)
    while end is not None:
        chain.append(markers[end])
        end = parent[end]
    return chain[::-1]


def _item_spans(text: str, bold: list[tuple[int, int]]) -> list[_Span]:
    markers = _longest_sequence(_markers(text))
    spans = []
    for k, marker in enumerate(markers):
        next_start = markers[k + 1].start if k + 1 < len(markers) else len(text)
        end = _trimmed_end(text, marker.start, next_start)
        heading = marker.heading
        if heading is None:
            heading = _left_column_heading(text, marker, end) if marker.tabbed else ""
            heading = heading or _bold_heading(text, bold, marker.after, end)
        heading = _clean_heading(heading)
        spans.append(_Span(marker.number, heading, marker.start, end, min(marker.after, end)))
    return spans


def _trimmed_end(text: str, start: int, end: int) -> int:
    """End of an item less trailing whitespace and a closing "END" line."""
    body = text[start:end].rstrip()
    if ending := _END_LINE.search(body):
        body = body[: ending.start()].rstrip()
    return start + len(body)


def _left_column_heading(text: str, marker: _Marker, end: int) -> str:
    """A heading typed down a table's left column ("Welcome &" / "PCC" / "Remarks").

    The left cell is what comes before a row's first tab, or a short line on its own (its
    empty right cell trimmed away), starting with the label's own cell ("Item 1: Welcome");
    the table ends at the first blank line.
    """
    own_cell = text[marker.after : text.find("\t", marker.after)].strip()
    cells = [own_cell] if own_cell else []
    for line in text_lines(text, marker.after, end)[1:]:
        if not line.text.strip():
            break
        left = line.text.split("\t", 1)[0].strip()
        if left and len(left) <= 40 and not _BULLET.match(left):
            cells.append(left)
    return " ".join(cells)


def _bold_heading(text: str, bold: list[tuple[int, int]], start: int, end: int) -> str:
    """The first short bold run in an item: a flattened table's left-column heading."""
    for bold_start, bold_end in bold:
        if start <= bold_start < end and bold_end - bold_start <= 100:
            return text[bold_start:bold_end]
    return ""


_AGENDA_REFERENCE = re.compile(r"\s*\((?:agenda\s+)?item\s*[\w.]*\)\s*$", re.IGNORECASE)


def _clean_heading(heading: str) -> str:
    """Without a document link ("pdf icon PDF 212 KB") or an agenda reference ("(Item 3)")."""
    heading = _AGENDA_REFERENCE.sub("", DOCUMENT_LINK.sub("", heading))
    return squash(heading).rstrip(" :-–")


# --------------------------------------------------------------------------- sessions, markings

_EXCLUSION = re.compile(r"\bexclusion\s+of\s+(?:the\s+)?(?:press|public)\b", re.I)


def _session_events(text: str, spans: list[_Span]) -> list[tuple[int, Session]]:
    """(offset, session) for every marker: standalone lines and session-changing headings."""
    events = []
    for line in text_lines(text):
        if any(span.start <= line.start < span.after for span in spans):
            continue
        if session := session_line(line.text):
            events.append((line.start, session))
    for span in spans:
        if _EXCLUSION.search(span.heading):
            events.append((span.end, "closed"))
        elif CLOSED_SESSION.search(span.heading):
            events.append((span.start, "closed"))
        elif OPEN_SESSION.search(span.heading):
            events.append((span.start, "open"))
    return sorted(events)


def _session_at(events: list[tuple[int, Session]], offset: int) -> Session:
    current: Session = "open"
    for position, session in events:
        if position > offset:
            break
        current = session
    return current


def _first_marking(text: str, start: int = 0, end: int | None = None) -> str | None:
    match = MARKING.search(text, start, len(text) if end is None else end)
    return squash(match["marking"]) if match else None


# --------------------------------------------------------------------------- date, time, venue

_TIME = r"\d{1,2}[.:]\d{2}\s*(?:[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?"
_TIME_AFTER_DATE = re.compile(rf"^[ \t,]*(?:at[ \t]+|[-–][ \t]*)?(?P<time>{_TIME})", re.I)


def _fields(header: str) -> dict[str, str]:
    """Labelled header rows ("Date<TAB>...", "Venue: ..."), first of each label, by label."""
    fields: dict[str, str] = {}
    for line in header.split("\n"):
        if match := FIELD_ROW.match(line):
            fields.setdefault(match["label"].lower(), squash(match["value"]))
    return fields


def _meeting_time(header: str, fields: dict[str, str], found: FoundDate | None) -> str | None:
    if fields.get("time"):
        return fields["time"]
    if found and (match := _TIME_AFTER_DATE.match(header[found.end :])):
        return squash(match["time"])
    return None


def _venue(fields: dict[str, str]) -> str | None:
    """The labelled venue, without the "View directions" link text council sites append."""
    value = fields.get("venue") or fields.get("location") or fields.get("place") or ""
    return re.sub(r"\.?\s*View directions\s*$", "", value).rstrip(" .") or None


# --------------------------------------------------------------------------- title and kind

_TITLE_PREFIX = re.compile(
    r"^(?:(?:draft|confirmed|approved)\s+)?(?:minutes|notes)(?:\s+of\s+(?:the\s+)?)?\s*[:\-–]?\s*",
    re.IGNORECASE,
)
_SMALL_WORDS = frozenset("a an and at by for in of on or the to with".split())
_KINDS = [
    (r"\b1\s*:\s*1\b|\bone[\s-]to[\s-]one\b", "1:1"),
    (r"\bperformance\s+and\s+governance\s+board\b", "Performance and Governance Board"),
    (
        r"\bpolice,?\s+(?:fire\s+)?(?:and|&)\s+crime\s+(?:panel|committee)\b",
        "Police and Crime Panel",
    ),
    (r"\bpolice\s+authority\s+board\b", "Police Authority Board"),
    (r"\bstrategic\s+policing\s+and\s+crime\s+board\b", "Strategic Policing and Crime Board"),
    (r"\bgovernance\s+board\b", "Governance Board"),
    (r"\bperformance\s+and\s+accountability\s+board\b", "Performance and Accountability Board"),
    (r"\baccountability\s+board\b", "Accountability Board"),
    (
        r"\bjoint\s+(?:independent\s+)?audit\s+(?:and\s+ethics\s+)?committee\b",
        "Joint Audit Committee",
    ),
    (r"\bholding\s+to\s+account\b", "Holding to Account Meeting"),
    (
        r"\bchief\s+officer(?:'?s|s')?\s+(?:management\s+)?(?:board|group)\b",
        "Chief Officers' Board",
    ),
]
DEFAULT_KIND = "Meeting"


def _title(header_lines: list[str], fields: dict[str, str]) -> str | None:
    """The minutes' own title line: the first line of the header that is neither a labelled
    row, a generic word ("Agenda and minutes"), a date alone nor a list of people."""
    if fields.get("title") or fields.get("meeting"):
        return _clean_title(fields.get("title") or fields["meeting"])
    for line in header_lines:
        text = line.strip()
        if ATTENDANCE_LABEL.match(text):
            return None
        if not text or is_furniture(text):
            continue
        if title := _clean_title(text):
            return title
    return None


def _clean_title(text: str) -> str | None:
    """Without a leading "Minutes:" and without the date and time it may carry."""
    text = _TITLE_PREFIX.sub("", text.strip(), count=1)
    if found := find_date(text):
        after = text[found.end :]
        time = _TIME_AFTER_DATE.match(after)
        text = text[: found.start] + " " + after[time.end() if time else 0 :]
    text = squash(text).strip(" -–—,:|")
    if not re.search(r"[^\W\d_]{2}", text):
        return None
    return _title_case(text) if text.isupper() else text


def _title_case(text: str) -> str:
    """Title case for an all-capitals title; words without vowels (PCC, CC) stay capitals."""
    words = []
    for i, word in enumerate(text.split(" ")):
        lower = word.lower()
        if i and lower in _SMALL_WORDS:
            words.append(lower)
        elif word.isalpha() and not re.search(r"[AEIOUY]", word):
            words.append(word)
        else:
            words.append(word[:1] + word[1:].lower())
    return " ".join(words)


def _meeting_kind(*texts: str) -> str:
    """The kind of meeting the first text naming one names ("1:1", "Police and Crime Panel")."""
    for text in texts:
        for pattern, kind in _KINDS:
            if re.search(pattern, text, re.IGNORECASE):
                return kind
    return DEFAULT_KIND


# --------------------------------------------------------------------------- the meeting


def meeting_id(date: str | None, kind: str, source: str) -> str:
    """Stable id: date, kind and a short hash of the source path."""
    slug = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-") or "meeting"
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:6]
    return f"{date or 'undated'}-{slug}-{digest}"


def parse_text(
    text: str, *, source: str, sha256: str, warnings: list[str] | None = None
) -> Meeting:
    """The meeting the minutes in ``text`` record. Never guesses a date: none found is None."""
    body, bold = normalise(text)
    notes = list(warnings or [])
    spans, shape = _items_and_shape(body, bold)
    header_end = spans[0].start if spans else len(body)
    header = body[:header_end]
    fields = _fields(header)
    found = find_meeting_date(header, body)
    title = _title(header.split("\n"), fields)
    kind = _meeting_kind(title or "", header, body)
    if shape not in ("numbered", "references"):
        notes.append(f"no numbered agenda items found; read as {shape} ({len(spans)} items)")
    if found is None:
        notes.append("no meeting date found; the date is left empty")
    if title is None:
        notes.append(f"no title line found; the title is the kind of meeting ({kind})")
    date = found.iso if found else None
    return Meeting(
        id=meeting_id(date, kind, source),
        source=source,
        sha256=sha256,
        title=title or kind,
        body=organisation(title or "", header, body, lambda name: _meeting_kind(name) == kind),
        kind=kind,
        shape=shape,
        date=date,
        time=_meeting_time(header, fields, found),
        venue=_venue(fields),
        marking=_first_marking(body),
        attendees=read_attendees(body, header_end, spans),
        items=_agenda_items(body, spans),
        text=body,
        warnings=notes,
    )


def _items_and_shape(text: str, bold: list[tuple[int, int]]) -> tuple[list[_Span], str]:
    """The agenda items and the shape they were found in, most explicit shape first:
    numbered items or minute references, then unnumbered headings (a council page's item
    table, heading lines), then layout, and last "Part n" sections of paragraphs."""
    numbered = _item_spans(text, bold)
    anchor = _item_table_end(text)
    headings = heading_items(text, anchor)
    if len(numbered) >= 2 or (numbered and len(headings) < 2):
        references = any("/" in span.number for span in numbered)
        return numbered, "references" if references else "numbered"
    if len(headings) >= 2:
        return _layout_spans(text, headings), _heading_shape(headings, anchor, text)
    prose = first_prose(text[anchor:])
    start = anchor + prose if prose is not None else anchor
    return _layout_spans(text, part_items(text, start)), "fallback: parts"


def _item_table_end(text: str) -> int:
    """End of a "No. Item" table header line, where a council page's items begin; else 0."""
    match = re.search(ITEM_TABLE_HEADER.pattern, text, re.IGNORECASE | re.MULTILINE)
    return match.end() if match else 0


def _heading_shape(headings: list[Heading], anchor: int, text: str) -> str:
    if "|" in text[max(0, anchor - 200) : anchor]:
        return "table"
    if anchor or any(h.strong for h in headings):
        return "headings"
    return "fallback: layout"


def _layout_spans(text: str, headings: list[Heading]) -> list[_Span]:
    """Spans numbered 1, 2, ... in order: the minutes give no numbers of their own."""
    spans = []
    for k, found in enumerate(headings):
        next_start = headings[k + 1].start if k + 1 < len(headings) else len(text)
        end = _trimmed_end(text, found.start, next_start)
        heading = _clean_heading(found.heading)
        spans.append(_Span(str(k + 1), heading, found.start, end, min(found.after, end)))
    return spans


def _agenda_items(text: str, spans: list[_Span]) -> list[AgendaItem]:
    events = _session_events(text, spans)
    return [
        AgendaItem(
            number=span.number,
            heading=span.heading,
            text=text[span.start : span.end],
            start=span.start,
            end=span.end,
            session=_session_at(events, span.start),
            marking=_first_marking(text, span.start, span.end),
        )
        for span in spans
    ]


def parse_file(path: Path, archive_root: Path | None = None) -> Meeting:
    """Read and parse one minutes file. ``source`` is its path relative to ``archive_root``
    (posix), or its file name when no root is given."""
    path = Path(path)
    text, warnings = read_source(path)
    source = path.name if archive_root is None else source_name(path, archive_root)
    if source is None:
        raise ParseError(path, f"not inside the archive root {archive_root}")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return parse_text(text, source=source, sha256=sha256, warnings=warnings)
