"""Decisions and actions found in the real sample minutes by the real parser."""

from __future__ import annotations

from hashlib import sha256

import pytest

from core.settings import SAMPLE_ARCHIVE
from index.models import Meeting, Outcome
from index.outcomes import extract_outcomes
from index.parse import parse_file, parse_text
from index.text import split_sentences


@pytest.fixture(scope="module")
def by_date() -> dict[str, Meeting]:
    meetings = [parse_file(path, SAMPLE_ARCHIVE) for path in sorted(SAMPLE_ARCHIVE.glob("*.txt"))]
    assert len(meetings) == 3
    return {meeting.date: meeting for meeting in meetings}


def outcomes_in(meeting: Meeting, item: str, kind: str | None = None) -> list[Outcome]:
    return [
        o
        for o in extract_outcomes(meeting)
        if o.item_number == item and (kind is None or o.kind == kind)
    ]


def only(outcomes: list[Outcome], words: str) -> Outcome:
    found = [o for o in outcomes if words in o.text]
    assert len(found) == 1, [o.text for o in outcomes]
    return found[0]


def test_every_outcome_is_a_verbatim_span_inside_its_item(by_date):
    for meeting in by_date.values():
        for outcome in extract_outcomes(meeting):
            item = meeting.item(outcome.item_number)
            assert meeting.text[outcome.start : outcome.end] == outcome.text
            assert item.start <= outcome.start < outcome.end <= item.end


def test_counts_per_meeting(by_date):
    kinds = {date: [o.kind for o in extract_outcomes(meeting)] for date, meeting in by_date.items()}
    assert (kinds["2024-09-02"].count("decision"), kinds["2024-09-02"].count("action")) == (1, 2)
    assert (kinds["2024-09-20"].count("decision"), kinds["2024-09-20"].count("action")) == (1, 5)
    assert (kinds["2025-01-28"].count("decision"), kinds["2025-01-28"].count("action")) == (2, 6)


def test_sept_20_item_3_the_four_things_the_pcc_asked_for(by_date):
    actions = outcomes_in(by_date["2024-09-20"], "3", "action")
    assert len(actions) == 4
    business_case = only(actions, "business case")
    assert "investment in prevention" in business_case.text
    report = only(actions, "outcomes and impact")
    assert "3 and 5 years" in report.text
    meeting_with_ah = only(actions, "a meeting with AH")
    assert "aligned with the Police and Crime Plan" in meeting_with_ah.text
    involvement = only(actions, "his involvement in conversations with partners")
    assert {a.requested_by for a in actions} == {"JT"}
    assert (meeting_with_ah.owner, meeting_with_ah.owner_name) == ("AH", "Alex House")
    assert meeting_with_ah.owner_role.startswith("Temporary Superintendent Local Policing")
    assert [a.owner for a in (business_case, report, involvement)] == [None, None, None]


def test_sept_20_item_3_questions_and_assent_are_not_outcomes(by_date):
    texts = [o.text for o in extract_outcomes(by_date["2024-09-20"]) if o.item_number == "3"]
    assert not any(t.startswith(("JT asked how", "JT asked if", "JT agreed")) for t in texts)


def test_jan_28_item_2_action_plan_for_peel_with_quarterly_progress(by_date):
    actions = outcomes_in(by_date["2025-01-28"], "2", "action")
    plan = only(actions, "develop an action plan")
    assert "findings in the PEEL report" in plan.text
    progress = only(actions, "report on progress")
    assert "Performance and Governance Board" in progress.text
    assert progress.due == "quarterly"
    for action in (plan, progress):
        assert (action.owner, action.owner_name, action.owner_role) == (
            "CC",
            "Trevor Rodenhurst",
            "Chief Constable",
        )
        assert action.requested_by == "PCC"


