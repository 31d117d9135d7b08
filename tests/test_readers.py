"""Readers: every format gives the same meeting, and bad input fails with the file and reason.

DOCX, PDF and HTML files are generated here from a real sample (python-docx, fpdf2 with a core
font), then read back through the real readers and parser.
"""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from fpdf import FPDF
from pypdf import PdfWriter

from core.errors import ParseError
from index.models import Meeting
from index.parse import parse_file
from index.readers import SUPPORTED_SUFFIXES, read_source

ARCHIVE = Path(__file__).resolve().parents[1] / "data" / "sample_minutes"
ONE_TO_ONE_JAN = ARCHIVE / "002_38b18e688a9d200f.txt"
ONE_TO_ONE_SEP = ARCHIVE / "004_4f5460b6f408a5cd.txt"
# Characters the PDF core fonts (latin-1) lack, replaced the way a typist would.
LATIN1_STANDINS = str.maketrans({"–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})


def summary(meeting: Meeting) -> dict:
    """What must not change with the file format."""
    return {
        "date": meeting.date,
        "kind": meeting.kind,
        "title": meeting.title,
        "marking": meeting.marking,
        "attendees": [(a.name, a.initials, a.role, a.status) for a in meeting.attendees],
        "items": [(it.number, it.heading) for it in meeting.items],
    }


def sample_parts(path: Path) -> tuple[str, list[list[str]], list[str]]:
    """Title, header table rows and body lines of a sample, with inline HTML taken out."""
    lines = [re.sub(r"<[^>]+>", "", line) for line in path.read_text(encoding="utf-8").split("\n")]
    lines = [line for line in lines if line.strip()]
    body_at = lines.index("Open Session")
    rows = [line.split("\t") for line in lines[1:body_at]]
    return lines[0].strip(), rows, lines[body_at:]


def heading_level(line: str) -> tuple[int, str]:
    """(markdown heading level or 0, text without the markers)."""
    match = re.match(r"(#+)\s*(.*)", line)
    return (len(match[1]), match[2]) if match else (0, line.replace("**", ""))


def write_docx(source: Path, target: Path) -> Path:
    title, rows, body = sample_parts(source)
    document = Document()
    document.add_paragraph().add_run(title).bold = True
    table = document.add_table(rows=0, cols=2)
    for left, right in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = left, right
    for line in body:
        level, text = heading_level(line)
        if level:
            document.add_heading(text, level=min(level, 4))
        else:
            document.add_paragraph(text)
    document.save(target)
    return target


def write_pdf(source: Path, target: Path) -> Path:
    title, rows, body = sample_parts(source)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for left, right in rows:
        pdf.cell(55, 6, latin1(left))
        pdf.cell(0, 6, latin1(right), new_x="LMARGIN", new_y="NEXT")
    for line in body:
        level, text = heading_level(line)
        pdf.set_font("Helvetica", "B" if level else "", 10)
        pdf.multi_cell(0, 5, latin1(text.strip()), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.output(str(target))
    return target


def latin1(text: str) -> str:
    return text.translate(LATIN1_STANDINS).encode("latin-1", "replace").decode("latin-1")


def write_html(source: Path, target: Path) -> Path:
    title, rows, body = sample_parts(source)
    cells = "".join(
        f"<tr><td>{html.escape(left)}</td><td>{html.escape(right)}</td></tr>"
        for left, right in rows
    )
    paragraphs = "".join(
        f"<h3>{html.escape(line)}</h3>"
        if re.match(r"\d+\. ", line)
        else f"<p>{html.escape(line)}</p>"
        for line in body
    )
    page = (
        "<html><head><title>Minutes</title><style>p {margin: 0}</style></head><body>"
        f"<h2>{html.escape(title)}</h2><table>{cells}</table>{paragraphs}</body></html>"
    )
    target.write_text(page, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def sample_summary() -> dict[Path, dict]:
    return {path: summary(parse_file(path)) for path in (ONE_TO_ONE_JAN, ONE_TO_ONE_SEP)}


def test_supported_suffixes():
    assert {".txt", ".md", ".html", ".htm", ".docx", ".pdf"} == SUPPORTED_SUFFIXES


def test_docx_gives_the_same_meeting(tmp_path, sample_summary):
    path = write_docx(ONE_TO_ONE_JAN, tmp_path / "minutes.docx")
    meeting = parse_file(path)
    assert summary(meeting) == sample_summary[ONE_TO_ONE_JAN]
    assert "\tTuesday 28 January 2025" in meeting.text, "table cells are tab-separated"


def test_pdf_gives_the_same_meeting(tmp_path, sample_summary):
    path = write_pdf(ONE_TO_ONE_JAN, tmp_path / "minutes.pdf")
    meeting = parse_file(path)
    assert summary(meeting) == sample_summary[ONE_TO_ONE_JAN]
    assert meeting.time == "1100 - 1200" and meeting.venue == "PCC Office, HQ"


def test_html_gives_the_same_meeting(tmp_path, sample_summary):
    path = write_html(ONE_TO_ONE_SEP, tmp_path / "minutes.html")
    meeting = parse_file(path)
    assert summary(meeting) == sample_summary[ONE_TO_ONE_SEP]
    assert meeting.text.split("\n")[0] == "Minutes: 1:1 PCC John Tizard & CC Trevor Rodenhurst"
    assert "margin" not in meeting.text, "style and head are not text"
    assert "<" not in meeting.text and "&amp;" not in meeting.text
    assert "Police & Crime Plan" in meeting.text


def test_markdown_is_read_as_text(tmp_path, sample_summary):
    path = tmp_path / "minutes.md"
    path.write_bytes(ONE_TO_ONE_JAN.read_bytes())
    assert summary(parse_file(path)) == sample_summary[ONE_TO_ONE_JAN]


def test_cp1252_text_is_read_with_a_warning(tmp_path, sample_summary):
    path = tmp_path / "windows.txt"
    path.write_bytes(ONE_TO_ONE_SEP.read_text(encoding="utf-8").encode("cp1252"))
    meeting = parse_file(path)
    assert any("cp1252" in warning for warning in meeting.warnings)
    assert summary(meeting) == sample_summary[ONE_TO_ONE_SEP]
    assert meeting.item("9").heading == "PCC's Office – CEO Recruitment and Office Restructuring"


def test_a_pdf_encrypted_without_a_user_password_is_read(tmp_path, sample_summary):
    plain = write_pdf(ONE_TO_ONE_JAN, tmp_path / "plain.pdf")
    locked = tmp_path / "owner-only.pdf"
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    writer.write(locked)
    assert summary(parse_file(locked)) == sample_summary[ONE_TO_ONE_JAN]


def test_a_file_without_a_meeting_date_has_no_date_and_a_warning(tmp_path):
    text = ONE_TO_ONE_JAN.read_text(encoding="utf-8").replace("Date\tTuesday 28 January 2025\n", "")
    path = tmp_path / "undated.txt"
    path.write_text(text, encoding="utf-8")
    meeting = parse_file(path)
    assert meeting.date is None
    assert meeting.date_int == 0
    assert meeting.id.startswith("undated-1-1-")
    assert any("no meeting date" in warning for warning in meeting.warnings)
    assert date.today().isoformat() not in meeting.model_dump_json()
    assert len(meeting.items) == 9


def encrypted_pdf(tmp_path: Path) -> Path:
    plain = write_pdf(ONE_TO_ONE_JAN, tmp_path / "plain.pdf")
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    target = tmp_path / "encrypted.pdf"
    writer.write(target)
    return target


def image_only_pdf(tmp_path: Path) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")
    target = tmp_path / "scan.pdf"
    pdf.output(str(target))
    return target


def file_with(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "empty file": (lambda tmp: file_with(tmp, "empty.txt", b""), "empty file"),
    "blank file": (lambda tmp: file_with(tmp, "blank.md", b" \n\t\n"), "empty file"),
    "binary junk": (lambda tmp: file_with(tmp, "junk.txt", bytes(range(256)) * 8), "binary data"),
    "unknown encoding": (
        lambda tmp: file_with(tmp, "odd.txt", b"Minutes \x81\x8d\x8f\x90 of the Board"),
        "unknown encoding",
    ),
    "encrypted pdf": (encrypted_pdf, "encrypted PDF"),
    "pdf without text": (image_only_pdf, "no text layer; OCR is not supported"),
    "broken pdf": (lambda tmp: file_with(tmp, "broken.pdf", b"%PDF-1.7\nnot a pdf"), "PDF"),
    "broken docx": (lambda tmp: file_with(tmp, "broken.docx", b"plain text"), "not a valid .docx"),
    "unsupported extension": (
        lambda tmp: file_with(tmp, "minutes.rtf", b"{\\rtf1 Minutes}"),
        "unsupported file type '.rtf'",
    ),
    "missing file": (lambda tmp: tmp / "gone.txt", "cannot read the file"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_parse_error_naming_the_file_and_the_reason(case, tmp_path):
    make, reason = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(ParseError) as caught:
        read_source(path)
    assert caught.value.path == str(path)
    assert reason in caught.value.problem
    assert str(path) in str(caught.value)
    with pytest.raises(ParseError):
        parse_file(path)


class _PagedPdf(FPDF):
    """A PDF with a running protective marking at the top and a page number at the foot."""

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(0, 6, "Official Sensitive - Operational", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=9)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def write_paged_pdf(source: Path, target: Path) -> Path:
    """The sample's body in wrapped paragraphs over several pages with running furniture."""
    title, rows, body = sample_parts(source)
    pdf = _PagedPdf()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for left, right in rows:
        pdf.cell(55, 6, latin1(left))
        pdf.cell(0, 6, latin1(right), new_x="LMARGIN", new_y="NEXT")
    for line in body:
        level, text = heading_level(line)
        if not level or "Official Sensitive" not in text:
            pdf.set_font("Helvetica", "B" if level else "", 11)
            pdf.multi_cell(0, 6, latin1(text.strip()), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(target))
    return target


def test_pdf_page_furniture_is_out_of_the_items_and_wrapped_lines_are_joined(tmp_path):
    from index.text import split_sentences

    meeting = parse_file(write_paged_pdf(ONE_TO_ONE_JAN, tmp_path / "paged.pdf"))
    assert len({page for page in range(1, 9) if f"Page {page} of" in meeting.text}) == 0
    assert meeting.marking == "Official Sensitive - Operational"
    assert [(it.number, it.heading) for it in meeting.items] == summary(parse_file(ONE_TO_ONE_JAN))[
        "items"
    ]
    for item in meeting.items:
        assert "Official Sensitive" not in item.text
        assert not re.search(r"^Page \d+", item.text, re.MULTILINE)
    sentences = [s.text for s in split_sentences(meeting.text)]
    assert "It was agreed to review communications." in sentences
    npg = meeting.item("7").text
    assert "The PCC and CC agreed that local policing is important" in re.sub(r"\s+", " ", npg)
    joined = [s for s in sentences if s.startswith("The PCC and CC agreed")]
    assert joined and "\n" not in joined[0]
