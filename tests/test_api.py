"""The JSON API over HTTP, against a real ``quorum serve`` process on a temp index of the sample
minutes (extractive backend, --auth with a password user and a token user): the routes, the
login, the topic watch across uploads, the README's curl examples, and a property-based run of
the published OpenAPI schema (schemathesis)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE, Settings
from tests.conftest import NPG_QUESTION, ingest_settled, make_settings
from tests.servers import free_port, wait_until_serving
from web.auth import MIN_ITERATIONS, hash_password, new_token

USER, PASSWORD = "alice", "a-secret"
KNIFE_MINUTES = PROJECT_ROOT / "data" / "corpus" / "minutes" / "essex_pfcp_2017-06-01.txt"
README = PROJECT_ROOT / "README.md"


@pytest.fixture(scope="module")
def token_line() -> tuple[str, str]:
    token, stored = new_token()
    return token, f"robot:{stored}"


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("api"))
    ingest_settled(settings, embedder, [SAMPLE_ARCHIVE])
    return settings


@pytest.fixture(scope="module")
def server(api_settings: Settings, token_line: tuple[str, str]) -> Iterator[str]:
    """``quorum serve --auth FILE`` on a free loopback port; yields the API's base URL."""
    api_settings.data_dir.mkdir(parents=True, exist_ok=True)
    auth = api_settings.data_dir / "users.txt"
    # Few PBKDF2 rounds keep the test quick; the format and the check are the real ones.
    # The user is cleared for the OFFICIAL-SENSITIVE item 7 of 28 January 2025; the token
    # holder is not (OFFICIAL by default).
    password_line = f"{USER}:{hash_password(PASSWORD, MIN_ITERATIONS)}:OFFICIAL-SENSITIVE"
    auth.write_text(f"{password_line}\n{token_line[1]}\n")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUORUM_")}
    env.update(
        QUORUM_DATA_DIR=str(api_settings.data_dir),
        QUORUM_INDEX=str(api_settings.index_path),
        QUORUM_LLM="extractive",
        # The refusal tests send many wrong passwords from this one address; the throttle
        # that would then lock the address out is tested in tests/test_app.py.
        QUORUM_LOGIN_ATTEMPTS="1000",
    )
    log_path = api_settings.data_dir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum", "serve", "--port", str(port), "--auth", str(auth)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/api/v1/health", process, log_path, 401)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, auth=(USER, PASSWORD), timeout=120) as http:
        yield http


