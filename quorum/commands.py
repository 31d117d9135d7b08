"""The ``quorum`` subcommands. Each parses nothing itself beyond its flags and prints results."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

from core.errors import NotFoundError, UsageError
from core.settings import Settings
from index.ingest import Ingestor, IngestReport, read_as
from index.markings import visible_meetings
from index.models import Meeting
from index.store import IndexStore
from quorum.registry import COMMON_SETTINGS, command
from web import SERVE_SETTINGS


def _ingest_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="minutes files or directories")
    parser.add_argument("--prune", action="store_true", help="drop meetings whose file is gone")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "ingest",
    "Parse minutes files and add them to the index (incremental).",
    arguments=_ingest_args,
    settings=("vector_pass",),
)
def ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    bar = None if args.quiet else tqdm(unit="file", file=sys.stderr, leave=False)

    def progress(done: int, total: int, path: str) -> None:
        bar.total = total
        bar.set_postfix_str(Path(path).name[-40:])
        bar.update(1)

    try:
        report = Ingestor(settings).ingest(
            args.paths, prune=args.prune, progress=None if bar is None else progress
        )
    finally:
        if bar is not None:
            bar.close()
    print_ingest_report(report, settings)
    report_watched(settings, report)
    start_vector_pass(settings)
    return 1 if report.failed else 0


def start_vector_pass(settings: Settings) -> None:
    """With ``vector_pass=background``, fill pending MiniLM vectors in a process of its own."""
    from index.vectors import LOG_NAME, start_background_fill

    if settings.vector_pass != "background":
        return
    child = start_background_fill(settings)
    if child is not None:
        print(
            f"vectors: second pass started (pid {child.pid}, log {settings.index_path / LOG_NAME});"
            " every meeting is searchable now"
        )


@command("vectors", "Fill the MiniLM vectors an ingest left to the second pass, now.")
def vectors(args: argparse.Namespace, settings: Settings) -> int:
    from index.embed import Embedder
    from index.vectors import fill_vectors

    store = open_index(settings)
    embedder = Embedder(settings.embed_model, settings.embed_batch_size)
    added = fill_vectors(store, embedder)
    if added is None:
        print("another second pass is filling this index; try again when it ends")
        return 1
    print(f"{added} vectors added; {store.catalog.pending_count()} pending")
    return 0


def report_watched(settings: Settings, report: IngestReport) -> None:
    """Record what the new meetings raise on watched topics (models load only if some are)."""
    from rag.watch import Watchlist, new_meeting_ids, record_new_meetings

    watchlist = Watchlist(settings.index_path)
    new = new_meeting_ids(report.results)
    if not new or not watchlist.topics():
        return
    from rag.retrieve import HybridRetriever

    entries = record_new_meetings(watchlist, HybridRetriever(settings), new)
    for entry in entries:
        print(f"watch: {entry.topic!r} raised at {entry.meeting} ({entry.date}), {entry.item}")
    print(f"watch: {len(entries)} new digest entr{'y' if len(entries) == 1 else 'ies'}")


def print_ingest_report(report: IngestReport, settings: Settings) -> None:
    for result in report.results:
        if result.status in ("failed", "skipped", "duplicate"):
            print(f"{result.status}: {result.path}: {result.detail}", file=sys.stderr)
        elif result.read_as:
            print(f"{result.status}: {result.path}: {result.read_as}")
        for warning in result.warnings:
            print(f"warning: {result.path}: {warning}", file=sys.stderr)
    print(f"{report.summary()} ({report.chunks_added} chunks indexed) → {settings.index_path}")


def open_index(settings: Settings) -> IndexStore:
    """The existing index (read commands never create one where a mistyped path points)."""
    return IndexStore(settings, create=False)


def open_retriever(settings: Settings):
    from rag.retrieve import HybridRetriever

    return HybridRetriever(settings, open_index(settings))


@command("status", "Show what the index holds.")
def status(args: argparse.Namespace, settings: Settings) -> int:
    store = open_index(settings)
    meetings, chunks = store.catalog.counts()
    missing = store.bm25_missing()
    print(f"index:    {settings.index_path}")
    print(f"store:    {settings.store} Chroma, collection {settings.collection}")
    print(f"meetings: {meetings}")
    print(f"chunks:   {chunks}")
    print(f"sources:  {len(store.catalog.manifest())}")
    shapes = Counter(meeting.shape for meeting in store.catalog.meetings())
    for shape, count in sorted(shapes.items()):
        print(f"  read as {shape}: {count}")
    print(f"bm25:     {f'{missing} chunks to add (on next query)' if missing else 'up to date'}")
    pending = store.catalog.pending_count()
    print(f"vectors:  {f'{pending} chunks pending (second pass)' if pending else 'complete'}")
    return 0


def cleared_meetings(settings: Settings) -> list[Meeting]:
    """The indexed meetings as ``settings.clearance`` may see them (marked items withheld)."""
    return visible_meetings(open_index(settings).catalog.meetings(), settings.clearance)


@command(
    "meetings",
    "List indexed meetings: date, kind, title, items.",
    settings=("clearance",),
)
def meetings(args: argparse.Namespace, settings: Settings) -> int:
    found = cleared_meetings(settings)
    if not found:
        print("the index is empty: run `quorum ingest PATH` first", file=sys.stderr)
        return 0
    for meeting in found:
        print(
            f"{meeting.date or 'undated':10}  {meeting.kind:34.34}  {meeting.title}  "
            f"({len(meeting.items)} items)  [{meeting.id}]"
        )
    return 0


def _show_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meeting", help="meeting id, date (YYYY-MM-DD) or source path")
    parser.add_argument("--json", action="store_true", help="print the parsed meeting as JSON")


@command("show", "Show one parsed meeting.", arguments=_show_args, settings=("clearance",))
def show(args: argparse.Namespace, settings: Settings) -> int:
    found = find_meetings(cleared_meetings(settings), args.meeting)
    if len(found) > 1:
        print(f"{len(found)} meetings match {args.meeting!r}; show one by its id:")
        for meeting in found:
            print(
                f"  {meeting.id}  {meeting.date or 'undated'}  {meeting.title}  ({meeting.source})"
            )
        return 0
    meeting = found[0]
    if args.json:
        print(meeting.model_dump_json(indent=2))
        return 0
    print(f"{meeting.title}\n{meeting.kind} — {meeting.date or 'date unknown'}")
    for label, value in (
        ("body", meeting.body),
        ("time", meeting.time),
        ("venue", meeting.venue),
        ("read as", read_as(meeting)),
    ):
        if value:
            print(f"{label}: {value}")
    if meeting.marking:
        print(f"marking: {meeting.marking}")
    print(f"source: {meeting.source}\n\nAttendees:")
    for person in meeting.attendees:
        print(
            f"  {person.name} ({person.initials or '-'}) — {person.role or '-'} [{person.status}]"
        )
    print("\nAgenda:")
    for item in meeting.items:
        closed = " [closed]" if item.session == "closed" else ""
        print(f"  {item.label}{closed}")
    if meeting.outcomes:
        print("\nDecisions and actions:")
        for outcome in meeting.outcomes:
            owner = f" — {outcome.owner}" if outcome.owner else ""
            print(f"  [{outcome.kind}] item {outcome.item_number}{owner}: {outcome.text}")
    return 0


def find_meetings(found: list[Meeting], key: str) -> list[Meeting]:
    """The meetings a key names: by id, else by ISO date, else by source path (never empty)."""
    for match in (
        [m for m in found if m.id == key],
        [m for m in found if m.date == key],
        [m for m in found if m.source == key or Path(m.source).name == key],
    ):
        if match:
            return match
    raise NotFoundError(f"no meeting matches {key!r}; `quorum meetings` lists them")


def find_meeting(found: list[Meeting], key: str) -> Meeting:
    """The one meeting a key names; several are an error that lists their ids."""
    match = find_meetings(found, key)
    if len(match) > 1:
        ids = ", ".join(m.id for m in match)
        raise NotFoundError(f"{key!r} matches {len(match)} meetings ({ids}); give an id")
    return match[0]


def _ask_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="?", help="the question, in quotes")
    parser.add_argument("--batch", type=Path, help="file with one question per line")
    parser.add_argument("--json", action="store_true", help="one JSON object per answer")
    parser.add_argument("--since", help="only meetings on or after this date (YYYY-MM-DD)")
    parser.add_argument("--until", help="only meetings on or before this date (YYYY-MM-DD)")
    parser.add_argument("--kind", action="append", help="only meetings of this kind (repeatable)")


@command(
    "ask",
    "Answer a question from the minutes, with citations (or say they do not).",
    arguments=_ask_args,
    settings=("llm", "top_k", "clearance"),
)
def ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answer import AnswerEngine

    questions = read_questions(args)
    filters = explicit_filters(args)
    engine = AnswerEngine(settings, open_retriever(settings))
    stream = not args.json and engine.backend.streams_draft and len(questions) == 1
    for question in questions:
        progress = StderrProgress() if stream else None
        answer = engine.ask(
            question,
            filters,
            on_token=progress.token if progress else None,
            on_quoted=progress.quoted if progress else None,
        )
        if progress and progress.drafted:
            print("\n", file=sys.stderr)
        if args.json:
            print(answer.model_dump_json())
        else:
            print_answer(answer)
    return 0


class StderrProgress:
    """What a user watches on stderr while a model answers (stdout keeps the final answer):
    the answer quoted from the minutes at once, then the model's draft as it is written."""

    def __init__(self) -> None:
        self.drafted = False

    def quoted(self, answer) -> None:
        print("quoted from the minutes (the model's answer follows):", file=sys.stderr)
        print_answer(answer, file=sys.stderr)

    def token(self, delta: str) -> None:
        if not self.drafted:
            print("draft: ", end="", file=sys.stderr)
            self.drafted = True
        print(delta, end="", file=sys.stderr, flush=True)


