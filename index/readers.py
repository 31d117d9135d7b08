"""Readers: the plain text of a minutes file in any supported format, plus warnings, and the
name the file is cited by (:func:`source_name`).

Every reader hands the parser text in one convention, whatever the format:

* one line per paragraph, a blank line between paragraphs;
* a table row per line with its cells separated by a tab. In a DOCX table a cell of several
  paragraphs spreads over several lines, the other cells left empty, which is how minutes
  pasted out of a two-column table look; in HTML a cell's paragraphs are joined by spaces;
* bold text wrapped in ``**`` (the parser uses bold runs to find headings in flattened tables).

Anything that cannot be read raises :class:`~core.errors.ParseError` naming the file and why:
the third-party parsers (python-docx, lxml, pypdf) meet untrusted bytes and may raise anything,
so :func:`read_source` turns any of their exceptions into one. Decompressed sizes are capped
(:class:`ReadLimits`, from the ``max_*_mb`` settings) before the bulk of a file is expanded.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from core.errors import ParseError, QuorumError
from core.settings import Settings
from index.lines import MARKING

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".docx", ".pdf"})

_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f")
_LAYOUT_GAP = re.compile(r"(?<=\S) {3,}(?=\S)")


MB = 1_000_000


@dataclass(frozen=True)
class ReadLimits:
    """Most bytes a file may expand to: unzipped .docx parts, decoded PDF page contents and
    extracted text, decoded text of .txt/.md/.html."""

    docx_bytes: int = 50 * MB
    pdf_bytes: int = 50 * MB
    text_bytes: int = 20 * MB

    @classmethod
    def of(cls, settings: Settings) -> ReadLimits:
        return cls(
            docx_bytes=int(settings.max_docx_mb * MB),
            pdf_bytes=int(settings.max_pdf_mb * MB),
            text_bytes=int(settings.max_html_mb * MB),
        )


def _over(path: Path, what: str, size: int, limit: int, setting: str) -> ParseError:
    return ParseError(
        path,
        f"{what} {size / MB:.1f} MB, over the limit of {limit / MB:g} MB "
        f"(raise it with QUORUM_{setting.upper()})",
    )


def source_name(path: Path, *roots: Path) -> str | None:
    """The name a meeting's file is cited by: its path (posix) relative to the first of
    ``roots`` that holds it; None when none does."""
    resolved = path.resolve()
    for root in roots:
        if resolved.is_relative_to(resolved_root := Path(root).resolve()):
            return resolved.relative_to(resolved_root).as_posix()
    return None


def read_source(path: Path, limits: ReadLimits | None = None) -> tuple[str, list[str]]:
    """Plain text of a minutes file + warnings. Raises ParseError(path, reason), and nothing
    else, whatever the bytes."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ParseError(
            path, f"unsupported file type '{suffix or path.name}' (supported: {supported})"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise ParseError(path, "empty file")
    try:
        text, warnings = reader(path, data, limits or ReadLimits())
    except QuorumError:
        raise
    except (Exception, RecursionError) as exc:  # untrusted bytes: a parser may raise anything
        raise ParseError(path, f"cannot be read ({type(exc).__name__}: {_short(exc)})") from None
    text = printable(text)
    if not text.strip():
        raise ParseError(path, "no text in the file")
    return text, warnings


