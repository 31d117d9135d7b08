"""Chunking, the store and incremental ingest, on the real sample minutes and real Chroma."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from index.chunk import HEADER_ITEM_NUMBER, chunk_meeting
from index.ingest import Ingestor
from index.parse import parse_file
from index.store import Catalog, IndexStore
from quorum.commands import show
from rag.register import build_register
from tests.conftest import make_settings
from tests.test_readers import ONE_TO_ONE_JAN, write_docx, write_pdf


@pytest.fixture(scope="module")
def meetings(sample_dir: Path):
    return [parse_file(p, sample_dir) for p in sorted(sample_dir.iterdir())]


def test_chunks_are_verbatim_spans_inside_the_window(meetings, embedder):
    for meeting in meetings:
        chunks = chunk_meeting(meeting, embedder.count_tokens, embedder.window)
        assert chunks
        for chunk in chunks:
            assert chunk.text == meeting.text[chunk.start : chunk.end]
            assert embedder.count_tokens(chunk.embed_text) + 2 <= embedder.window
            assert chunk.embed_text.startswith(meeting.title)
            assert (meeting.date or "date unknown") in chunk.embed_text.splitlines()[0]


def test_every_item_is_chunked_and_long_items_split(meetings, embedder):
    for meeting in meetings:
        chunks = chunk_meeting(meeting, embedder.count_tokens, embedder.window)
        numbers = {c.item_number for c in chunks}
        assert {i.number for i in meeting.items if i.text.strip()} <= numbers
        assert HEADER_ITEM_NUMBER in numbers
    peel = next(m for m in meetings if m.date == "2025-01-28")
    parts = [
        c
        for c in chunk_meeting(peel, embedder.count_tokens, embedder.window)
        if c.item_number == "2"
    ]
    assert len(parts) > 1
    assert [c.part for c in parts] == list(range(len(parts)))
    assert all(c.parts == len(parts) for c in parts)
    assert all("His Majesty" in c.embed_text.splitlines()[0] for c in parts)


def counting(embedder):
    """Wrap the real embedder so a test can see how many texts were embedded."""
    calls = []
    original = embedder.embed

    def embed(texts):
        calls.append(len(texts))
        return original(texts)

    embedder.embed = embed
    return calls, lambda: setattr(embedder, "embed", original)


def stored_ids(settings) -> set[str]:
    """Chunks holding a vector: MiniLM's, or the static one it waits with (index.vectors)."""
    store = IndexStore(settings)
    minilm = set(store.collection.get(include=[])["ids"])
    static = set(store.static_collection.get(include=[])["ids"])
    assert not minilm & static
    return minilm | static


def test_ingest_is_incremental(tmp_path, archive_copy, embedder):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    first = Ingestor(settings, embedder).ingest([archive_copy])
    assert len(first.of("added")) == 3 and not first.failed
    catalog = IndexStore(settings).catalog
    assert catalog.counts()[0] == 3
    assert stored_ids(settings) == catalog.chunk_ids()

    calls, restore = counting(embedder)
    try:
        again = Ingestor(settings, embedder).ingest([archive_copy])
    finally:
        restore()
    assert len(again.of("unchanged")) == 3
    assert calls == []


def test_changed_file_replaces_exactly_its_chunks(tmp_path, archive_copy, embedder):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    Ingestor(settings, embedder).ingest([archive_copy])
    catalog = IndexStore(settings).catalog
    before = {m.id: {c.id for c in catalog.chunks(m.id)} for m in catalog.meetings()}
    target = archive_copy / "004_4f5460b6f408a5cd.txt"
    target.write_text(target.read_text() + "\n10. AOB\n\nNo other business was raised.\n")
    report = Ingestor(settings, embedder).ingest([archive_copy])
    assert [Path(r.path).name for r in report.of("updated")] == [target.name]
    after = {m.id: {c.id for c in catalog.chunks(m.id)} for m in catalog.meetings()}
    changed = [mid for mid in before if before[mid] != after.get(mid)]
    assert len(changed) == 1 and changed[0].startswith("2024-09-02")
    assert stored_ids(settings) == catalog.chunk_ids()
    assert catalog.meeting(changed[0]).items[-1].heading == "AOB"


def test_prune_and_duplicates(tmp_path, archive_copy, embedder):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    Ingestor(settings, embedder).ingest([archive_copy])
    shutil.copy(archive_copy / "000_9a374a5a77b903e1.txt", archive_copy / "copy-of-board.txt")
    report = Ingestor(settings, embedder).ingest([archive_copy])
    assert [Path(r.path).name for r in report.of("duplicate")] == ["copy-of-board.txt"]
    assert "000_9a374a5a77b903e1.txt" in report.of("duplicate")[0].detail

    (archive_copy / "002_38b18e688a9d200f.txt").unlink()
    kept = Ingestor(settings, embedder).ingest([archive_copy])
    assert not kept.of("removed") and IndexStore(settings).catalog.counts()[0] == 3
    pruned = Ingestor(settings, embedder).ingest([archive_copy], prune=True)
    assert len(pruned.of("removed")) == 1
    catalog = IndexStore(settings).catalog
    assert [m.date for m in catalog.meetings()] == ["2024-09-02", "2024-09-20"]
    assert stored_ids(settings) == catalog.chunk_ids()


