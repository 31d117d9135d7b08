"""The Gradio page: tabs whose handlers parse what the page sends, call :mod:`web.services`
and show what :mod:`web.render` makes of the result. A QuorumError becomes a ``gr.Error``
here, at the edge, and nowhere else. It binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os

# Before gradio is imported: it reads these when it loads.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from core.errors import ConfigError, QuorumError
from core.settings import Settings
from index.readers import SUPPORTED_SUFFIXES
from rag.backends import backend_names
from rag.briefing.render import reference, render_markdown
from rag.docx_export import write_docx
from rag.filters import in_scope
from rag.models import Answer
from rag.register import STATUSES, filter_register, render_register
from rag.watch import digest_briefing
from web.api import build_api
from web.auth import Accounts
from web.render import (
    MEETING_COLUMNS,
    REGISTER_COLUMNS,
    answer_html,
    archive_summary,
    briefing_html,
    draft_html,
    esc,
    file_outcome,
    file_stem,
    ingest_report_html,
    meeting_html,
    meeting_label,
    meeting_rows,
    provisional_html,
    quoted_item_html,
    register_rows,
    without_paths,
)
from web.services import (
    Services,
    cited_item,
    copy_upload,
    discard_unindexed,
    form_filters,
    iso_day,
    make_briefing,
    stream_answer,
)

EXAMPLES = [
    "What did we agree on the Neighbourhood Policing Guarantee?",
    "How many officers were dismissed for gross misconduct in 2024?",
    "What did the PCC ask for on prevention at the September 2024 board?",
    "What actions came out of the HMICFRS PEEL report?",
]
ENGINE_QUEUE = "engine"  # answers, uploads and briefings share one worker: one model, 2 cores
QUEUE_SIZE = 64  # events waiting at once: 20 users each with a few tabs busy
MAX_UPLOAD = "25mb"
ANY_STATUS = "any"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SHUTDOWN_GRACE = 5  # seconds open requests get to finish after SIGTERM or Ctrl-C

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


@contextlib.contextmanager
def shown_to_user() -> Iterator[None]:
    """Show Quorum's own errors in the page (escaped: Gradio renders toasts as HTML, and a
    message may quote a file name or the minutes); anything else is a bug and stays a 500."""
    try:
        yield
    except QuorumError as exc:
        raise gr.Error(esc(without_paths(str(exc)))) from None


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
        with gr.Tab("Watch", id="watch") as watch:
            watch_tab(services, watch)
        archive_views = [
            summary,
            ask_kinds,
            meeting_kinds,
            brief_kind,
            meeting_table,
            meeting_pick,
            brief_meeting,
        ]

        def refresh_archive_views(request: gr.Request) -> tuple:
            meetings = services.meetings(clearance_of(services, request))
            kinds = gr.update(choices=sorted({m.kind for m in meetings}))
            choices = gr.update(choices=[(meeting_label(m), m.id) for m in meetings])
            rows = meeting_rows(meetings)
            return archive_summary(meetings), kinds, kinds, kinds, rows, choices, choices

        demo.load(refresh_archive_views, outputs=archive_views, api_visibility="private")
        upload_button.then(refresh_archive_views, outputs=archive_views, api_visibility="private")
    return demo


def clearance_of(services: Services, request: gr.Request | None) -> str:
    """The clearance of whoever sent this request (the server's own without --auth)."""
    return services.clearance(getattr(request, "username", None))


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

    def ask(
        question_text: str, backend_name: str, start, end, kind_list, request: gr.Request
    ) -> Iterator[tuple]:
        if not question_text.strip():
            raise gr.Error("Type a question first.")
        with shown_to_user():
            filters = form_filters(start, end, kind_list)
            with services.exclusive():
                engine = services.engine(backend_name, clearance_of(services, request))
                quoted = ""
                for update in stream_answer(engine, question_text, filters):
                    if isinstance(update, str):
                        yield quoted + draft_html(update), gr.update(visible=False), None, ""
                    elif update.provisional:
                        quoted = provisional_html(update)
                        yield quoted, gr.update(visible=False), None, ""
                    else:
                        choices = [(reference(c), c.n) for c in update.citations]
                        sources_update = gr.update(
                            choices=choices, value=None, visible=bool(choices)
                        )
                        yield answer_html(update), sources_update, update, ""

    def open_citation(n: int | None, answer: Answer | None, request: gr.Request) -> str:
        if n is None or answer is None:
            return ""
        citation = next(c for c in answer.citations if c.n == n)
        with shown_to_user():
            meetings = services.meetings(clearance_of(services, request))
            meeting, item = cited_item(meetings, citation)
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

    def listed(start, end, kind_list, request: gr.Request) -> tuple:
        with shown_to_user():
            filters = form_filters(start, end, kind_list)
        visible = services.meetings(clearance_of(services, request))
        meetings = [m for m in visible if in_scope(m, filters)]
        choices = [(meeting_label(m), m.id) for m in meetings]
        return meeting_rows(meetings), gr.update(choices=choices, value=None)

    def opened(meeting_id: str | None, request: gr.Request) -> str:
        if not meeting_id:
            return ""
        with shown_to_user():
            return meeting_html(services.meeting(meeting_id, clearance_of(services, request)))

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

    def written(
        backend_name: str, chosen: str, meeting_id, topic_text: str, kind_name, request: gr.Request
    ) -> tuple:
        with shown_to_user(), services.exclusive():
            clearance = clearance_of(services, request)
            briefing = make_briefing(
                services, backend_name, chosen, meeting_id, topic_text, kind_name, clearance
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
        column_widths=["8%", "11%", "11%", "8%", "6%", "10%", "7%", "6%", "22%", "11%"],
        max_height=640,
        elem_id="register-table",
    )
    download = gr.DownloadButton("Download CSV", elem_id="register-csv", interactive=False)

    def shown(start, owner_text: str, status_name: str, request: gr.Request) -> tuple:
        with shown_to_user():
            entries = filter_register(
                services.register(clearance_of(services, request)),
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
        for given in paths:  # Gradio's temporary copy: the uploads folder holds the only one
            Path(given).unlink(missing_ok=True)

        def step(done: int, total: int, path: str) -> None:
            progress((done, total), desc=f"Indexed {Path(path).name}", unit="files")

        progress(0, desc="Reading and indexing…")
        with shown_to_user():
            report, digest = services.ingest(copies, progress=step)
        discard_unindexed(report, copies)
        for failed in report.failed:
            gr.Warning(esc(file_outcome(failed)))
        shown = ingest_report_html(report)
        if digest:
            shown += briefing_html(digest_briefing(digest, "New on watched topics"))
        return shown

    return add.click(
        added, files, report_view, concurrency_id=ENGINE_QUEUE, api_visibility="private"
    )


def watch_tab(services: Services, tab: gr.Tab) -> None:
    gr.Markdown(
        "Topics the office follows. After every upload or ingest, the new meetings' items that "
        "raise a topic are quoted here once, with citations."
    )
    with gr.Row():
        topic = gr.Textbox(
            label="Watch a topic", placeholder="e.g. knife crime", scale=3, elem_id="watch-topic"
        )
        kind = gr.Textbox(label="Only meetings of kind (optional)", scale=2)
        add = gr.Button("Watch", variant="primary", scale=0, elem_id="watch-add")
    with gr.Row():
        watched = gr.Dropdown(label="Watched topics", choices=[], scale=3, elem_id="watch-topics")
        remove = gr.Button("Stop watching", scale=0)
    since = gr.DateTime(label="Digest since", include_time=False, type="string")
    digest_view = gr.HTML(elem_id="watch-digest", padding=True)
    download = gr.DownloadButton("Download .docx", interactive=False, elem_id="watch-docx")

    def shown(start, request: gr.Request) -> tuple:
        with shown_to_user():
            topics = services.watchlist.topics()
            since = iso_day(start, "Digest since")
            entries = services.digest(since, clearance_of(services, request))
        briefing = digest_briefing(entries)
        word = write_docx(briefing, services.export_path("quorum-watch-digest.docx"))
        choices = [(t.topic + (f" ({t.kind})" if t.kind else ""), t.id) for t in topics]
        return (
            gr.update(choices=choices, value=None),
            briefing_html(briefing),
            gr.update(value=word, interactive=True),
        )

    def added(words: str, kind_name: str, start, request: gr.Request) -> tuple:
        with shown_to_user():
            services.watchlist.add(words, kind_name.strip() or None)
        return "", *shown(start, request)

    def removed(key: str | None, start, request: gr.Request) -> tuple:
        if key:
            with shown_to_user():
                services.watchlist.remove(key)
        return shown(start, request)

    views = [watched, digest_view, download]
    gr.on([tab.select, since.change], shown, since, views, api_visibility="private")
    add.click(added, [topic, kind, since], [topic, *views], api_visibility="private")
    remove.click(removed, [watched, since], views, api_visibility="private")


CLIENT_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar("client", default="")


class RecordClientAddress:
    """ASGI middleware: the caller's address, for the login throttle (Gradio's ``auth``
    callback is given only the user name and password)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        token = CLIENT_ADDRESS.set(client[0] if client else "")
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)


def login_check(accounts: Accounts):
    """Gradio's ``auth`` callback: a right password, within the per-user and per-address
    limit on failed attempts."""

    def check(user: str, password: str) -> bool:
        return accounts.authenticate(user, password, CLIENT_ADDRESS.get()) is not None

    return check


def launch(settings: Settings) -> None:
    """Warm the models, then serve the app and the JSON API (:mod:`web.api`, under /api/v1)
    on ``settings.host:settings.port`` until interrupted; with ``settings.auth_file``, only
    its users may sign in to either, each seeing what their clearance allows. Everything it
    writes is private to this user (umask 077); no monitoring or run history; HTTPS with
    ``ssl_certfile``/``ssl_keyfile``."""
    import uvicorn

    os.umask(0o077)
    accounts = (
        Accounts.from_file(settings.auth_file, settings.clearance, settings.login_attempts)
        if settings.auth_file
        else None
    )
    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise ConfigError("--ssl-certfile and --ssl-keyfile go together: give both or neither")
    if accounts is None and settings.host not in LOOPBACK:
        print(
            f"quorum: warning: serving {settings.host} without --auth: anyone who can reach it can "
            "read the minutes",
            file=sys.stderr,
        )
    services = Services(settings, accounts)
    services.warm_up()
    services.start_vector_pass()
    demo = build_app(services).queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    api = build_api(services, accounts)
    api.add_middleware(RecordClientAddress)
    app = gr.mount_gradio_app(
        api,
        demo,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        enable_monitoring=False,
        run_history=False,
        auth=login_check(accounts) if accounts else None,
        auth_message="Quorum: sign in with the account your administrator gave you.",
        theme=gr.themes.Soft(),
        css=CSS,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        footer_links=["settings"],
        max_file_size=MAX_UPLOAD,
    )
    scheme = "https" if settings.ssl_certfile else "http"
    print(f"Quorum: {scheme}://{settings.host}:{settings.port}/ (API under /api/v1)", flush=True)
    # Pages keep a stream open to Gradio's queue: without a bound, stopping would wait for them.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )
