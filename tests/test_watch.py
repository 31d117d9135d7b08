"""Topic watch through the CLI on real minutes: a digest entry when a new meeting raises a
watched topic, none when the same file is ingested again; `brief since DATE`; API login."""

from __future__ import annotations

import base64
import json
import shutil

from core.settings import PROJECT_ROOT
from quorum.cli import main
from web.auth import MIN_ITERATIONS, Accounts, User, hash_password, identify, new_token

KNIFE_MINUTES = PROJECT_ROOT / "data" / "corpus" / "minutes" / "essex_pfcp_2017-06-01.txt"


def flags(settings) -> list[str]:
    return ["--index", str(settings.index_path)]


def test_ingest_records_a_watched_topic_once(settings, sample_dir, capsys, monkeypatch):
    monkeypatch.setenv("QUORUM_DATA_DIR", str(settings.data_dir))
    assert main(["ingest", str(sample_dir), "--quiet", *flags(settings)]) == 0
    assert main(["watch", *flags(settings), "add", "knife crime"]) == 0
    assert main(["watch", *flags(settings), "list"]) == 0
    assert "knife crime" in capsys.readouterr().out
    assert main(["ingest", str(KNIFE_MINUTES), "--quiet", *flags(settings)]) == 0
    assert "watch: 1 new digest entry" in capsys.readouterr().out
    assert main(["ingest", str(KNIFE_MINUTES), "--quiet", *flags(settings)]) == 0
    assert "watch:" not in capsys.readouterr().out
    assert main(["watch", *flags(settings), "digest", "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["topic"] == "knife crime" and entry["date"] == "2017-06-01"
    assert entry["quotes"] and all("knife" in q["quote"] for q in entry["quotes"][:1])
    assert main(["watch", *flags(settings), "digest"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Watch digest") and "[1]" in markdown
    assert (
        main(["watch", *flags(settings), "digest", "--since", "2999-01-01", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == []


def test_brief_since_a_date_lists_new_decisions_and_opened_actions(sample_index, capsys):
    assert main(["brief", "since", "2025-01-01", *flags(sample_index)]) == 0
    shown = capsys.readouterr().out
    assert "# What changed since 2025-01-01" in shown.splitlines()[:3]  # after any marking
    assert "## New decisions" in shown and "## Actions opened" in shown
    assert "prudent" in shown and "2024-09-20" not in shown.split("## References")[1]


def test_identify_takes_basic_passwords_and_bearer_tokens_and_nothing_else(tmp_path):
    token, stored = new_token()
    users = tmp_path / "users.txt"
    alice = hash_password("pw", MIN_ITERATIONS)
    users.write_text(f"alice:{alice}:OFFICIAL-SENSITIVE\nrobot:{stored}\n", encoding="utf-8")
    accounts = Accounts.from_file(users, "TOP-SECRET", attempts=10)

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert identify(basic("alice", "pw"), accounts) == User("alice", "OFFICIAL-SENSITIVE")
    assert identify(basic("alice", "pw"), accounts).name == "alice"  # remembered, still right
    assert identify(basic("alice", "nope"), accounts) is None
    assert identify(basic("bob", "pw"), accounts) is None
    assert identify(f"Bearer {token}", accounts) == User("robot", "OFFICIAL")
    assert identify(f"Bearer {token}0", accounts) is None
    assert identify("Basic not-base64!", accounts) is None
    assert identify(None, accounts) is None


def test_brief_since_a_date_lists_actions_a_later_meeting_closed(archive_copy, settings, capsys):
    followup = PROJECT_ROOT / "tests" / "fixtures" / "followup" / "pgb_2024-10-29_test_fixture.txt"
    shutil.copy(followup, archive_copy)
    assert main(["ingest", str(archive_copy), "--quiet", *flags(settings)]) == 0
    capsys.readouterr()
    assert main(["brief", "since", "2024-10-01", *flags(settings)]) == 0
    closed = capsys.readouterr().out.split("## Actions closed", 1)[1].split("\n## ", 1)[0]
    assert "business case" in closed and "[" in closed


def test_a_digest_quoting_a_marked_item_is_withheld_below_its_marking(settings, sample_dir):
    from web.services import Services

    assert main(["watch", *flags(settings), "add", "rural crime"]) == 0
    assert main(["ingest", str(sample_dir), "--quiet", *flags(settings)]) == 0
    services = Services(settings)
    cleared = services.digest(None, "OFFICIAL-SENSITIVE")
    marked = [e for e in cleared if any(q.marking for q in e.quotes)]
    assert marked and marked[0].date == "2025-01-28"
    assert "OFFICIAL" in (marked[0].quotes[0].marking or "").upper()
    shown = services.digest(None, "OFFICIAL")
    assert all(not q.marking for entry in shown for q in entry.quotes)
    assert len(shown) < len(cleared)