def read_questions(args: argparse.Namespace) -> list[str]:
    if bool(args.question) == bool(args.batch):
        raise UsageError("give a QUESTION or --batch FILE (one of them)")
    if args.question:
        return [args.question]
    try:
        lines = args.batch.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{args.batch}: cannot read ({exc.strerror})") from None
    questions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not questions:
        raise UsageError(f"{args.batch}: no questions in the file")
    return questions


def explicit_filters(args: argparse.Namespace):
    from rag.filters import iso_day
    from rag.models import Filters

    since, until = iso_day(args.since, "--since"), iso_day(args.until, "--until")
    notes = []
    if since or until:
        notes.append(f"dates from --since/--until: {since or '…'} to {until or '…'}")
    return Filters(date_from=since, date_to=until, kinds=args.kind or [], notes=notes)


def print_answer(answer, file: TextIO = sys.stdout) -> None:
    from rag.briefing.render import reference

    print(answer.answer, file=file)
    for citation in answer.citations:
        print(f'{reference(citation)}: "{citation.quote}"', file=file)
    if answer.abstained:
        print("Searched:", file=file)
        for searched in answer.searched:
            print(f"  {searched.meeting} — {searched.date or 'undated'}", file=file)


def _eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--facts",
        type=Path,
        help="facts JSONL (default: eval/facts.jsonl and eval/facts_corpus.jsonl, over "
        "data/sample_minutes and data/corpus/minutes)",
    )
    parser.add_argument("--report", type=Path, help="directory for the Markdown and JSON reports")
    parser.add_argument("--only", help="comma-separated fact ids, or @FILE with one id a line")
    parser.add_argument(
        "--gate", help="fail (exit 1) below the floors named GATE in eval/thresholds.json"
    )
    parser.add_argument("--no-ingest", action="store_true", help="do not ingest --archive first")
    parser.add_argument(
        "--split", choices=("dev", "test"), help="only the facts of this split (tune on dev)"
    )
    parser.add_argument(
        "--sample",
        metavar="N",
        type=int,
        help="only N facts drawn with --seed (answerable and not in proportion)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    parser.add_argument(
        "--briefings",
        action="store_true",
        help="score meeting briefings against the labelled key points (eval/keypoints.jsonl) "
        "instead of answers against facts; --gate names a briefings_* gate",
    )
    parser.add_argument(
        "--keypoints",
        type=Path,
        help="key points JSONL for --briefings (default: eval/keypoints.jsonl)",
    )


