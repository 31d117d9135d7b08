"""What one web-app process shares, and the steps its handlers take: the index, the answer
and briefing engines, uploads, and turning form values into filters. Nothing here imports
Gradio, so every step can be tested without a browser."""

from __future__ import annotations

import queue
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from core.errors import NotFoundError, UsageError
from core.markings import clearance_level, marking_level
from core.settings import Settings
from index.ingest import Ingestor, IngestReport, Progress
from index.models import AgendaItem, Meeting
from index.store import IndexStore
from index.vectors import fill_vectors
from rag.answer import AnswerEngine
from rag.backends.base import Backend
from rag.briefing.engine import BriefingEngine
from rag.briefing.models import Briefing
from rag.filters import iso_day
from rag.models import Answer, Citation, Filters
from rag.register import RegisterEntry, build_register
from rag.retrieve import HybridRetriever
from rag.watch import DigestEntry, Watchlist, new_meeting_ids, record_new_meetings
from web.auth import Accounts


class Services:
    """The library objects one app process shares: the index, the answer engines, the ingestor.

    ``exclusive()`` is the one-job-at-a-time guarantee: answering, briefing and ingesting take
    it, whether the page (Gradio's queue) or the JSON API asked, so one model on two cores
    never runs two jobs at once.
    """

    def __init__(self, settings: Settings, accounts: Accounts | None = None) -> None:
        self.settings = settings
        self.accounts = accounts
        self.retriever = HybridRetriever(settings, IndexStore(settings))
        self.ingestor = Ingestor(settings, self.retriever.embedder)
        self.watchlist = Watchlist(settings.index_path)
        self._engine_lock = threading.Lock()
        self._exports = tempfile.TemporaryDirectory(prefix="quorum-exports-")  # gone at exit
        self._retrievers: dict[str, HybridRetriever] = {settings.clearance: self.retriever}
        self._backends: dict[str, Backend] = {}
        self._engines: dict[tuple[str, str], AnswerEngine] = {}
        self._briefers: dict[tuple[str, str], BriefingEngine] = {}
        self._registers: dict[str, tuple[int, list[RegisterEntry]]] = {}

    def clearance(self, user: str | None) -> str:
        """What a signed-in user may see; without --auth, the server's own clearance."""
        return self.accounts.clearance_of(user) if self.accounts else self.settings.clearance

    def retriever_for(self, clearance: str | None = None) -> HybridRetriever:
        """The index as one clearance sees it (one retriever per level, sharing the embedder)."""
        clearance = clearance or self.settings.clearance
        if clearance not in self._retrievers:
            self._retrievers[clearance] = self.retriever.cleared(clearance)
        return self._retrievers[clearance]

    @property
    def uploads(self) -> Path:
        return self.settings.data_dir / "uploads"

    def warm_up(self) -> None:
        """Load the embedder, BM25 and the configured backend's model before the first user."""
        self.engine(self.settings.llm)

    def engine(self, backend: str, clearance: str | None = None) -> AnswerEngine:
        """One engine per backend and clearance; all clearances share one loaded model, and
        each engine warms up once, on first use."""
        clearance = clearance or self.settings.clearance
        key = (backend, clearance)
        if key not in self._engines:
            settings = self.settings.with_overrides(llm=backend, clearance=clearance)
            engine = AnswerEngine(
                settings, self.retriever_for(clearance), self._backends.get(backend)
            )
            engine.warm_up()
            self._backends[backend] = engine.backend
            self._engines[key] = engine
        return self._engines[key]

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the engine: one generation, briefing or ingest at a time in this process."""
        with self._engine_lock:
            yield

    def ingest(
        self, paths: list[Path], progress: Progress | None = None
    ) -> tuple[IngestReport, list[DigestEntry]]:
        """Index files (one job at a time), then record what the new meetings raise on
        watched topics."""
        with self.exclusive():
            report = self.ingestor.ingest(paths, progress=progress)
            entries = record_new_meetings(
                self.watchlist, self.retriever, new_meeting_ids(report.results)
            )
        self.start_vector_pass()
        return report, entries

    def start_vector_pass(self) -> threading.Thread | None:
        """With ``vector_pass=background``, fill pending MiniLM vectors on a thread of this
        process (sharing its loaded model); answers go on meanwhile, from BM25 and the vectors
        already there."""
        if self.settings.vector_pass != "background":
            return None
        thread = threading.Thread(target=self._fill_vectors, name="quorum-vectors", daemon=True)
        thread.start()
        return thread

    def _fill_vectors(self) -> None:
        try:
            fill_vectors(IndexStore(self.settings), self.retriever.embedder)
        except Exception as exc:  # nothing is lost: the chunks stay pending for the next pass
            print(f"quorum: second vector pass stopped: {exc}", file=sys.stderr)

    def digest(self, since: str | None, clearance: str | None = None) -> list[DigestEntry]:
        """Watch digest entries found since a date, less any that quote minutes marked above
        ``clearance``."""
        ceiling = clearance_level(clearance or self.settings.clearance)
        return [
            entry
            for entry in self.watchlist.entries(since)
            if all(marking_level(quote.marking) <= ceiling for quote in entry.quotes)
        ]

    def briefer(self, backend: str, clearance: str | None = None) -> BriefingEngine:
        """A briefing engine on the same retriever and the same loaded model as the answers."""
        engine = self.engine(backend, clearance)
        key = (backend, engine.settings.clearance)
        if key not in self._briefers:
            self._briefers[key] = BriefingEngine(engine.settings, engine.retriever, engine.backend)
        return self._briefers[key]

    def meetings(self, clearance: str | None = None) -> list[Meeting]:
        return self.retriever_for(clearance).meetings()

    def meeting(self, meeting_id: str, clearance: str | None = None) -> Meeting:
        return self.retriever_for(clearance).meeting(meeting_id)

    def register(self, clearance: str | None = None) -> list[RegisterEntry]:
        """The register a clearance may see, rebuilt only when the index changed."""
        clearance = clearance or self.settings.clearance
        generation = self.retriever.store.catalog.generation
        built, entries = self._registers.get(clearance, (-1, []))
        if built != generation:
            entries = build_register(self.meetings(clearance))
            self._registers[clearance] = (generation, entries)
        return entries

    def export_path(self, name: str) -> Path:
        """Where to write a download: its own folder, so concurrent exports never overwrite."""
        return Path(tempfile.mkdtemp(dir=self._exports.name)) / name

    def export(self, name: str, text: str) -> Path:
        path = self.export_path(name)
        path.write_text(text, encoding="utf-8")
        return path


def form_filters(date_from: str | None, date_to: str | None, kinds: list[str] | None) -> Filters:
    start, end = iso_day(date_from, "From"), iso_day(date_to, "To")
    notes = [f"dates from the form: {start or '…'} to {end or '…'}"] if start or end else []
    return Filters(date_from=start, date_to=end, kinds=kinds or [], notes=notes)


def stream_answer(engine: AnswerEngine, question: str, filters: Filters) -> Iterator[str | Answer]:
    """The answer quoted from the minutes as soon as it is ready (``provisional``), the draft
    so far each time the model writes more, then the verified Answer.

    The engine runs on a worker thread and hands updates over a queue, so the page can show
    them while the model writes; the extractive backend yields only the Answer.
    """
    updates: queue.Queue[str | Answer | None] = queue.Queue()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quorum-ask") as pool:
        future = pool.submit(engine.ask, question, filters, updates.put, updates.put)
        future.add_done_callback(lambda _: updates.put(None))
        draft = ""
        for update in queued_updates(updates):
            if isinstance(update, str):
                draft += update
                yield draft
            else:
                yield update
        yield future.result()


def queued_updates(updates: queue.Queue[str | Answer | None]) -> Iterator[str | Answer]:
    """Draft deltas joined with whatever text already waits (a fast model does not flood the
    page), and provisional answers as they come, until the end marker None."""
    while True:
        parts = [updates.get()]
        while isinstance(parts[-1], str) and not updates.empty():
            parts.append(updates.get_nowait())
        text = "".join(part for part in parts if isinstance(part, str))
        if text:
            yield text
        if isinstance(parts[-1], Answer):
            yield parts[-1]
        if parts[-1] is None:
            return


def cited_item(meetings: list[Meeting], citation: Citation) -> tuple[Meeting, AgendaItem]:
    """The meeting and agenda item a citation quotes, checked against the current index."""
    for meeting in meetings:
        if meeting.source != citation.source or meeting.title != citation.meeting:
            continue
        if meeting.text[citation.start : citation.end] != citation.quote:
            continue
        for item in meeting.items:
            if item.start <= citation.start < item.end:
                return meeting, item
    raise NotFoundError("these minutes have changed since the answer was given: ask again")


def make_briefing(
    services: Services,
    backend: str,
    kind: str,
    meeting_id: str | None,
    topic: str,
    of_kind: str,
    clearance: str | None = None,
) -> Briefing:
    """The briefing the form asks for: of one meeting, of a topic, or since the last meeting."""
    targets = {"meeting": meeting_id, "topic": topic, "since": of_kind}
    if not targets[kind]:
        raise UsageError(
            f"choose what to brief on ({'the meeting' if kind == 'meeting' else kind})"
        )
    target = services.meeting(meeting_id, clearance) if kind == "meeting" else targets[kind]
    return services.briefer(backend, clearance).brief(kind, target)


def copy_upload(path: Path, uploads: Path) -> Path:
    """Copy an uploaded file into the uploads folder under its own name.

    A different file already there under that name keeps it (the new one gets ``-2``, ``-3``…),
    so an upload can never replace a meeting already indexed; the same bytes reuse the copy.
    """
    uploads.mkdir(parents=True, exist_ok=True)
    data = path.read_bytes()
    target, n = uploads / path.name, 1
    while target.exists() and target.read_bytes() != data:
        n += 1
        target = uploads / f"{path.stem}-{n}{path.suffix}"
    target.write_bytes(data)
    return target


def discard_unindexed(report: IngestReport, copies: list[Path]) -> None:
    """Delete the copies of uploads that did not become meetings (failed or duplicate)."""
    kept = {r.path for r in report.results if r.status in ("added", "updated", "unchanged")}
    for copy in copies:
        if str(copy) not in kept:
            copy.unlink(missing_ok=True)
