"""The Quorum web app: a thin Gradio shell over ``rag/`` and ``index/``.

Every handler parses what the page sends, calls the library and formats what comes back.
Minutes text reaches the page only through :func:`esc`: it is shown as text, never as HTML.
A QuorumError becomes a ``gr.Error`` here, at the edge, and nowhere else.

Start it with ``python app.py`` or ``quorum serve`` (same flags: ``--host``, ``--port``,
``--auth FILE``, ``--llm``, ``--index``). It binds 127.0.0.1 unless told otherwise.

Login (``--auth FILE``): one user a line, ``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH`` where
SALT and HASH are hex and HASH is PBKDF2-HMAC-SHA256 of the password; blank lines and lines
starting with ``#`` are ignored. ``quorum hash-password USER`` prints such a line.
"""

from __future__ import annotations

import os

# Before gradio is imported: it reads these when it loads.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"

import contextlib
import hashlib
import hmac
import html
import queue
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import gradio as gr

from core.errors import ConfigError, NotFoundError, QuorumError, UsageError
from core.settings import Settings
from index.ingest import FileResult, Ingestor, IngestReport
from index.models import AgendaItem, Meeting
from index.readers import SUPPORTED_SUFFIXES
from index.store import IndexStore
from rag.answer import AnswerEngine
from rag.backends import backend_names
from rag.briefing.engine import BriefingEngine
from rag.briefing.models import Briefing
from rag.briefing.render import bullet_note, footnotes, reference, render_markdown
from rag.docx_export import write_docx
from rag.filters import in_scope
from rag.models import Answer, Citation, Filters
from rag.register import (
    STATUSES,
    RegisterEntry,
    build_register,
    filter_register,
    owner_label,
    render_register,
)
from rag.retrieve import HybridRetriever

EXAMPLES = [
    "What did we agree on the Neighbourhood Policing Guarantee?",
    "How many officers were dismissed for gross misconduct in 2024?",
    "What did the PCC ask for on prevention at the September 2024 board?",
    "What actions came out of the HMICFRS PEEL report?",
]
ENGINE_QUEUE = "engine"  # answers, uploads and briefings share one worker: one model, 2 cores
QUEUE_SIZE = 16
MAX_UPLOAD = "25mb"
HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000
ANY_STATUS = "any"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MEETING_COLUMNS = ["Date", "Kind", "Title", "Items", "Decisions", "Actions", "Id"]
REGISTER_COLUMNS = [
    "Date",
    "Meeting",
    "Item",
    "Kind",
    "Owner",
    "Due",
    "Status",
    "Text",
    "Closed by",
]

CSS = """
.q-answer { font-size: 1.05rem; line-height: 1.6; }
.q-ref { font-weight: 600; color: var(--color-accent); }
.q-draft { color: var(--body-text-color-subdued); font-style: italic; }
.q-note { color: var(--body-text-color-subdued); font-size: 0.9rem; }
.q-text { white-space: pre-wrap; max-height: 30rem; overflow-y: auto; padding: 0.75rem;
          border: 1px solid var(--border-color-primary); border-radius: 6px;
          background: var(--background-fill-secondary); line-height: 1.5; }
.q-text mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.q-meeting table { width: 100%; border-collapse: collapse; margin-bottom: 1rem; }
.q-meeting th, .q-meeting td { text-align: left; padding: 4px 8px;
          border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.q-meeting details { margin: 0.25rem 0; }
.q-meeting summary { cursor: pointer; font-weight: 600; }
.q-failed { color: var(--error-text-color); font-weight: 600; }
/* Gradio 6.31's date box is wider than its column: its calendar button was cut off. */
.timebox input { min-width: 0; width: auto; flex: 1 1 0; }
"""


def esc(text: str) -> str:
    """Minutes text as inert HTML text: every tag in the source is shown, never rendered."""
    return html.escape(text, quote=True)


@contextlib.contextmanager
def shown_to_user() -> Iterator[None]:
    """Show Quorum's own errors in the page (escaped: Gradio renders toasts as HTML, and a
    message may quote a file name or the minutes); anything else is a bug and stays a 500."""
    try:
        yield
    except QuorumError as exc:
        raise gr.Error(esc(str(exc))) from None