def test_sept_2_item_5_quarterly_scrutiny_is_a_decision(by_date):
    decision = only(outcomes_in(by_date["2024-09-02"], "5"), "quarterly detailed performance")
    assert decision.kind == "decision"
    assert decision.owner_name == "John Tizard"


def test_jan_28_item_7_agreements(by_date):
    decisions = outcomes_in(by_date["2025-01-28"], "7", "decision")
    officers = only(decisions, "would not be prudent to increase officer numbers")
    assert "at the expense of other critical areas" in officers.text
    assert officers.owner_name == "John Tizard and Trevor Rodenhurst"
    communications = only(decisions, "It was agreed to review communications")
    assert communications.owner is None
    assert [o.kind for o in outcomes_in(by_date["2025-01-28"], "7")] == ["decision", "decision"]


def test_jan_28_item_3_update_answered_in_the_meeting_is_not_an_action(by_date):
    actions = outcomes_in(by_date["2025-01-28"], "3", "action")
    assert [a.text.split()[:4] for a in actions] == [
        ["PCC", "requested", "a", "further"],
        ["He", "asked", "for", "this"],
    ]
    assert {a.requested_by for a in actions} == {"PCC"}
    assert {a.owner for a in actions} == {None}
    assert outcomes_in(by_date["2025-01-28"], "8") == []


def test_pronouns_and_commitments_resolve_to_the_speaker(by_date):
    intends = only(outcomes_in(by_date["2025-01-28"], "6"), "He intends to address")
    assert (intends.kind, intends.owner, intends.owner_name) == ("action", "PCC", "John Tizard")
    presenting = only(outcomes_in(by_date["2024-09-20"], "1"), "will be presenting")
    assert presenting.owner_name == "John Tizard and Phil Wells"
    assert presenting.due == "at the next Panel meeting"


def test_sept_2_item_4_requests_to_be_kept_informed_and_involved(by_date):
    actions = outcomes_in(by_date["2024-09-02"], "4", "action")
    assert [a.text.split()[:3] for a in actions] == [
        ["JT", "asked", "to"],
        ["JT", "said", "that"],
    ]
    assert "kept informed of progress" in actions[0].text
    assert "involved in reviewing morale" in actions[1].text


def test_addressee_owns_the_request_and_a_dated_due_becomes_iso():
    text = (
        "Minutes: 1:1 PCC John Tizard & CC Trevor Rodenhurst\n"
        "Date\tMonday 4 November 2024\n"
        "Name\tPosition\n"
        "Trevor Rodenhurst (TR)\tChief Constable\n"
        "John Tizard (JT)\tPolice and Crime Commissioner\n\n"
        "1. Welcome\n\n"
        "JT asked TR to circulate the custody review by 18th November 2024.\n"
    )
    meeting = parse_text(text, source="inline.txt", sha256=sha256(text.encode()).hexdigest())
    (action,) = extract_outcomes(meeting)
    assert (action.owner, action.owner_name, action.requested_by) == (
        "TR",
        "Trevor Rodenhurst",
        "JT",
    )
    assert action.due == "2024-11-18"


def test_split_sentences_joins_wrapped_lines_and_splits_bare_lists(by_date):
    jan = by_date["2025-01-28"]
    spans = split_sentences(jan.text)
    assert all(jan.text[s.start : s.end] == s.text for s in spans)
    assert not any("Official Sensitive" in s.text for s in spans), "a marking is never quoted"
    before = [s.text for s in spans if "rural community benefit" in s.text]
    assert len(before) == 1 and before[0].endswith("Rural Crime Action Team to")
    after = [s.text for s in spans if s.text.startswith("tackle specific rural crimes")]
    assert len(after) == 1
    wrapped = [s.text for s in split_sentences("The Panel agreed to\nreview the plan.")]
    assert wrapped == ["The Panel agreed to\nreview the plan."]
    listed = [s.text for s in spans if s.listed and "PEEL" in s.text]
    assert listed == ["develop an action plan for addressing the findings in the PEEL report"]