@command(
    "eval",
    "Score answers against hand-labelled facts; write Markdown and JSON reports.",
    arguments=_eval_args,
    settings=("llm", "top_k", "clearance", "brief_words"),
)
def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from eval.harness import (
        DEFAULT_FACTS,
        EVAL_ARCHIVES,
        below_thresholds,
        load_facts,
        load_thresholds,
        metrics_table,
        run_eval,
        sample_facts,
        write_reports,
    )
    from index.vectors import fill_vectors
    from rag.answer import AnswerEngine

    if not args.no_ingest:
        own = args.facts or (args.briefings and args.keypoints)
        archives = [settings.archive_dir] if own else list(EVAL_ARCHIVES)
        ingestor = Ingestor(settings)
        report = ingestor.ingest(archives)
        if report.failed:
            print_ingest_report(report, settings)
            return 1
        fill_vectors(ingestor.store, ingestor.embedder, wait=True)  # score a finished index
    if args.briefings:
        return evaluate_briefings(args, settings)
    facts = load_facts([args.facts] if args.facts else DEFAULT_FACTS, parse_ids(args.only))
    facts = [f for f in facts if args.split in (None, f.split)]
    if args.sample:
        facts = sample_facts(facts, args.sample, args.seed)
    with tqdm(total=len(facts), unit="fact", file=sys.stderr, leave=False) as bar:
        result = run_eval(AnswerEngine(settings), facts, lambda done, total: bar.update(1))
    print(f"backend: {result.backend}\n{metrics_table(result)}")
    md, js = write_reports(result, args.report or settings.data_dir / "eval-reports")
    print(f"reports: {md} {js}")
    failed = [r for r in result.results if not r.passed]
    for row in failed:
        print(f"  fail {row.fact.id}: {row.why}", file=sys.stderr)
    if args.gate:
        gate = load_thresholds()[args.gate]
        misses = below_thresholds(result.metrics(gate.get("split")), gate["floors"])
        for miss in misses:
            print(f"gate {args.gate}: {miss}", file=sys.stderr)
        return 1 if misses else 0
    return 0