class Services:
    """The library objects one app process shares: the index, the answer engines, the ingestor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.retriever = HybridRetriever(settings, IndexStore(settings))
        self.ingestor = Ingestor(settings, self.retriever.embedder)
        self._exports = tempfile.TemporaryDirectory(prefix="quorum-exports-")  # gone at exit
        self._engines: dict[str, AnswerEngine] = {}
        self._briefers: dict[str, BriefingEngine] = {}
        self._register: tuple[int, list[RegisterEntry]] = (-1, [])

    @property
    def uploads(self) -> Path:
        return self.settings.data_dir / "uploads"

    def warm_up(self) -> None:
        """Load the embedder, BM25 and the configured backend's model before the first user."""
        self.engine(self.settings.llm)

    def engine(self, backend: str) -> AnswerEngine:
        """One engine per backend, all on one retriever; each warms up once, on first use."""
        if backend not in self._engines:
            engine = AnswerEngine(self.settings.with_overrides(llm=backend), self.retriever)
            engine.warm_up()
            self._engines[backend] = engine
        return self._engines[backend]

    def briefer(self, backend: str) -> BriefingEngine:
        """A briefing engine on the same retriever and the same loaded model as the answers."""
        if backend not in self._briefers:
            engine = self.engine(backend)
            self._briefers[backend] = BriefingEngine(
                engine.settings, self.retriever, engine.backend
            )
        return self._briefers[backend]

    def meetings(self) -> list[Meeting]:
        return self.retriever.meetings()

    def meeting(self, meeting_id: str) -> Meeting:
        return self.retriever.meeting(meeting_id)

    def register(self) -> list[RegisterEntry]:
        """The register, rebuilt only when the index changed since the last build."""
        generation = self.retriever.store.catalog.generation
        if self._register[0] != generation:
            self._register = (generation, build_register(self.meetings()))
        return self._register[1]

    def export_path(self, name: str) -> Path:
        """Where to write a download: its own folder, so concurrent exports never overwrite."""
        return Path(tempfile.mkdtemp(dir=self._exports.name)) / name

    def export(self, name: str, text: str) -> Path:
        path = self.export_path(name)
        path.write_text(text, encoding="utf-8")
        return path


# ---------------------------------------------------------------- parsing what the page sends


def iso_day(value: str | None, field: str) -> str | None:
    """A date field's value as YYYY-MM-DD, or None when it is empty."""
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise UsageError(f"{field}: {value.strip()!r} is not a date (YYYY-MM-DD)") from None


def form_filters(date_from: str | None, date_to: str | None, kinds: list[str] | None) -> Filters:
    start, end = iso_day(date_from, "From"), iso_day(date_to, "To")
    notes = [f"dates from the form: {start or '…'} to {end or '…'}"] if start or end else []
    return Filters(date_from=start, date_to=end, kinds=kinds or [], notes=notes)


# ---------------------------------------------------------------- asking


def stream_answer(engine: AnswerEngine, question: str, filters: Filters) -> Iterator[str | Answer]:
    """The draft so far each time the model writes more, then the verified Answer.

    The engine runs on a worker thread and hands tokens over a queue, so the page can show
    the draft while the model writes; backends that write no draft yield only the Answer.
    """
    tokens: queue.Queue[str | None] = queue.Queue()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quorum-ask") as pool:
        future = pool.submit(engine.ask, question, filters, tokens.put)
        future.add_done_callback(lambda _: tokens.put(None))
        draft = ""
        for text in token_batches(tokens):
            draft += text
            yield draft
        yield future.result()


def token_batches(tokens: queue.Queue[str | None]) -> Iterator[str]:
    """Deltas joined with whatever else already waits (a fast model does not flood the page),
    until the end marker None."""
    while True:
        parts = [tokens.get()]
        while parts[-1] is not None and not tokens.empty():
            parts.append(tokens.get_nowait())
        text = "".join(part for part in parts if part is not None)
        if text:
            yield text
        if parts[-1] is None:
            return


def draft_html(draft: str) -> str:
    return (
        '<p class="q-note">Drafting — not yet checked against the minutes…</p>'
        f'<p class="q-answer q-draft">{esc(draft)}</p>'
    )


