"""The web app's helpers without a browser: minutes shown as text, citations found in place,
streaming, uploads that cannot replace what is indexed, dates from the form, and login."""

from __future__ import annotations

import io
import itertools
import socket

import pytest

from core.errors import BackendError, ConfigError, NotFoundError, UsageError
from core.settings import settings_from_flags
from index.ingest import FileResult, IngestReport
from index.models import AgendaItem, Meeting
from index.store import IndexStore
from quorum.cli import build_parser, main
from rag.answer import AnswerEngine
from rag.models import Answer, Citation, Filters
from tests.conftest import NPG_QUESTION
from web import auth, render, services

HOSTILE = 'Budget < £2m & rising. <img src=x onerror="alert(1)"> The PCC agreed the plan.'


def hostile_meeting() -> Meeting:
    item = AgendaItem(number="1", heading="Budget", text=HOSTILE, start=0, end=len(HOSTILE))
    return Meeting(
        id="m1",
        source="hostile.txt",
        sha256="0" * 64,
        title="Board <b>bold</b>",
        kind="Board",
        date="2025-02-01",
        items=[item],
        text=HOSTILE,
    )


def npg_meeting(settings) -> Meeting:
    return next(m for m in IndexStore(settings).catalog.meetings() if m.date == "2025-01-28")


def citation_of(meeting: Meeting, quote: str) -> Citation:
    start = meeting.text.index(quote)
    return Citation(
        n=1,
        meeting=meeting.title,
        date=meeting.date or "",
        item="?",
        source=meeting.source,
        quote=quote,
        start=start,
        end=start + len(quote),
    )


def test_minutes_text_is_escaped_and_only_the_quote_is_marked():
    meeting = hostile_meeting()
    start = HOSTILE.index("The PCC")
    shown = render.quoted_item_html(meeting, meeting.items[0], start, len(HOSTILE))
    assert "<img" not in shown and "<b>" not in shown
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in shown
    assert "Budget &lt; £2m &amp; rising." in shown
    assert "<mark>The PCC agreed the plan.</mark>" in shown
    assert shown.count("<mark>") == 1


def test_meeting_view_escapes_every_field():
    shown = render.meeting_html(hostile_meeting())
    assert "<img" not in shown and "<b>bold</b>" not in shown
    assert "Board &lt;b&gt;bold&lt;/b&gt;" in shown


def test_answer_markers_stand_out_but_the_text_stays_text():
    answer = Answer(question="q", answer="Costs <rose> [1].", abstained=False, backend="extractive")
    assert render.answer_html(answer).startswith(
        '<p class="q-answer">Costs &lt;rose&gt; <sup class="q-ref">[1]</sup>.</p>'
    )


def test_cited_item_is_the_agenda_item_holding_the_quote(sample_index):
    meeting = npg_meeting(sample_index)
    quote = "The PCC and CC agreed that local policing is important"
    found, item = services.cited_item([meeting], citation_of(meeting, quote))
    assert found.id == meeting.id
    assert item.label == "7. Neighbourhood Policing Guarantee"


def test_a_citation_the_index_no_longer_holds_is_refused(sample_index):
    meeting = npg_meeting(sample_index)
    stale = citation_of(meeting, "The PCC and CC agreed").model_copy(update={"quote": "Other."})
    with pytest.raises(NotFoundError, match="ask again"):
        services.cited_item([meeting], stale)


def test_streaming_shows_growing_drafts_then_the_verified_answer(sample_index):
    engine = AnswerEngine(sample_index.with_overrides(llm="fake"))
    updates = list(services.stream_answer(engine, NPG_QUESTION, Filters()))
    quoted, drafts, final = updates[0], updates[1:-1], updates[-1]
    assert isinstance(quoted, Answer) and quoted.provisional  # the minutes' own answer first
    assert drafts and all(isinstance(draft, str) for draft in drafts)
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(drafts))
    assert isinstance(final, Answer) and final.backend == "fake"


def test_extractive_answers_arrive_without_a_draft(sample_index):
    engine = AnswerEngine(sample_index)
    updates = list(services.stream_answer(engine, NPG_QUESTION, Filters()))
    assert len(updates) == 1 and isinstance(updates[0], Answer)


def test_a_backend_failure_reaches_the_page_as_its_own_error(sample_index):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = sample_index.with_overrides(
        llm="openai", openai_base_url=f"http://127.0.0.1:{closed_port}/v1", openai_model="m"
    )
    with pytest.raises(BackendError):
        list(services.stream_answer(AnswerEngine(settings), NPG_QUESTION, Filters()))


def test_form_dates_are_checked_and_become_filters():
    filters = services.form_filters("2024-09-01", "", ["1:1"])
    assert (filters.date_from, filters.date_to, filters.kinds) == ("2024-09-01", None, ["1:1"])
    assert services.form_filters(None, None, None).is_empty
    with pytest.raises(UsageError, match="To: '28/01/2025' is not a date"):
        services.form_filters(None, "28/01/2025", [])


def test_an_upload_never_takes_the_name_of_a_different_file(tmp_path):
    uploads, given = tmp_path / "uploads", tmp_path / "given"
    given.mkdir()
    first = given / "minutes.txt"
    first.write_text("first")
    assert services.copy_upload(first, uploads) == uploads / "minutes.txt"
    assert services.copy_upload(first, uploads) == uploads / "minutes.txt"
    first.write_text("second")
    assert services.copy_upload(first, uploads) == uploads / "minutes-2.txt"
    assert (uploads / "minutes.txt").read_text() == "first"


