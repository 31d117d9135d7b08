"""One bad file never breaks a batch: whatever the bytes, the readers and the parser raise
only QuorumError, and ingest reports the file by path and reason and indexes the rest.

Property-based (hypothesis): random bytes and mutations of real sample files in every format
(truncated zips, broken XML inside a .docx, invalid UTF-8, huge lines, control characters,
nested tables). Decompressed size is capped per format (``max_*_mb`` settings).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from docx import Document
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.errors import ParseError, QuorumError
from core.settings import SAMPLE_ARCHIVE
from index.ingest import Ingestor
from index.parse import parse_text
from index.readers import ReadLimits, read_source
from index.store import IndexStore
from tests.conftest import make_settings

SAMPLE = SAMPLE_ARCHIVE / "002_38b18e688a9d200f.txt"
FUZZ = hsettings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def sample_docx(path: Path, nested: bool = False) -> Path:
    """A real .docx of the sample minutes (one paragraph a line), optionally with a table
    nested in a table cell."""
    document = Document()
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        document.add_paragraph(line)
    if nested:
        outer = document.add_table(rows=1, cols=2)
        outer.cell(0, 0).add_table(rows=2, cols=2).cell(0, 0).text = "7. Nested item"
    document.save(str(path))
    return path


def with_broken_xml(docx_bytes: bytes) -> bytes:
    """The same .docx with its main document part cut mid-tag: a valid zip, invalid XML."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2] + b"<w:p><w:r"
            target.writestr(info, data)
    return out.getvalue()


def test_a_docx_with_broken_xml_is_a_named_failure_and_the_batch_goes_on(tmp_path, embedder):
    good = sample_docx(tmp_path / "good.docx")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(with_broken_xml(good.read_bytes()))
    settings = make_settings(tmp_path)
    report = Ingestor(settings, embedder).ingest([bad, good])
    failed = report.failed
    assert [Path(r.path).name for r in failed] == ["bad.docx"]
    assert "XMLSyntaxError" in failed[0].detail or "not a valid .docx" in failed[0].detail
    assert [Path(r.path).name for r in report.of("added")] == ["good.docx"]


def test_a_docx_that_unzips_past_the_limit_is_refused_before_reading(tmp_path):
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:t>" + b"a" * 3_000_000 + b"</w:t>")
    assert bomb.stat().st_size < 20_000
    with pytest.raises(ParseError, match=r"unzips to 3.0 MB, over the limit of 2 MB.*MAX_DOCX_MB"):
        read_source(bomb, ReadLimits(docx_bytes=2_000_000))


def test_text_and_html_past_the_limit_are_refused(tmp_path):
    page = tmp_path / "big.html"
    page.write_text("<p>" + "minutes " * 200_000 + "</p>")
    with pytest.raises(ParseError, match=r"over the limit of 1 MB.*MAX_HTML_MB"):
        read_source(page, ReadLimits(text_bytes=1_000_000))


def test_a_pdf_past_the_limit_is_refused(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(5):
        pdf.add_page()
        pdf.set_font("helvetica", size=8)
        pdf.multi_cell(0, 4, "1. Minutes of the meeting. " * 300)
    path = tmp_path / "big.pdf"
    pdf.output(str(path))
    with pytest.raises(ParseError, match=r"over the limit.*MAX_PDF_MB"):
        read_source(path, ReadLimits(pdf_bytes=20_000))


def mutated(data: bytes, draw) -> bytes:
    """Truncate, flip bytes in, or splice garbage into ``data``."""
    how = draw(st.sampled_from(["truncate", "flip", "splice"]))
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        flips = draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=20))
        out = bytearray(data)
        for i in flips:
            out[i] ^= 0xFF
        return bytes(out)
    return data[:at] + draw(st.binary(min_size=1, max_size=200)) + data[at:]


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    from fpdf import FPDF

    folder = tmp_path_factory.mktemp("originals")
    text = SAMPLE.read_bytes()
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.multi_cell(0, 5, "Minutes\n1. Welcome\nThe PCC welcomed everyone.\n2. AOB\nNone.")
    pdf.output(str(folder / "m.pdf"))
    return {
        ".txt": text,
        ".md": text,
        ".html": b"<html><body><h2>1. Welcome</h2><table><tr><td><table><tr><td>x</td></tr>"
        b"</table></td></tr></table><p>" + text[:2000] + b"</p></body></html>",
        ".docx": sample_docx(folder / "m.docx", nested=True).read_bytes(),
        ".pdf": (folder / "m.pdf").read_bytes(),
    }


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".txt", ".md", ".html", ".docx", ".pdf"]))
def test_mutated_files_raise_only_quorum_errors(tmp_path_factory, originals, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"minutes{suffix}"
    path.write_bytes(mutated(originals[suffix], data.draw))
    try:
        text, _ = read_source(path)
        parse_text(text, source=path.name, sha256="0")
    except QuorumError:
        pass


@FUZZ
@given(
    text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000),
    long_line=st.integers(0, 200_000),
)
def test_any_text_parses_or_fails_by_name(text, long_line):
    body = text + "\n1. Item " + "x" * long_line + "\x1b[31m\x07\x00\n"
    with contextlib.suppress(QuorumError):
        parse_text(body, source="fuzz.txt", sha256="0")


@FUZZ
@given(blob=st.binary(max_size=4000), suffix=st.sampled_from([".txt", ".html", ".docx", ".pdf"]))
def test_random_bytes_raise_only_quorum_errors(tmp_path_factory, blob, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"x{suffix}"
    path.write_bytes(blob)
    with contextlib.suppress(QuorumError):
        read_source(path)


def test_bad_files_leave_the_index_unchanged(tmp_path, embedder, originals):
    settings = make_settings(tmp_path)
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, archive)
    Ingestor(settings, embedder).ingest([archive])
    store = IndexStore(settings)
    before = (store.catalog.generation, store.catalog.counts(), store.catalog.manifest().keys())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.docx").write_bytes(with_broken_xml(originals[".docx"]))
    (bad / "cut.docx").write_bytes(originals[".docx"][:3000])
    (bad / "cut.pdf").write_bytes(originals[".pdf"][:200])
    (bad / "binary.txt").write_bytes(b"\x00\xff" * 500)
    report = Ingestor(settings, embedder).ingest([bad])
    assert len(report.failed) == 4 and all(r.detail for r in report.failed)
    after = (store.catalog.generation, store.catalog.counts(), store.catalog.manifest().keys())
    assert after == before


def test_an_upload_with_a_broken_docx_keeps_the_good_file_and_drops_the_bad_copy(
    tmp_path, embedder
):
    from web.services import copy_upload, discard_unindexed

    good = sample_docx(tmp_path / "good.docx")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(with_broken_xml(good.read_bytes()))
    settings = make_settings(tmp_path)
    uploads = settings.data_dir / "uploads"
    copies = [copy_upload(path, uploads) for path in (good, bad)]
    report = Ingestor(settings, embedder).ingest(copies)
    discard_unindexed(report, copies)
    assert sorted(p.name for p in uploads.iterdir()) == ["good.docx"]
    assert IndexStore(settings).catalog.counts()[0] == 1