def with_refs(text: str) -> str:
    """Escaped text whose [n] citation markers stand out."""
    return re.sub(r"\[(\d+)\]", r'<sup class="q-ref">[\1]</sup>', esc(text))


def answer_html(answer: Answer) -> str:
    if answer.abstained:
        return abstention_html(answer)
    text = with_refs(answer.answer)
    seconds = answer.timings.get("total", 0.0)
    return (
        f'<p class="q-answer">{text}</p>'
        '<p class="q-note">Each sentence above was checked against the passage it cites; open '
        f"a source below to read it in place. ({esc(answer.backend)}, {seconds:.1f} s)</p>"
    )


def abstention_html(answer: Answer) -> str:
    searched = "".join(
        f"<li>{esc(m.meeting)} — {esc(m.date or 'undated')}</li>" for m in answer.searched
    )
    return (
        f'<p class="q-answer">{esc(answer.answer)}</p>'
        f'<p class="q-note">Meetings searched:</p><ul class="q-searched">{searched}</ul>'
    )


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


def quoted_item_html(meeting: Meeting, item: AgendaItem, start: int, end: int) -> str:
    """The whole agenda item as text, with the quoted span marked."""
    end = min(end, item.end)
    before = meeting.text[item.start : start]
    quote = meeting.text[start:end]
    after = meeting.text[end : item.end]
    return (
        f"<h4>{esc(meeting.title)} — {esc(meeting.date or 'undated')} — {esc(item.label)}</h4>"
        f'<div class="q-text">{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}</div>'
        f'<p class="q-note">Source file: {esc(meeting.source)}</p>'
    )


# ---------------------------------------------------------------- meetings


def meeting_label(meeting: Meeting) -> str:
    return f"{meeting.date or 'undated'} — {meeting.title}"


def meeting_rows(meetings: list[Meeting]) -> dict[str, object]:
    rows = [
        [
            m.date or "undated",
            m.kind,
            m.title,
            len(m.items),
            sum(o.kind == "decision" for o in m.outcomes),
            sum(o.kind == "action" for o in m.outcomes),
            m.id,
        ]
        for m in meetings
    ]
    return {"headers": MEETING_COLUMNS, "data": rows}


def meeting_html(meeting: Meeting) -> str:
    return (
        '<div class="q-meeting">'
        + meeting_header_html(meeting)
        + attendees_html(meeting)
        + items_html(meeting)
        + outcomes_html(meeting)
        + "</div>"
    )


def meeting_header_html(meeting: Meeting) -> str:
    facts = [
        ("Kind", meeting.kind),
        ("Date", meeting.date or "undated"),
        ("Time", meeting.time),
        ("Venue", meeting.venue),
        ("Marking", meeting.marking),
        ("Source file", meeting.source),
    ]
    listed = "".join(f"<li><b>{name}:</b> {esc(value)}</li>" for name, value in facts if value)
    return f"<h3>{esc(meeting.title)}</h3><ul>{listed}</ul>"


def attendees_html(meeting: Meeting) -> str:
    rows = "".join(
        f"<tr><td>{esc(p.name)}</td><td>{esc(p.initials or '')}</td>"
        f"<td>{esc(p.role or '')}</td><td>{esc(p.status)}</td></tr>"
        for p in meeting.attendees
    )
    head = "<tr><th>Name</th><th>Initials</th><th>Role</th><th>Status</th></tr>"
    return f"<h4>Attendees</h4><table>{head}{rows}</table>"


def items_html(meeting: Meeting) -> str:
    items = "".join(
        f"<details><summary>{esc(item.label)}"
        f"{' (closed session)' if item.session == 'closed' else ''}</summary>"
        f'<div class="q-text">{esc(item.text)}</div></details>'
        for item in meeting.items
    )
    return f"<h4>Agenda items</h4>{items}"