_TERMINAL_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.?)")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text without terminal escape sequences or control characters (tabs and line breaks
    kept; form feeds and vertical tabs become line breaks): minutes are shown on terminals
    and written into XML (.docx), where either would do harm."""
    text = _TERMINAL_SEQUENCE.sub("", text).replace("\f", "\n").replace("\v", "\n")
    return _CONTROL_CHARS.sub("", text)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or "no detail"


def _read_text(path: Path, data: bytes, limits: ReadLimits) -> tuple[str, list[str]]:
    if len(data) > limits.text_bytes:
        raise _over(path, "text of", len(data), limits.text_bytes, "max_html_mb")
    return _decode_text(path, data)


def _decode_text(path: Path, data: bytes) -> tuple[str, list[str]]:
    """Bytes of a text file as str: UTF-8 (or UTF-16 with a BOM), else cp1252 with a warning."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_utf16(path, data), []
    if _looks_binary(data):
        raise ParseError(path, "binary data, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ParseError(path, "text in an unknown encoding (neither UTF-8 nor cp1252)") from None
    return text, ["not valid UTF-8; read as cp1252 (Windows-1252)"]


def _decode_utf16(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError:
        raise ParseError(path, "broken UTF-16 text") from None


def _looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than 5% control characters in the first 8 KiB, mean not text."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > len(head) * 0.05


def _read_html(path: Path, data: bytes, limits: ReadLimits) -> tuple[str, list[str]]:
    text, warnings = _read_text(path, data, limits)
    converter = _HtmlToText()
    converter.feed(text)
    converter.close()
    return converter.text(), warnings


class _HtmlToText(HTMLParser):
    """HTML to the reader convention: a block on lines of its own, a table row on one line
    with its cells tab-separated (blocks inside a cell are joined by spaces)."""

    _SKIP = frozenset("script style head title template noscript".split())
    _BLOCKS = frozenset(
        "p div br hr ul ol li table section article header footer main blockquote pre dl dt dd"
        " h1 h2 h3 h4 h5 h6 caption thead tbody tfoot".split()
    )
    _BOLD = frozenset({"b", "strong"})
    _CELLS = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping = 0
        self._pre = 0
        self._cells_open = 0
        self._row_started = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "tr":
            self._row_started = False
        elif tag in self._CELLS:
            self._parts.append("\t" if self._row_started else "")
            self._row_started = True
            self._cells_open += 1
        elif tag in self._BOLD:
            self._parts.append("**")
        elif tag in self._BLOCKS:
            self._break()
        if tag == "li":
            self._parts.append("- ")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "tr":
            self._parts.append("\n")
        elif tag in self._CELLS:
            self._cells_open = max(0, self._cells_open - 1)
        elif tag in self._BOLD:
            self._parts.append("**")
        elif tag in self._BLOCKS:
            self._break()
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._parts.append(data if self._pre else re.sub(r"\s+", " ", data))

    def _break(self) -> None:
        self._parts.append(" " if self._cells_open else "\n")

    def text(self) -> str:
        lines = (line.strip(" ") for line in "".join(self._parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _read_docx(path: Path, data: bytes, limits: ReadLimits) -> tuple[str, list[str]]:
    _check_unzipped_size(path, data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError):
        raise ParseError(path, "not a valid .docx file") from None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.append("\n".join(_docx_table_rows(block)))
        elif (text := _docx_paragraph(block)).strip():
            blocks.append(text)
    return "\n\n".join(blocks), []


def _check_unzipped_size(path: Path, data: bytes, limits: ReadLimits) -> None:
    """Refuse a .docx whose parts unzip to more than the limit, before any is expanded
    (zipfile stops reading a part at its declared size, so the sum is a true bound)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise ParseError(path, "not a valid .docx file (not a zip archive)") from None
    if size > limits.docx_bytes:
        raise _over(path, "unzips to", size, limits.docx_bytes, "max_docx_mb")


def _docx_paragraph(paragraph: Paragraph) -> str:
    """The paragraph's text with bold runs wrapped in ``**``."""
    parts: list[str] = []
    for content in paragraph.iter_inner_content():
        runs = [content] if isinstance(content, Run) else content.runs
        for run in runs:
            text = run.text
            parts.append(f"**{text}**" if run.bold and text.strip() else text)
    return "".join(parts).replace("****", "")


def _docx_table_rows(table: Table) -> Iterable[str]:
    """Rows as tab-separated lines; merged cells counted once."""
    for row in table.rows:
        row_cells = row.cells
        cells = [c for i, c in enumerate(row_cells) if i == 0 or c._tc is not row_cells[i - 1]._tc]
        columns = [[_docx_paragraph(p) for p in cell.paragraphs] for cell in cells]
        depth = max((len(col) for col in columns), default=0)
        for i in range(depth):
            yield "\t".join(col[i] if i < len(col) else "" for col in columns)


def _read_pdf(path: Path, data: bytes, limits: ReadLimits) -> tuple[str, list[str]]:
    try:
        reader = PdfReader(io.BytesIO(data))
        _unlock(path, reader)
        pages = list(_pdf_pages_within(path, reader, limits.pdf_bytes))
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ParseError(path, f"not a readable PDF ({exc})") from None
    if not any(line.strip() for page in pages for line in page):
        raise ParseError(path, "no text layer; OCR is not supported")
    return _pdf_text(pages), []


def _pdf_pages_within(path: Path, reader: PdfReader, limit: int) -> Iterable[list[str]]:
    """Each page's lines, refusing the file once decoded contents plus text pass ``limit``."""
    used = 0
    for page in reader.pages:
        contents = page.get_contents()
        used += len(contents.get_data()) if contents is not None else 0
        if used > limit:
            raise _over(path, "page contents decode to over", used, limit, "max_pdf_mb")
        lines = _pdf_page_lines(page)
        used += sum(len(line) + 1 for line in lines)
        if used > limit:
            raise _over(path, "text of over", used, limit, "max_pdf_mb")
        yield lines


def _unlock(path: Path, reader: PdfReader) -> None:
    """Open a PDF encrypted with an empty user password; refuse one that needs a password."""
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("")
    except (DependencyError, NotImplementedError) as exc:
        raise ParseError(path, f"encrypted PDF that cannot be opened here ({exc})") from None
    if not opened:
        raise ParseError(path, "encrypted PDF; it needs a password to be read")


def _pdf_page_lines(page: PageObject) -> list[str]:
    """Layout-mode lines, so table columns stay apart; wide gaps become tabs."""
    text = page.extract_text(extraction_mode="layout")
    return [_LAYOUT_GAP.sub("\t", line.strip()) for line in text.splitlines()]


_PAGE_NUMBER = re.compile(r"^[-–\s]*(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?[-–\s]*$", re.I)
_EDGE_LINES = 3
_FULL_LINE = 0.75
_NEW_BLOCK = re.compile(r"^(?:[-•*·▪◦–]\s|\(?[0-9ivxa-h]{1,4}[.)]\s|[0-9]+\.?\s*$)")


def _pdf_text(pages: list[list[str]]) -> str:
    """The pages as one text: running headers and footers (a line repeated at the top or
    bottom of most pages, digits aside) and page numbers taken out, a repeated protective
    marking kept once at the top, and lines wrapped by the page joined into paragraphs."""
    running = _running_lines(pages)
    markings: list[str] = []
    kept_pages = []
    for page in pages:
        kept = []
        for line in page:
            if _PAGE_NUMBER.match(line) and line.strip():
                continue
            if _digits_aside(line) in running:
                if MARKING.match(line) and line.strip() not in markings:
                    markings.append(line.strip())
                continue
            kept.append(line)
        kept_pages.append("\n".join(_paragraphs(kept)))
    return "\n\n".join([*markings, *kept_pages]).strip()


def _digits_aside(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines found among the first or last few lines of at least half the pages (two or
    more): page headers and footers."""
    if len(pages) < 2:
        return set()
    seen: dict[str, int] = {}
    for page in pages:
        lines = [line for line in page if line.strip()]
        edges = {_digits_aside(line) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]}
        for key in edges:
            seen[key] = seen.get(key, 0) + 1
    return {key for key, count in seen.items() if count >= max(2, len(pages) / 2)}


def _paragraphs(lines: list[str]) -> list[str]:
    """Lines wrapped by the page joined back: a line as wide as the page's text (so the
    page broke it), without closing punctuation or table cells, runs on into the next line
    unless that one starts a list entry or a numbered item."""
    width = max((len(line) for line in lines), default=0)
    out: list[str] = []
    wrapped = False
    for line in lines:
        if wrapped and line and not _NEW_BLOCK.match(line) and "\t" not in line:
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        last = out[-1]
        wrapped = (
            bool(line)
            and "\t" not in last
            and len(line) >= _FULL_LINE * width
            and last[-1] not in ".:;!?"
        )
    return out


_READERS: dict[str, Callable[[Path, bytes, ReadLimits], tuple[str, list[str]]]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
}