def test_copies_of_uploads_that_did_not_become_meetings_are_removed(tmp_path):
    kept, failed, twin = (tmp_path / name for name in ("a.txt", "b.txt", "c.txt"))
    for path in (kept, failed, twin):
        path.write_text(path.name)
    report = IngestReport(
        [
            FileResult(str(kept), "added"),
            FileResult(str(failed), "failed", f"{failed}: empty file"),
            FileResult(str(twin), "duplicate", "same content as x.txt"),
        ]
    )
    services.discard_unindexed(report, [kept, failed, twin])
    assert [p.exists() for p in (kept, failed, twin)] == [True, False, False]
    assert render.file_outcome(report.failed[0]) == "b.txt: empty file"


FEW = auth.MIN_ITERATIONS  # the fewest PBKDF2 rounds an auth file may use: quick for tests


def test_passwords_verify_only_against_their_own_hash():
    encoded = auth.hash_password("correct horse", iterations=FEW)
    assert auth.verify_password("correct horse", encoded)
    assert not auth.verify_password("correct horsE", encoded)
    assert encoded != auth.hash_password("correct horse", iterations=FEW)


def test_login_checks_users_from_the_auth_file(tmp_path):
    users_file = tmp_path / "users.txt"
    alice = auth.hash_password("a-secret", iterations=FEW)
    users_file.write_text(f"# Quorum users\n\nalice:{alice}\n")
    accounts = auth.Accounts.from_file(users_file, "TOP-SECRET")
    assert accounts.authenticate("alice", "a-secret") == auth.User("alice", "OFFICIAL")
    assert accounts.authenticate("alice", "wrong") is None
    assert accounts.authenticate("mallory", "a-secret") is None


def test_clearance_is_official_unless_granted_and_never_above_the_server(tmp_path):
    users_file = tmp_path / "users.txt"
    secret = auth.hash_password("pw", iterations=FEW)
    users_file.write_text(f"old:{secret}\nos:{secret}:OFFICIAL-SENSITIVE\nts:{secret}:TOP-SECRET\n")
    accounts = auth.Accounts.from_file(users_file, "SECRET")
    assert [accounts.authenticate(u, "pw").clearance for u in ("old", "os", "ts")] == [
        "OFFICIAL",
        "OFFICIAL-SENSITIVE",
        "SECRET",
    ]
    assert accounts.clearance_of("nobody") == "OFFICIAL"


def test_failed_logins_are_throttled_per_user_and_per_address(tmp_path):
    users_file = tmp_path / "users.txt"
    secret = auth.hash_password("pw", iterations=FEW)
    users_file.write_text(f"alice:{secret}\nbob:{secret}\n")
    accounts = auth.Accounts.from_file(users_file, "TOP-SECRET", attempts=3)
    for _ in range(3):
        assert accounts.authenticate("alice", "guess", "10.0.0.9") is None
    assert accounts.authenticate("alice", "pw", "10.0.0.1") is None  # the user is locked
    assert accounts.authenticate("bob", "pw", "10.0.0.9") is None  # so is the address
    assert accounts.authenticate("bob", "pw", "10.0.0.1") == auth.User("bob", "OFFICIAL")


@pytest.mark.parametrize(
    "content, problem",
    [
        ("alice:plaintext\n", "users.txt:1: expected USER:pbkdf2_sha256"),
        ("# nobody\n", "no users"),
        ("alice:pbkdf2_sha256$0$00$00\n", "users.txt:1: 0 PBKDF2 iterations is too few"),
        (f"alice:{auth.hash_password('x', FEW)}:SUPERUSER\n", "unknown clearance 'SUPERUSER'"),
    ],
)
def test_a_malformed_auth_file_is_named(tmp_path, content, problem):
    users_file = tmp_path / "users.txt"
    users_file.write_text(content)
    with pytest.raises(ConfigError, match=problem):
        auth.load_users(users_file)


def test_hash_password_command_prints_a_line_the_app_accepts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-secret\n"))
    assert main(["hash-password", "alice"]) == 0
    users_file = tmp_path / "users.txt"
    users_file.write_text(capsys.readouterr().out)
    accounts = auth.Accounts.from_file(users_file, "TOP-SECRET")
    assert accounts.authenticate("alice", "a-secret") == auth.User("alice", "OFFICIAL")
    monkeypatch.setattr("sys.stdin", io.StringIO("b-secret\n"))
    assert main(["hash-password", "bob", "--grant", "OFFICIAL-SENSITIVE"]) == 0
    users_file.write_text(capsys.readouterr().out)
    accounts = auth.Accounts.from_file(users_file, "TOP-SECRET")
    assert accounts.authenticate("bob", "b-secret").clearance == "OFFICIAL-SENSITIVE"


def test_serve_binds_to_this_machine_unless_told_otherwise(monkeypatch):
    for variable in ("QUORUM_HOST", "QUORUM_PORT", "QUORUM_AUTH_FILE"):
        monkeypatch.delenv(variable, raising=False)
    settings = settings_from_flags(build_parser().parse_args(["serve"]))
    assert (settings.host, settings.port, settings.auth_file) == ("127.0.0.1", 7860, None)