def test_ask_as_curl_sends_it_returns_the_cited_answer_and_nothing_without_credentials(
    server: str, client: httpx.Client
):
    body = json.dumps({"question": NPG_QUESTION})
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` declares
    answer = client.post("/api/v1/ask", content=body, headers=form).json()
    assert not answer["abstained"]
    assert "prudent" in answer["answer"]
    assert {c["date"] for c in answer["citations"]} == {"2025-01-28"}
    assert any("Neighbourhood Policing Guarantee" in c["item"] for c in answer["citations"])
    refused = httpx.post(f"{server}/api/v1/ask", content=body, headers=form)
    assert refused.status_code == 401
    assert refused.json()["error"] == "Unauthorized"
    assert "prudent" not in refused.text


def test_every_route_and_the_schema_refuse_missing_or_wrong_credentials(
    server: str, client: httpx.Client
):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert len(paths) >= 9
    for path, methods in paths.items():
        url = server + path.replace("{meeting_id}", "x")
        for method in methods:
            for auth in (None, (USER, "wrong"), ("mallory", PASSWORD)):
                response = httpx.request(method, url, auth=auth)
                assert response.status_code == 401, (method, path, auth)
    assert httpx.get(f"{server}/api/v1/openapi.json").status_code == 401


def test_a_bearer_token_from_the_users_file_signs_in(server: str, token_line):
    headers = {"Authorization": f"Bearer {token_line[0]}"}
    health = httpx.get(f"{server}/api/v1/health", headers=headers).json()
    assert health["status"] == "ok" and health["meetings"] >= 3
    wrong = {"Authorization": f"Bearer {token_line[0]}x"}
    assert httpx.get(f"{server}/api/v1/health", headers=wrong).status_code == 401


def test_meetings_list_and_one_meeting_parsed(client: httpx.Client):
    listed = client.get("/api/v1/meetings").json()
    npg = next(m for m in listed if m["date"] == "2025-01-28")
    meeting = client.get(f"/api/v1/meetings/{npg['id']}").json()
    assert meeting["id"] == npg["id"] and len(meeting["items"]) == npg["items"]
    assert any("Neighbourhood Policing Guarantee" in i["heading"] for i in meeting["items"])
    missing = client.get("/api/v1/meetings/no-such-meeting")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"


def test_register_filters_by_query_parameters(client: httpx.Client):
    everything = client.get("/api/v1/register").json()
    open_since = client.get("/api/v1/register", params={"status": "open", "since": "2025-01-01"})
    entries = open_since.json()
    assert entries and len(entries) < len(everything)
    assert all(e["status"] == "open" and e["meeting_date"] >= "2025-01-01" for e in entries)
    assert client.get("/api/v1/register", params={"since": "soon"}).status_code == 422


def test_briefings_as_markdown_word_and_since_a_date(client: httpx.Client):
    meeting = next(m for m in client.get("/api/v1/meetings").json() if m["date"] == "2025-01-28")
    markdown = client.post("/api/v1/briefings", json={"kind": "meeting", "target": meeting["id"]})
    assert markdown.headers["content-type"].startswith("text/markdown")
    # It quotes the OFFICIAL-SENSITIVE item 7, so the marking heads the note.
    top = "**OFFICIAL SENSITIVE - OPERATIONAL**\n\n# Briefing: "
    assert markdown.text.startswith(top) and "## References" in markdown.text
    word = client.post(
        "/api/v1/briefings", json={"kind": "topic", "target": "prevention", "format": "docx"}
    )
    assert word.content[:2] == b"PK" and "attachment" in word.headers["content-disposition"]
    since = client.post(
        "/api/v1/briefings", json={"kind": "since", "target": "2025-01-01", "format": "json"}
    ).json()
    headings = [s["heading"] for s in since["sections"]]
    assert since["title"] == "What changed since 2025-01-01"
    assert "New decisions" in headings and "Actions opened" in headings
    assert {c["date"] for c in since["citations"]} == {"2025-01-28"}


def test_upload_of_a_meeting_on_a_watched_topic_adds_one_digest_entry_and_only_once(
    api_settings: Settings, client: httpx.Client
):
    added = subprocess.run(
        [sys.executable, "-m", "quorum", "watch", "add", "knife crime"],
        env={**os.environ, "QUORUM_INDEX": str(api_settings.index_path)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "watching 'knife crime'" in added.stdout
    upload = {"files": (KNIFE_MINUTES.name, KNIFE_MINUTES.read_bytes(), "text/plain")}
    first = client.post("/api/v1/ingest", files=upload).json()
    assert first["summary"] == "1 added"
    entries = [e for e in first["digest"] if e["topic"] == "knife crime"]
    assert len(entries) >= 1 and entries[0]["date"] == "2017-06-01"
    quotes = [q["quote"] for e in entries for q in e["quotes"]]
    assert any(
        "knife" in q for q in quotes
    )  # the parser reads the sentence naming it as the heading
    assert all(q["source"] == KNIFE_MINUTES.name for e in entries for q in e["quotes"])
    again = client.post("/api/v1/ingest", files=upload).json()
    assert again["summary"] == "1 unchanged" and again["digest"] == []
    digest = client.get("/api/v1/watch/digest").json()
    assert [e["item"] for e in digest if e["topic"] == "knife crime"] == [
        e["item"] for e in entries
    ]


def test_a_bad_upload_is_reported_by_name_and_changes_nothing(client: httpx.Client):
    before = client.get("/api/v1/health").json()["meetings"]
    result = client.post("/api/v1/ingest", files={"files": ("empty.txt", b"", "text/plain")})
    assert result.status_code == 200
    [outcome] = result.json()["files"]
    assert outcome["status"] == "failed" and outcome["detail"].startswith("empty.txt: ")
    assert "uploads" not in outcome["detail"]  # the server's own paths stay private
    assert client.get("/api/v1/health").json()["meetings"] == before


def test_every_curl_example_in_the_readme_runs(server: str, api_settings: Settings, tmp_path):
    examples = readme_curl_lines()
    routes = {route(args) for args in examples}
    assert routes >= {
        ("POST", "/api/v1/ask"),
        ("GET", "/api/v1/meetings"),
        ("GET", "/api/v1/meetings/{id}"),
        ("GET", "/api/v1/register"),
        ("POST", "/api/v1/briefings"),
        ("POST", "/api/v1/ingest"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/watch/digest"),
    }
    meeting_id = httpx.get(f"{server}/api/v1/meetings", auth=(USER, PASSWORD)).json()[0]["id"]
    for args in examples:
        response = run_curl(args, server, meeting_id, tmp_path)
        assert response.status_code == 200, (shlex.join(args), response.text[:300])


def test_every_route_answers_its_documented_shape_or_a_documented_error(server: str):
    """Schemathesis generates requests from the published schema (a few per route, so CI
    stays quick); every response must be documented, in its documented shape, never a 5xx."""
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    schema = schemathesis.openapi.from_url(f"{server}/api/v1/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case) -> None:
            case.call_and_validate(
                base_url=server, headers=headers, timeout=120, checks=SCHEMA_CHECKS
            )

        conforms()


# ---------------------------------------------------------------- helpers

SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def readme_curl_lines() -> list[list[str]]:
    """The curl commands of the README's "Use it from another program" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it from another program", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^curl .*$", section, flags=re.MULTILINE)
    return [shlex.split(line) for line in commands]


def route(args: list[str]) -> tuple[str, str]:
    url = next(a for a in args if a.startswith("http"))
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    path = re.sub(r"/meetings/[^/]+$", "/meetings/{id}", path)
    method = args[args.index("-X") + 1] if "-X" in args else "POST" if "-F" in args else "GET"
    return method, path


def run_curl(args: list[str], server: str, meeting_id: str, folder: Path) -> httpx.Response:
    """What the curl line asks for, sent with httpx: -u, -H, -X, -d, -F name=@FILE, -o."""
    options: dict = {"headers": {}, "timeout": 120}
    method, _ = route(args)
    url = next(a for a in args if a.startswith("http"))
    url = re.sub(r"^https?://[^/]+", server, url).replace("MEETING_ID", meeting_id)
    pairs = iter(args[1:])
    for arg in pairs:
        if arg == "-u":
            user, _, password = next(pairs).partition(":")
            options["auth"] = (user, password)
        elif arg == "-H":
            name, _, value = next(pairs).partition(":")
            options["headers"][name.strip()] = value.strip()
        elif arg == "-d":
            options["content"] = next(pairs)
            options["headers"].setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif arg == "-F":
            field, _, path = next(pairs).partition("=@")
            source = PROJECT_ROOT / path
            options["files"] = {field: (source.name, source.read_bytes())}
        elif arg in ("-X", "-o"):
            next(pairs)
    if options.get("auth") == (USER, "PASSWORD"):
        options["auth"] = (USER, PASSWORD)
    return httpx.request(method, url, **options)