def outcomes_html(meeting: Meeting) -> str:
    if not meeting.outcomes:
        return "<h4>Decisions and actions</h4><p>None recorded.</p>"
    rows = "".join(
        f"<tr><td>{o.kind}</td><td>{esc(o.item_number)}</td>"
        f"<td>{esc(o.owner_name or o.owner or '')}</td><td>{esc(o.text)}</td></tr>"
        for o in meeting.outcomes
    )
    head = "<tr><th>Kind</th><th>Item</th><th>Owner</th><th>Text</th></tr>"
    return f"<h4>Decisions and actions</h4><table>{head}{rows}</table>"


def archive_summary(meetings: list[Meeting]) -> str:
    dated = sorted(m.date for m in meetings if m.date)
    span = f", {dated[0]} to {dated[-1]}" if dated else ""
    return f"**{len(meetings)} meetings** in the archive{span}."


# ---------------------------------------------------------------- briefings


def make_briefing(
    services: Services, backend: str, kind: str, meeting_id: str | None, topic: str, of_kind: str
) -> Briefing:
    """The briefing the form asks for: of one meeting, of a topic, or since the last meeting."""
    targets = {"meeting": meeting_id, "topic": topic, "since": of_kind}
    if not targets[kind]:
        raise UsageError(
            f"choose what to brief on ({'the meeting' if kind == 'meeting' else kind})"
        )
    target = services.meeting(meeting_id) if kind == "meeting" else targets[kind]
    return services.briefer(backend).brief(kind, target)


def briefing_html(briefing: Briefing) -> str:
    parts = [f"<h3>{esc(briefing.title)}</h3>"]
    for section in briefing.sections:
        bullets = "".join(
            f"<li>{with_refs(bullet.text)}"
            + (f' <span class="q-note">{esc(bullet_note(bullet))}</span>' if bullet.note else "")
            + "</li>"
            for bullet in section.bullets
        )
        parts.append(f"<h4>{esc(section.heading)}</h4><ul>{bullets}</ul>")
    if briefing.citations:
        references = "".join(f"<li>{esc(reference(c))}</li>" for c in briefing.citations)
        parts.append(f"<h4>References</h4><ul>{references}</ul>")
    parts += [f'<p class="q-note">{esc(note)}</p>' for note in footnotes(briefing)]
    return "".join(parts)


def file_stem(title: str) -> str:
    """A download's file name from a briefing title: "briefing-1-1-pcc-john-tizard…"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "briefing"


# ---------------------------------------------------------------- register


def register_rows(entries: list[RegisterEntry]) -> dict[str, object]:
    rows = [
        [
            e.meeting_date or "undated",
            e.meeting_title,
            e.item,
            e.kind,
            owner_label(e),
            e.due or "",
            e.status,
            e.text,
            e.closed_by or "",
        ]
        for e in entries
    ]
    return {"headers": REGISTER_COLUMNS, "data": rows}


# ---------------------------------------------------------------- uploads


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


def file_outcome(result: FileResult) -> str:
    """ "empty.txt: empty file" — the file by name (the server's folders are not the user's
    business) and what happened to it."""
    detail = result.detail.removeprefix(f"{result.path}: ")
    name = Path(result.path).name
    return f"{name}: {detail}" if detail else name


def ingest_report_html(report: IngestReport) -> str:
    rows = "".join(
        f'<li><span class="{"q-failed" if r.status == "failed" else ""}">{esc(r.status)}</span>'
        f" — {esc(file_outcome(r))}</li>"
        for r in report.results
    )
    return f"<p>{esc(report.summary())}.</p><ul>{rows}</ul>"


# ---------------------------------------------------------------- login


def hash_password(password: str, iterations: int = HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (hex) for an ``--auth`` file."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    scheme, iterations, salt, digest = encoded.split("$")
    found = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return scheme == HASH_SCHEME and hmac.compare_digest(found.hex(), digest)


def load_users(path: Path) -> dict[str, str]:
    """``USER:pbkdf2_sha256$ITERATIONS$SALT$HASH`` lines; see the module docstring."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the auth file ({exc.strerror})") from None
    users = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, _, encoded = line.strip().partition(":")
        if not user or not re.fullmatch(rf"{HASH_SCHEME}\$\d+\$[0-9a-f]+\$[0-9a-f]+", encoded):
            raise ConfigError(
                f"{path}:{number}: expected USER:{HASH_SCHEME}$ITERATIONS$SALT$HASH "
                "(make one with `quorum hash-password USER`)"
            )
        users[user] = encoded
    if not users:
        raise ConfigError(f"{path}: no users in the auth file")
    return users