def evaluate_briefings(args: argparse.Namespace, settings: Settings) -> int:
    """`quorum eval --briefings`: every labelled meeting briefed and scored on its key points."""
    from tqdm import tqdm

    from eval.briefings import (
        briefing_table,
        gate_misses,
        load_keypoints,
        run_briefing_eval,
        write_briefing_report,
    )
    from eval.harness import load_thresholds
    from rag.briefing.engine import BriefingEngine

    labelled = load_keypoints(args.keypoints) if args.keypoints else load_keypoints()
    engine = BriefingEngine(settings, open_retriever(settings))
    with tqdm(total=len(labelled), unit="meeting", file=sys.stderr, leave=False) as bar:
        result = run_briefing_eval(engine, labelled, lambda done, total: bar.update(1))
    print(f"backend: {result.backend} (budget {result.budget} words)\n{briefing_table(result)}")
    path = write_briefing_report(result, args.report or settings.data_dir / "eval-reports")
    print(f"report: {path}")
    for row in result.results:
        for point in row.missing():
            print(f"  missing {row.labelled.source}: {point}", file=sys.stderr)
    if args.gate:
        misses = gate_misses(result, load_thresholds()[args.gate])
        for miss in misses:
            print(f"gate {args.gate}: {miss}", file=sys.stderr)
        return 1 if misses else 0
    return 0


def parse_ids(only: str | None) -> set[str] | None:
    if not only:
        return None
    if only.startswith("@"):
        path = Path(only[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
        return {
            line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()
        }
    return {part.strip() for part in only.split(",") if part.strip()}


@command(
    "serve",
    "Start the web app on the configured index.",
    settings=SERVE_SETTINGS[len(COMMON_SETTINGS) :],
)
def serve(args: argparse.Namespace, settings: Settings) -> int:
    from web.ui import launch

    launch(settings)
    return 0


def _hash_password_args(parser: argparse.ArgumentParser) -> None:
    from core.markings import LEVELS

    parser.add_argument("user", help="the login name")
    parser.add_argument(
        "--grant",
        choices=LEVELS,
        default="OFFICIAL",
        help="the user's clearance: items marked above it are withheld (default OFFICIAL)",
    )
    parser.add_argument(
        "--token",
        action="store_true",
        help="make a bearer token for the API instead (printed once, on stderr)",
    )


@command(
    "hash-password",
    "Print a USER:HASH line for `serve --auth FILE` (asks for the password), or a token line.",
    arguments=_hash_password_args,
)
def hash_password(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from web.auth import new_token, user_line

    if ":" in args.user or not args.user.strip():
        raise UsageError("the user name must be non-empty and contain no ':'")
    if args.token:
        token, stored = new_token()
        grant = "" if args.grant == "OFFICIAL" else f":{args.grant}"
        print(f"bearer token for {args.user} (shown once): {token}", file=sys.stderr)
        print(f"{args.user}:{stored}{grant}")
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise UsageError("the password is empty")
    print(user_line(args.user, password, args.grant))
    return 0


def _register_args(parser: argparse.ArgumentParser) -> None:
    from rag.register import STATUSES

    parser.add_argument("--since", help="only meetings on or after this date (YYYY-MM-DD)")
    parser.add_argument("--owner", help="owner's initials, role (CC) or part of their name")
    parser.add_argument("--status", choices=STATUSES, help="only entries with this status")
    parser.add_argument("--format", choices=["table", "csv", "md"], default="table")


@command(
    "register",
    "List decisions and actions across meetings, with owner and status.",
    arguments=_register_args,
    settings=("clearance",),
)
def register(args: argparse.Namespace, settings: Settings) -> int:
    from rag.register import build_register, filter_register, render_register

    entries = filter_register(
        build_register(cleared_meetings(settings)),
        since=args.since,
        owner=args.owner,
        status=args.status,
    )
    if not entries:
        print("no decisions or actions match", file=sys.stderr)
        return 0
    print(render_register(entries, args.format), end="")
    return 0


def _brief_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["meeting", "topic", "since"], help="what to brief on")
    parser.add_argument(
        "target",
        help="meeting: id, date or source; topic: the topic; since: a date (YYYY-MM-DD) or a "
        "meeting kind",
    )
    parser.add_argument("--format", choices=["md", "docx"], default="md")
    parser.add_argument("-o", "--output", type=Path, help="write here (required for docx)")


@command(
    "brief",
    "Write a cited briefing on a meeting, a topic, or since a date or a kind's last meeting.",
    arguments=_brief_args,
    settings=("llm", "clearance", "brief_words"),
)
def brief(args: argparse.Namespace, settings: Settings) -> int:
    from rag.briefing.engine import BriefingEngine
    from rag.briefing.render import render_markdown

    if args.format == "docx" and not args.output:
        raise UsageError("--format docx needs -o FILE")
    engine = BriefingEngine(settings, open_retriever(settings))
    target = args.target
    if args.kind == "meeting":
        target = find_meeting(engine.retriever.meetings(), args.target)
    briefing = engine.brief(args.kind, target)
    if args.format == "docx":
        from rag.docx_export import write_docx

        write_docx(briefing, args.output)
    elif args.output:
        write_text(args.output, render_markdown(briefing))
    else:
        print(render_markdown(briefing), end="")
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})") from None


