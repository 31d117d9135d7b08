"""The JSON HTTP API, versioned under ``/api/v1``, served by ``quorum serve`` beside the app.

Every handler calls the same steps the page does (:mod:`web.services`): answers stream through
``stream_answer``, briefings come from ``make_briefing``, uploads go through ``copy_upload``,
``Services.ingest`` and ``discard_unindexed``, the register through ``Services.register``; and
answering, briefing and ingesting hold ``Services.exclusive()``, the same one-job-at-a-time
guarantee the page's queue gives. With an auth file every route, the schema included, needs
credentials (HTTP Basic with a user's password, or ``Authorization: Bearer TOKEN``), checked by
:func:`web.auth.identify`. A QuorumError becomes a JSON error naming it (``{"error":
"NotFoundError", "detail": "..."}``) with a 4xx status; nothing else is caught.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date as Date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic, HTTPBearer
from pydantic import BaseModel, Field

from core.errors import (
    BackendError,
    ConfigError,
    IndexStoreError,
    NotFoundError,
    QuorumError,
    UsageError,
)
from index.models import Meeting
from rag.backends import backend_names
from rag.briefing.models import Briefing
from rag.briefing.render import render_markdown
from rag.docx_export import write_docx
from rag.models import Answer, Filters
from rag.register import RegisterEntry, Status, filter_register
from rag.watch import DigestEntry, WatchTopic
from web.auth import Accounts, identify
from web.render import file_stem
from web.services import Services, copy_upload, discard_unindexed, make_briefing, stream_answer

PREFIX = "/api/v1"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown; charset=utf-8"
BASIC = HTTPBasic(auto_error=False, description="A user and password from the auth file.")
BEARER = HTTPBearer(auto_error=False, description="A token from `quorum hash-password --token`.")
STATUS_OF = {NotFoundError: 404, UsageError: 400, ConfigError: 400, BackendError: 502}


class ApiError(BaseModel):
    error: str = Field(description="The error's name, e.g. NotFoundError or ParseError.")
    detail: str = Field(description="What went wrong, fit to show a user.")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "The request asks for something Quorum cannot do."},
    401: {"model": ApiError, "description": "Credentials are missing or wrong (with --auth)."},
    404: {"model": ApiError, "description": "No such meeting or other named thing."},
    502: {"model": ApiError, "description": "The answer backend failed or is unreachable."},
    503: {"model": ApiError, "description": "The index could not be read or written."},
}


class JsonBodyRoute(APIRoute):
    """Reads a request body as JSON whatever its declared type: ``curl -d '{...}'`` sends
    ``application/x-www-form-urlencoded`` unless told otherwise."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def read_as_json(request: Request) -> Response:
            declared = request.headers.get("content-type", "")
            if declared.startswith("application/x-www-form-urlencoded"):
                headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
                request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
                request = Request(request.scope, request.receive)
            return await handler(request)

        return read_as_json


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="The question, in words.")
    since: Date | None = Field(None, description="Only meetings on or after this date.")
    until: Date | None = Field(None, description="Only meetings on or before this date.")
    kinds: list[str] = Field(default_factory=list, description="Only meetings of these kinds.")
    backend: str | None = Field(
        None, description="Answer backend (the server's default when omitted)."
    )


class MeetingSummary(BaseModel):
    id: str
    title: str
    kind: str
    date: str | None = Field(description="ISO YYYY-MM-DD, or null when the minutes give none.")
    source: str
    items: int = Field(description="Number of agenda items.")
    outcomes: int = Field(description="Number of decisions and actions recorded.")


class BriefingRequest(BaseModel):
    kind: Literal["meeting", "topic", "since"] = Field(
        description="meeting: one meeting; topic: a topic across meetings; since: what changed "
        "since a date (YYYY-MM-DD) or since the last meeting of a kind."
    )
    target: str = Field(
        min_length=1,
        max_length=500,
        description="meeting: its id; topic: the topic's words; since: a date or a meeting kind.",
    )
    format: Literal["md", "docx", "json"] = Field(
        "md", description="md: Markdown text; docx: a Word download; json: the Briefing."
    )
    backend: str | None = Field(None, description="Backend that drafts (the server's default).")