def password_checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """Gradio's ``auth`` callback. Unknown users cost a hash too, so timing hides who exists."""
    decoy = hash_password(secrets.token_hex(8))

    def check(user: str, password: str) -> bool:
        return verify_password(password, users.get(user, decoy)) and user in users

    return check


# ---------------------------------------------------------------- the page


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="Quorum", analytics_enabled=False) as demo:
        gr.Markdown("# Quorum\nCited answers, briefings and registers from the minutes.")
        summary = gr.Markdown(elem_id="archive-summary")
        with gr.Tab("Ask", id="ask"):
            ask_kinds = ask_tab(services)
        with gr.Tab("Meetings", id="meetings"):
            meeting_table, meeting_pick, meeting_kinds = meetings_tab(services)
        with gr.Tab("Briefings", id="briefings"):
            brief_meeting, brief_kind = briefings_tab(services)
        with gr.Tab("Register", id="register") as register:
            register_tab(services, register)
        with gr.Tab("Upload", id="upload"):
            upload_button = upload_tab(services)
        archive_views = [
            summary,
            ask_kinds,
            meeting_kinds,
            brief_kind,
            meeting_table,
            meeting_pick,
            brief_meeting,
        ]

        def refresh_archive_views() -> tuple:
            meetings = services.meetings()
            kinds = gr.update(choices=sorted({m.kind for m in meetings}))
            choices = gr.update(choices=[(meeting_label(m), m.id) for m in meetings])
            rows = meeting_rows(meetings)
            return archive_summary(meetings), kinds, kinds, kinds, rows, choices, choices

        demo.load(refresh_archive_views, outputs=archive_views, api_visibility="private")
        upload_button.then(refresh_archive_views, outputs=archive_views, api_visibility="private")
    return demo


def default_backend(services: Services) -> str:
    names = backend_names()
    return services.settings.llm if services.settings.llm in names else names[0]


def ask_tab(services: Services) -> gr.Dropdown:
    with gr.Row():
        with gr.Column(scale=3):
            question = gr.Textbox(
                label="Question", lines=2, elem_id="question", placeholder=EXAMPLES[0]
            )
            ask_button = gr.Button("Ask", variant="primary", elem_id="ask-button")
        with gr.Column(scale=2):
            backend = gr.Radio(
                backend_names(),
                value=default_backend(services),
                label="Answer with",
                info="extractive: quotes only · local: the bundled model · openai: your server",
            )
            with gr.Accordion("Only search some meetings", open=False):
                kinds = gr.Dropdown(label="Meeting kind", multiselect=True, choices=[])
                date_from = gr.DateTime(label="From", include_time=False, type="string")
                date_to = gr.DateTime(label="To", include_time=False, type="string")
    gr.Examples(EXAMPLES, inputs=question, label="Try one of these")
    answer_view = gr.HTML(elem_id="answer", padding=True)
    answer_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            sources = gr.Radio(
                label="Sources (open one to read it in the minutes)",
                choices=[],
                elem_id="sources",
                visible=False,
            )
        with gr.Column(scale=3):
            citation_view = gr.HTML(elem_id="citation", padding=True)

    def ask(question_text: str, backend_name: str, start, end, kind_list) -> Iterator[tuple]:
        if not question_text.strip():
            raise gr.Error("Type a question first.")
        with shown_to_user():
            filters = form_filters(start, end, kind_list)
            engine = services.engine(backend_name)
            for update in stream_answer(engine, question_text, filters):
                if isinstance(update, str):
                    yield draft_html(update), gr.update(visible=False), None, ""
                else:
                    choices = [(reference(c), c.n) for c in update.citations]
                    sources_update = gr.update(choices=choices, value=None, visible=bool(choices))
                    yield answer_html(update), sources_update, update, ""

    def open_citation(n: int | None, answer: Answer | None) -> str:
        if n is None or answer is None:
            return ""
        citation = next(c for c in answer.citations if c.n == n)
        with shown_to_user():
            meeting, item = cited_item(services.meetings(), citation)
        return quoted_item_html(meeting, item, citation.start, citation.end)

    gr.on(
        [ask_button.click, question.submit],
        ask,
        inputs=[question, backend, date_from, date_to, kinds],
        outputs=[answer_view, sources, answer_state, citation_view],
        concurrency_id=ENGINE_QUEUE,
        api_visibility="private",
    )
    sources.change(
        open_citation,
        inputs=[sources, answer_state],
        outputs=citation_view,
        api_visibility="private",
    ).then(
        fn=None,
        js="() => document.querySelector('#citation mark')?.scrollIntoView("
        "{block: 'center', behavior: 'smooth'})",
    )
    return kinds


def meetings_tab(services: Services) -> tuple[gr.Dataframe, gr.Dropdown, gr.Dropdown]:
    with gr.Row():
        kinds = gr.Dropdown(label="Meeting kind", multiselect=True, choices=[], scale=2)
        date_from = gr.DateTime(label="From", include_time=False, type="string", scale=1)
        date_to = gr.DateTime(label="To", include_time=False, type="string", scale=1)
        show = gr.Button("Filter", scale=0)
    table = gr.Dataframe(
        headers=MEETING_COLUMNS,
        interactive=False,
        wrap=True,
        column_widths=["9%", "18%", "33%", "7%", "9%", "8%", "16%"],
        elem_id="meeting-table",
        label="Meetings (click a row to open it)",
    )
    pick = gr.Dropdown(label="Open a meeting", choices=[], elem_id="meeting-pick")
    view = gr.HTML(elem_id="meeting-view", padding=True)

    def listed(start, end, kind_list) -> tuple:
        with shown_to_user():
            filters = form_filters(start, end, kind_list)
        meetings = [m for m in services.meetings() if in_scope(m, filters)]
        choices = [(meeting_label(m), m.id) for m in meetings]
        return meeting_rows(meetings), gr.update(choices=choices, value=None)

    def opened(meeting_id: str | None) -> str:
        if not meeting_id:
            return ""
        with shown_to_user():
            return meeting_html(services.meeting(meeting_id))

    def row_clicked(event: gr.SelectData) -> str:
        return event.row_value[MEETING_COLUMNS.index("Id")]

    show.click(listed, [date_from, date_to, kinds], [table, pick], api_visibility="private")
    table.select(row_clicked, None, pick, api_visibility="private")
    pick.change(opened, pick, view, api_visibility="private")
    return table, pick, kinds


def briefings_tab(services: Services) -> tuple[gr.Dropdown, gr.Dropdown]:
    with gr.Row():
        with gr.Column(scale=2):
            kind = gr.Radio(
                [
                    ("One meeting", "meeting"),
                    ("A topic across meetings", "topic"),
                    ("Since the last meeting of a kind", "since"),
                ],
                value="meeting",
                label="Brief on",
                elem_id="brief-kind",
            )
            meeting = gr.Dropdown(label="Meeting", choices=[], elem_id="brief-meeting")
            topic = gr.Textbox(label="Topic", visible=False, placeholder="e.g. prevention")
            of_kind = gr.Dropdown(label="Meeting kind", choices=[], visible=False)
        with gr.Column(scale=1):
            backend = gr.Radio(backend_names(), value=default_backend(services), label="Write with")
            write = gr.Button("Write briefing", variant="primary", elem_id="brief-button")
            with gr.Row():
                download_docx = gr.DownloadButton(
                    "Download .docx", interactive=False, elem_id="brief-docx", size="md"
                )
                download_md = gr.DownloadButton(
                    "Download .md", interactive=False, elem_id="brief-md", size="md"
                )
    preview = gr.HTML(elem_id="brief-preview", padding=True)

    def shown_fields(chosen: str) -> tuple:
        return tuple(gr.update(visible=chosen == name) for name in ("meeting", "topic", "since"))

    def written(backend_name: str, chosen: str, meeting_id, topic_text: str, kind_name) -> tuple:
        with shown_to_user():
            briefing = make_briefing(
                services, backend_name, chosen, meeting_id, topic_text, kind_name
            )
            stem = file_stem(briefing.title)
            word = write_docx(briefing, services.export_path(f"{stem}.docx"))
        markdown = services.export(f"{stem}.md", render_markdown(briefing))
        ready = [gr.update(value=path, interactive=True) for path in (word, markdown)]
        return briefing_html(briefing), *ready

    kind.change(shown_fields, kind, [meeting, topic, of_kind], api_visibility="private")
    write.click(
        written,
        [backend, kind, meeting, topic, of_kind],
        [preview, download_docx, download_md],
        concurrency_id=ENGINE_QUEUE,
        api_visibility="private",
    )
    return meeting, of_kind