def test_bad_file_fails_alone(tmp_path, archive_copy, embedder):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    (archive_copy / "empty.txt").write_text("")
    report = Ingestor(settings, embedder).ingest([archive_copy])
    assert [Path(r.path).name for r in report.failed] == ["empty.txt"]
    assert "empty.txt" in report.failed[0].detail or report.failed[0].path.endswith("empty.txt")
    assert len(report.of("added")) == 3


def test_failure_mid_write_leaves_the_old_meeting_whole(
    tmp_path, archive_copy, embedder, monkeypatch
):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    Ingestor(settings, embedder).ingest([archive_copy])
    catalog = IndexStore(settings).catalog
    old = {m.id: m.model_dump() for m in catalog.meetings()}
    old_chunks = catalog.chunk_ids()

    def explode(self, db, path, meeting, chunks, **_):
        db.execute("DELETE FROM chunks WHERE meeting_id=?", (meeting.id,))
        raise OSError("disk full (injected)")

    monkeypatch.setattr(Catalog, "put_meeting", explode)
    target = archive_copy / "002_38b18e688a9d200f.txt"
    target.write_text(target.read_text().replace("prudent", "wise"))
    with pytest.raises(OSError, match="injected"):
        Ingestor(settings, embedder).ingest([archive_copy])
    monkeypatch.undo()

    catalog = IndexStore(settings).catalog
    assert {m.id: m.model_dump() for m in catalog.meetings()} == old
    assert catalog.chunk_ids() == old_chunks
    assert stored_ids(settings) == old_chunks
    assert "prudent" in catalog.meeting(next(i for i in old if i.startswith("2025"))).text


def test_vectors_carry_filterable_metadata(sample_index):
    store = IndexStore(sample_index)
    got = store.collection.get(where={"date_int": {"$gte": 20250101}}, include=["metadatas"])
    assert got["ids"]
    meta = got["metadatas"][0]
    assert meta["date"] == "2025-01-28" and meta["date_int"] == 20250128
    for key in (
        "meeting_id",
        "title",
        "kind",
        "item_number",
        "item_heading",
        "source",
        "start",
        "end",
    ):
        assert key in meta
    assert meta["source"].endswith(".txt") and "/" not in meta["source"]


def test_one_meeting_in_three_formats_is_one_meeting(tmp_path, embedder, capsys):
    """The txt, docx and pdf of one set of minutes: one meeting, the other two reported as
    duplicates of the first, and no row of the register repeated."""
    archive = tmp_path / "archive"
    archive.mkdir()
    txt = archive / "a_minutes.txt"
    shutil.copy(ONE_TO_ONE_JAN, txt)
    write_docx(ONE_TO_ONE_JAN, archive / "b_minutes.docx")
    write_pdf(ONE_TO_ONE_JAN, archive / "c_minutes.pdf")
    settings = make_settings(tmp_path, archive_dir=archive)
    report = Ingestor(settings, embedder).ingest([archive])
    assert [Path(r.path).name for r in report.of("added")] == ["a_minutes.txt"]
    duplicates = report.of("duplicate")
    assert [Path(r.path).name for r in duplicates] == ["b_minutes.docx", "c_minutes.pdf"]
    assert all(str(txt.resolve()) in r.detail for r in duplicates)
    catalog = IndexStore(settings).catalog
    assert catalog.counts()[0] == 1
    entries = build_register(catalog.meetings())
    rows = [(e.meeting_date, e.kind, e.text) for e in entries]
    assert rows and len(rows) == len(set(rows))
    assert len(entries) == len(build_register([parse_file(txt)]))

    again = Ingestor(settings, embedder).ingest([archive])
    assert len(again.of("duplicate")) == 2 and IndexStore(settings).catalog.counts()[0] == 1


def test_show_a_date_with_two_meetings_lists_both(tmp_path, archive_copy, embedder, capsys):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    other = archive_copy / "board_same_day.txt"
    text = (archive_copy / "000_9a374a5a77b903e1.txt").read_text(encoding="utf-8")
    other.write_text(
        text.replace("20<sup>TH</sup> SEPTEMBER", "2<sup>ND</sup> SEPTEMBER"), encoding="utf-8"
    )
    Ingestor(settings, embedder).ingest([archive_copy])
    on_the_day = IndexStore(settings).catalog.meetings_on("2024-09-02")
    assert len(on_the_day) == 2
    assert show(argparse.Namespace(meeting="2024-09-02", json=False), settings) == 0
    printed = capsys.readouterr().out
    assert all(meeting.id in printed for meeting in on_the_day)
    assert show(argparse.Namespace(meeting=on_the_day[0].id, json=False), settings) == 0
    assert f"read as: {len(on_the_day[0].items)} items, numbered" in capsys.readouterr().out