class FileOutcome(BaseModel):
    file: str = Field(description="The uploaded file's name.")
    status: Literal["added", "updated", "unchanged", "duplicate", "failed", "skipped"]
    detail: str = Field("", description="Why it failed or was not indexed, naming the problem.")
    meeting_id: str | None = None
    chunks: int = 0
    warnings: list[str] = Field(default_factory=list)


class IngestResponse(BaseModel):
    summary: str = Field(description="Counts by status, as `quorum ingest` prints them.")
    files: list[FileOutcome]
    digest: list[DigestEntry] = Field(
        description="New digest entries: items of the new meetings that raise a watched topic."
    )


class Health(BaseModel):
    status: Literal["ok"]
    meetings: int
    chunks: int
    backend: str = Field(description="The default answer backend.")
    backends: list[str] = Field(description="Every backend a request may name.")


def build_api(services: Services, accounts: Accounts | None) -> FastAPI:
    """A FastAPI app with the API's routes; mount the page on it afterwards."""
    app = FastAPI(
        title="Quorum API",
        version="1",
        description="Cited answers, meetings, the register, briefings and uploads over the "
        "minutes Quorum has indexed.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(QuorumError, quorum_error)
    app.add_exception_handler(HTTPException, http_error)
    app.include_router(api_router(services, accounts, app))
    return app


def api_router(services: Services, accounts: Accounts | None, app: FastAPI) -> APIRouter:
    cleared = Depends(signed_in(accounts, services))  # the caller's clearance
    router = APIRouter(
        prefix=PREFIX,
        dependencies=[Depends(signed_in(accounts, services))],
        responses=ERRORS,
        route_class=JsonBodyRoute,
    )

    @router.get("/openapi.json", include_in_schema=False)
    def schema() -> dict[str, Any]:
        return app.openapi()

    @router.get("/health", response_model=Health, summary="Whether the service is up")
    def health() -> Health:
        meetings, chunks = services.retriever.store.catalog.counts()
        names = backend_names()
        return Health(
            status="ok",
            meetings=meetings,
            chunks=chunks,
            backend=services.settings.llm,
            backends=names,
        )

    @router.post("/ask", response_model=Answer, summary="Answer a question, with citations")
    def ask(request: AskRequest, clearance: str = cleared) -> Answer:
        filters = request_filters(request)
        with services.exclusive():
            engine = services.engine(chosen_backend(services, request.backend), clearance)
            *_, answer = stream_answer(engine, request.question, filters)
        return answer

    @router.get("/meetings", response_model=list[MeetingSummary], summary="Indexed meetings")
    def meetings(clearance: str = cleared) -> list[MeetingSummary]:
        return [meeting_summary(m) for m in services.meetings(clearance)]

    @router.get("/meetings/{meeting_id}", response_model=Meeting, summary="One parsed meeting")
    def meeting(meeting_id: str, clearance: str = cleared) -> Meeting:
        return services.meeting(meeting_id, clearance)

    @router.get("/register", response_model=list[RegisterEntry], summary="Decisions and actions")
    def register(
        since: Annotated[Date | None, Query(description="Meetings on or after this date.")] = None,
        owner: Annotated[
            str | None, Query(max_length=200, description="Initials, role (CC) or part of a name.")
        ] = None,
        status: Annotated[Status | None, Query(description="Only this status.")] = None,
        clearance: str = cleared,
    ) -> list[RegisterEntry]:
        return filter_register(
            services.register(clearance),
            since=since.isoformat() if since else None,
            owner=owner.strip() or None if owner else None,
            status=status,
        )

    @router.post(
        "/briefings",
        summary="A cited briefing: Markdown, a Word file, or JSON",
        response_model=Briefing,
        responses={200: {"content": {MARKDOWN.split(";")[0]: {}, DOCX: {}}}},
    )
    def briefing(request: BriefingRequest, clearance: str = cleared) -> Response:
        backend = chosen_backend(services, request.backend)
        meeting_id = request.target if request.kind == "meeting" else None
        with services.exclusive():
            made = make_briefing(
                services,
                backend,
                request.kind,
                meeting_id,
                request.target,
                request.target,
                clearance,
            )
        return briefing_response(services, made, request.format)

    @router.post("/ingest", response_model=IngestResponse, summary="Upload minutes to index")
    def ingest(
        files: Annotated[
            list[UploadFile], File(description="Minutes files (txt md html docx pdf).")
        ],
    ) -> IngestResponse:
        with tempfile.TemporaryDirectory(prefix="quorum-api-upload-") as folder:
            received = [saved_upload(upload, Path(folder)) for upload in files]
            copies = [copy_upload(path, services.uploads) for path in received]
        report, digest = services.ingest(copies)
        discard_unindexed(report, copies)
        names = {str(copy): path.name for copy, path in zip(copies, received, strict=True)}
        return IngestResponse(
            summary=report.summary(),
            files=[file_outcome(result, names) for result in report.results],
            digest=digest,
        )

    @router.get("/watch", response_model=list[WatchTopic], summary="Watched topics")
    def watched() -> list[WatchTopic]:
        return services.watchlist.topics()

    @router.get(
        "/watch/digest", response_model=list[DigestEntry], summary="Items on watched topics"
    )
    def digest(
        since: Annotated[
            Date | None, Query(description="Entries found on or after this date.")
        ] = None,
        clearance: str = cleared,
    ) -> list[DigestEntry]:
        return services.digest(since.isoformat() if since else None, clearance)

    return router


def signed_in(accounts: Accounts | None, services: Services):
    """The dependency every route takes: with an auth file, the caller must prove who they are;
    it gives the clearance they read with (the server's own without an auth file).
    (HTTPBasic and HTTPBearer are declared so /openapi.json documents both schemes.)"""

    def user(
        request: Request,
        _basic: Annotated[Any, Depends(BASIC)],
        _bearer: Annotated[Any, Depends(BEARER)],
    ) -> str:
        if accounts is None:
            return services.settings.clearance
        address = request.client.host if request.client else ""
        who = identify(request.headers.get("authorization"), accounts, address)
        if who is None:
            raise HTTPException(
                401,
                "sign in: HTTP Basic with your user and password, or a bearer token",
                headers={"WWW-Authenticate": 'Basic realm="Quorum", charset="UTF-8"'},
            )
        return who.clearance

    return user


def chosen_backend(services: Services, name: str | None) -> str:
    if name is None:
        return services.settings.llm
    if name not in backend_names():
        raise UsageError(f"unknown backend {name!r}: use one of {', '.join(backend_names())}")
    return name


def request_filters(request: AskRequest) -> Filters:
    start = request.since.isoformat() if request.since else None
    end = request.until.isoformat() if request.until else None
    notes = [f"dates from the request: {start or '…'} to {end or '…'}"] if start or end else []
    return Filters(date_from=start, date_to=end, kinds=request.kinds, notes=notes)


def meeting_summary(meeting: Meeting) -> MeetingSummary:
    return MeetingSummary(
        id=meeting.id,
        title=meeting.title,
        kind=meeting.kind,
        date=meeting.date,
        source=meeting.source,
        items=len(meeting.items),
        outcomes=len(meeting.outcomes),
    )


def briefing_response(services: Services, briefing: Briefing, format: str) -> Response:
    if format == "json":
        return JSONResponse(briefing.model_dump(mode="json"))
    stem = file_stem(briefing.title)
    if format == "md":
        return Response(render_markdown(briefing), media_type=MARKDOWN)
    path = write_docx(briefing, services.export_path(f"{stem}.docx"))
    return Response(
        path.read_bytes(),
        media_type=DOCX,
        headers={"Content-Disposition": f'attachment; filename="{stem}.docx"'},
    )


def saved_upload(upload: UploadFile, folder: Path) -> Path:
    """The upload written to ``folder`` under its own base name (never a path it names)."""
    name = Path(upload.filename or "").name.strip() or "upload"
    target = folder / name
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return target


def file_outcome(result, names: dict[str, str]) -> FileOutcome:
    """One file's result, named as the caller named it (not by the server's copy of it)."""
    name = names.get(result.path, Path(result.path).name)
    return FileOutcome(
        file=name,
        status=result.status,
        detail=result.detail.replace(result.path, name),
        meeting_id=result.meeting_id,
        chunks=result.chunks,
        warnings=result.warnings,
    )


async def quorum_error(request: Request, exc: QuorumError) -> JSONResponse:
    status = next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)
    if isinstance(exc, IndexStoreError):
        status = 503
    return JSONResponse(ApiError(error=type(exc).__name__, detail=str(exc)).model_dump(), status)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    body = ApiError(
        error="Unauthorized" if exc.status_code == 401 else "HTTPError", detail=str(exc.detail)
    )
    return JSONResponse(body.model_dump(), exc.status_code, headers=exc.headers)