def register_tab(services: Services, tab: gr.Tab) -> None:
    with gr.Row():
        since = gr.DateTime(label="Since", include_time=False, type="string")
        owner = gr.Textbox(label="Owner", placeholder="initials, role or name, e.g. AH or CC")
        status = gr.Dropdown([ANY_STATUS, *STATUSES], value=ANY_STATUS, label="Status")
        show = gr.Button("Show", variant="primary", scale=0)
    table = gr.Dataframe(
        headers=REGISTER_COLUMNS,
        interactive=False,
        wrap=True,
        column_widths=["8%", "12%", "12%", "7%", "11%", "7%", "7%", "24%", "12%"],
        max_height=640,
        elem_id="register-table",
    )
    download = gr.DownloadButton("Download CSV", elem_id="register-csv", interactive=False)

    def shown(start, owner_text: str, status_name: str) -> tuple:
        with shown_to_user():
            entries = filter_register(
                services.register(),
                since=iso_day(start, "Since"),
                owner=owner_text.strip() or None,
                status=None if status_name == ANY_STATUS else status_name,
            )
        csv_file = services.export("quorum-register.csv", render_register(entries, "csv"))
        return register_rows(entries), gr.update(value=csv_file, interactive=True)

    gr.on(
        [tab.select, show.click],
        shown,
        [since, owner, status],
        [table, download],
        api_visibility="private",
    )


def upload_tab(services: Services) -> gr.events.Dependency:
    gr.Markdown(
        "Add minutes (" + ", ".join(sorted(SUPPORTED_SUFFIXES)) + "). Each file is checked and "
        "indexed on its own: a file that cannot be read is reported by name and changes nothing."
    )
    files = gr.File(
        label="Minutes files",
        file_count="multiple",
        file_types=sorted(SUPPORTED_SUFFIXES),
        elem_id="upload-files",
    )
    add = gr.Button("Add to the archive", variant="primary", elem_id="upload-button")
    report_view = gr.HTML(elem_id="upload-report", padding=True)

    def added(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        if not paths:
            raise gr.Error("Choose one or more minutes files first.")
        copies = [copy_upload(Path(p), services.uploads) for p in paths]

        def step(done: int, total: int, path: str) -> None:
            progress((done, total), desc=f"Indexed {Path(path).name}", unit="files")

        progress(0, desc="Reading and indexing…")
        with shown_to_user():
            report = services.ingestor.ingest(copies, progress=step)
        discard_unindexed(report, copies)
        for failed in report.failed:
            gr.Warning(esc(file_outcome(failed)))
        return ingest_report_html(report)

    return add.click(
        added, files, report_view, concurrency_id=ENGINE_QUEUE, api_visibility="private"
    )


def launch(settings: Settings) -> None:
    """Warm the models, then serve the app on ``settings.host:settings.port`` until
    interrupted; with ``settings.auth_file``, only its users may sign in."""
    check = password_checker(load_users(settings.auth_file)) if settings.auth_file else None
    if check is None and settings.host not in LOOPBACK:
        print(
            f"quorum: warning: serving {settings.host} without --auth: anyone who can reach it "
            "can read the minutes",
            file=sys.stderr,
        )
    services = Services(settings)
    services.warm_up()
    demo = build_app(services)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE).launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=check,
        auth_message="Quorum: sign in with the account your administrator gave you.",
        theme=gr.themes.Soft(),
        css=CSS,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        footer_links=["settings"],
        max_file_size=MAX_UPLOAD,
    )


if __name__ == "__main__":
    from quorum.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