def _settings_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown", action="store_true", help="print the table of settings the README shows"
    )


@command(
    "settings",
    "Show every setting: its environment variable, flag, value and meaning.",
    arguments=_settings_args,
)
def show_settings(args: argparse.Namespace, settings: Settings) -> int:
    from core.settings import describe_settings, settings_table

    if args.markdown:
        print(settings_table(), end="")
        return 0
    values = settings.model_dump()
    if values["openai_api_key"]:
        values["openai_api_key"] = "(set, not shown)"
    for (variable, flag, _, description), name in zip(describe_settings(), values, strict=True):
        print(f"{variable:24} {flag:10} {values[name]!s:40.40}  {description}")
    return 0


def _watch_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="watch a topic")
    add.add_argument("topic", help="the words to watch for, in quotes")
    add.add_argument("--kind", help="only meetings of this kind")
    actions.add_parser("list", help="the watched topics")
    remove = actions.add_parser("remove", help="stop watching a topic")
    remove.add_argument("topic", help="the topic's id or its exact words")
    digest = actions.add_parser("digest", help="items of ingested meetings on watched topics")
    digest.add_argument("--since", help="entries found on or after this date (YYYY-MM-DD)")
    digest.add_argument("--format", choices=["md", "docx", "json"], default="md")
    digest.add_argument("-o", "--output", type=Path, help="write here (required for docx)")


@command(
    "watch",
    "Watch topics: each ingest quotes the new meetings' items that raise them, once.",
    arguments=_watch_args,
)
def watch(args: argparse.Namespace, settings: Settings) -> int:
    from rag.watch import Watchlist

    watchlist = Watchlist(settings.index_path)
    if args.action == "add":
        topic = watchlist.add(args.topic, args.kind)
        print(f"watching {topic.topic!r}{f' at {topic.kind}' if topic.kind else ''} [{topic.id}]")
    elif args.action == "remove":
        topic = watchlist.remove(args.topic)
        print(f"stopped watching {topic.topic!r} [{topic.id}]")
    elif args.action == "list":
        for topic in watchlist.topics():
            print(f"{topic.id}  {topic.topic}{f'  (kind: {topic.kind})' if topic.kind else ''}")
    else:
        return print_digest(watchlist, args)
    return 0


def print_digest(watchlist, args: argparse.Namespace) -> int:
    import json

    from rag.briefing.render import render_markdown
    from rag.watch import digest_briefing

    if args.format == "docx" and not args.output:
        raise UsageError("--format docx needs -o FILE")
    entries = watchlist.entries(parse_day(args.since, "--since"))
    if args.format == "json":
        text = json.dumps([e.model_dump(mode="json") for e in entries], indent=1) + "\n"
    elif args.format == "md":
        text = render_markdown(digest_briefing(entries))
    else:
        from rag.docx_export import write_docx

        write_docx(digest_briefing(entries), args.output)
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    if args.output:
        write_text(args.output, text)
    else:
        print(text, end="")
    return 0


def parse_day(value: str | None, flag: str) -> str | None:
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None
