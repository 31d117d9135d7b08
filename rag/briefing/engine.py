"""Building briefings of one meeting, of a topic across meetings, and since a kind's last meeting.

A **meeting** briefing is one page: decisions and actions from the register
(:mod:`rag.register`), each verified against its item and noted with owner, due date and
status; then the meeting's most salient other sentences (:mod:`.salience`), chosen per word
until ``settings.brief_words`` is spent, the best two as the overview and the rest as one line
per item. A model backend gets one call per briefing to shorten those chosen sentences; each
rewrite is checked by :class:`rag.verify.Verifier` against the item of the sentence it rewrites
and by :func:`.attribution.attributed` against its quote, and the chosen sentence stands
wherever the rewrite fails (what failed is listed in ``Briefing.removed``).

**Topic** and **since** briefings go one agenda item at a time (map): a backend drafts a few
bullets from that item alone (a model in one short call whose passage is budgeted with
tiktoken to fit ``settings.n_ctx``, or the item's key sentences verbatim), each verified
against that item's passage exactly as answers are. There is no reduce call: each section is
already a short list of verified bullets, and a model pass over them could only restate them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

from core.errors import NotFoundError, UsageError
from core.settings import Settings
from index.models import Meeting
from index.outcomes import extract_outcomes
from rag.answer import AnswerEngine, citation_for
from rag.backends import get_backend
from rag.backends.base import Backend, one_line
from rag.briefing.attribution import attributed
from rag.briefing.models import Briefing, BriefingKind, Bullet, Section
from rag.briefing.render import OVERVIEW, word_count
from rag.briefing.salience import Candidate, is_near_duplicate, meeting_candidates
from rag.models import Citation, Passage
from rag.register import RegisterEntry, build_register, owner_label
from rag.retrieve import HybridRetriever, whole_item
from rag.text import Sentence, key_terms
from rag.verify import Checked, Evidence
from rag.watch import Watchlist, meetings_matching, topic_matches

OVERVIEW_SENTENCES = 2  # the most salient chosen sentences, after the meeting record
LATEST_ITEM_BULLETS = 2  # per item of the last meeting of a kind (since-last briefing)
SINCE_ITEM_BULLETS = 1  # per item of the meetings held around it
TOPIC_ITEM_BULLETS = 2  # per retrieved item (topic briefing)
TOPIC_TOP_K = 12
TOPIC_MIN_COVERAGE = 0.6  # share of the topic's key terms a retrieved item must contain


class _Run:
    """One briefing in progress: numbers its citations, keeps what verification removed and
    adds up the time spent in each stage."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.citations: dict[tuple[str, int], Citation] = {}
        self.removed: list[str] = []
        self.timings: dict[str, float] = {}

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        mark = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - mark

    def bullets(self, checked: list[Checked], passage: Passage, limit: int) -> list[Bullet]:
        """The verified sentences (at most ``limit``) as bullets cited to their quotes."""
        bullets: list[Bullet] = []
        seen: set[str] = set()
        for sentence in checked:
            if self.verified(sentence) and len(bullets) < limit and sentence.text not in seen:
                seen.add(sentence.text)
                bullets.append(Bullet(text=self.cited(sentence, passage)))
        return bullets

    def verified(self, sentence: Checked) -> bool:
        """Whether verification kept the sentence; what it did not keep is listed as removed."""
        if sentence.evidence is None:
            self.removed.append(sentence.text)
        return sentence.evidence is not None

    def cited(self, sentence: Checked, passage: Passage) -> str:
        """A verified sentence with the [n] marker of its quote (numbered on first use)."""
        key = (passage.meeting_id, sentence.evidence.quote.start)
        if key not in self.citations:
            self.citations[key] = citation_for(len(self.citations) + 1, passage, sentence)
        return with_marker(sentence.text, self.citations[key].n)

    def briefing(
        self,
        title: str,
        kind: BriefingKind,
        sections: list[Section],
        open_actions: list[RegisterEntry],
        backend: str,
    ) -> Briefing:
        self.timings["total"] = time.perf_counter() - self.started
        return Briefing(
            title=title,
            kind=kind,
            sections=[section for section in sections if section.bullets],
            citations=list(self.citations.values()),
            open_actions=open_actions,
            removed=self.removed,
            backend=backend,
            timings=self.timings,
        )


class BriefingEngine:
    """Builds briefings over one index with one backend: ``backend``, or the one
    ``settings.llm`` names (built now, so a misconfigured backend fails before any work).

    It shares an :class:`AnswerEngine`'s retriever, verifier and backend (whose model loads on
    first use); pass an answer engine's ``backend`` to share its loaded model too.
    """

    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever | None = None,
        backend: Backend | None = None,
    ) -> None:
        retriever = retriever or HybridRetriever(settings)
        backend = backend or get_backend(settings.llm, settings, retriever.embedder)
        self.settings = settings
        self.answers = AnswerEngine(settings, retriever, backend)

    @property
    def retriever(self) -> HybridRetriever:
        return self.answers.retriever

    def brief(self, kind: str, target: Meeting | str) -> Briefing:
        """A briefing of ``kind``: "meeting" (target: the Meeting), "topic" (target: the topic's
        words) or "since" (target: a date, YYYY-MM-DD, or a kind of meeting)."""
        if kind == "meeting":
            return self.meeting_briefing(target)
        if kind == "topic":
            return self.topic_briefing(target)
        day = iso_date(target)
        return self.since_date_briefing(day) if day else self.since_briefing(target)

    def meeting_briefing(self, meeting: Meeting) -> Briefing:
        """A one-page briefing: an overview, the meeting's decisions, its actions (owner, due
        date, status), then one line for each item with something salient to say, chosen by
        salience (:mod:`.salience`) until ``settings.brief_words`` is reached."""
        run = self._start()
        entries = [e for e in self._register(run) if e.meeting_id == meeting.id]
        title = f"Briefing: {meeting_heading(meeting)}"
        record = meeting_record(meeting, entries)
        sections = [
            self._register_section(
                "Decisions", [e for e in entries if e.kind == "decision"], run, short_note, True
            ),
            self._register_section(
                "Actions", [e for e in entries if e.kind == "action"], run, short_note, True
            ),
        ]
        backend = self.answers.backend.name
        so_far = Briefing(
            title=title, kind="meeting", record=record, sections=sections, backend=backend
        )
        kept = [b.text for s in sections for b in s.bullets]
        chosen = self._select(meeting, word_count(so_far) + len(OVERVIEW.split()), kept)
        lines = list(zip(chosen, self._item_lines(chosen, run), strict=True))
        by_salience = sorted(range(len(lines)), key=lambda i: -chosen[i].salience)
        first = set(by_salience[:OVERVIEW_SENTENCES])
        overview = [bullet for i, (_, bullet) in enumerate(lines) if i in first]
        items = sorted(
            (pair for i, pair in enumerate(lines) if i not in first),
            key=lambda pair: (item_order(meeting, pair[1].lead), pair[0].sentence.start),
        )
        sections.append(Section(heading="Items", bullets=merge_by_item([b for _, b in items])))
        briefing = run.briefing(
            title, "meeting", sections, [e for e in entries if is_open_action(e)], backend
        )
        briefing.record = record
        briefing.overview = overview
        return briefing

    def _select(self, meeting: Meeting, used: int, kept: list[str]) -> list[Candidate]:
        """The most salient sentences per word that fit what is left of the budget after
        ``used`` words: first the best sentence of each item, then a second for items with
        more to say, and so on; the register's own sentences and near-duplicates of anything
        ``kept`` are skipped. Best value first."""
        budget = self.settings.brief_words - used
        taken = [(o.start, o.end) for o in meeting.outcomes or extract_outcomes(meeting)]
        kept = list(kept)
        chosen: list[Candidate] = []
        candidates = meeting_candidates(meeting, taken)
        per_item, added = 0, True
        while added:  # a pass that adds nothing leaves nothing a later pass could add
            per_item, added = per_item + 1, False
            for candidate in candidates:
                label = candidate.passage.item_label
                named = sum(c.passage.item_label == label for c in chosen)
                cost = candidate.words + (0 if named else len(label.split()) + 1)
                if (
                    candidate not in chosen
                    and named < per_item
                    and cost <= budget
                    and not is_near_duplicate(candidate.sentence.text, kept)
                ):
                    chosen.append(candidate)
                    kept.append(candidate.sentence.text)
                    budget -= cost
                    added = True
        return chosen

    def _item_lines(self, chosen: list[Candidate], run: _Run) -> list[Bullet]:
        """One cited bullet per chosen sentence, led by its item's label: the model's
        wording where it drafts one (in one call for the whole briefing) that verifies and is
        no longer, else the chosen sentence itself."""
        if not chosen:
            return []
        with run.timed("draft"):
            draft = self.answers.backend.draft_condensed([sentence_passage(c) for c in chosen])
        rewritten = self._verified_rewrites(draft, chosen, run) if draft else {}
        bullets = []
        for i, candidate in enumerate(chosen):
            sentence = rewritten.get(i)
            if sentence is None or len(sentence.text) > len(candidate.sentence.text):
                quote = candidate.sentence
                sentence = Checked(one_line(quote.text), (1,), Evidence(0, quote, 1.0), "chosen")
            text = run.cited(sentence, candidate.passage)
            bullets.append(Bullet(text=text, lead=candidate.passage.item_label))
        return bullets

    def _verified_rewrites(
        self, draft: str, chosen: list[Candidate], run: _Run
    ) -> dict[int, Checked]:
        """The drafted bullets verified as an answer's sentences are, each against the whole
        item of the sentence it cites, then its names and figures against its quote; the
        first that holds for each chosen sentence, by index. A bullet resting on another item
        than the one it cites is dropped."""
        passages = [c.passage for c in chosen]
        meetings = self.answers.meetings
        with run.timed("verify"):
            checked = self.answers.verifier.check(draft, passages, meetings)
        found: dict[int, Checked] = {}
        for sentence in checked:
            index = sentence.cited[0] - 1 if sentence.cited else -1
            if sentence.evidence is not None and (
                index not in range(len(chosen))
                or passages[sentence.evidence.passage].item_label != passages[index].item_label
            ):
                sentence = replace(sentence, evidence=None, reason="rests on another item")
            if sentence.evidence is not None:
                passage = passages[index]
                sentence = attributed(sentence, passage, meetings[passage.meeting_id])
            if run.verified(sentence):
                found.setdefault(index, sentence)
        return found

    def topic_briefing(self, topic: str) -> Briefing:
        """What each meeting recorded on ``topic``, oldest meeting first, so the reader sees
        how the position changed; then the open actions recorded under those items."""
        topic = " ".join(topic.split())
        if not topic:
            raise UsageError("a topic briefing needs a topic")
        run = self._start()
        top_k = max(TOPIC_TOP_K, self.settings.top_k)
        with run.timed("retrieve"):
            found = self.retriever.retrieve(topic, top_k=top_k).passages
        relevant = [p for p in found if covers(p.text, topic)]
        meetings = self.answers.meetings
        sections = [
            Section(
                heading=meeting_heading(meetings[passages[0].meeting_id]),
                bullets=[
                    bullet
                    for passage in passages
                    for bullet in self._bullets(passage, topic, TOPIC_ITEM_BULLETS, run)
                ],
            )
            for passages in by_meeting_in_date_order(relevant)
        ]
        entries = [
            e
            for e in self._register(run)
            if is_open_action(e) and entry_on_topic(e, topic, relevant)
        ]
        sections.append(self._register_section("Open actions", entries, run))
        return run.briefing(
            f"Topic briefing: {topic}", "topic", sections, entries, self.answers.backend.name
        )

    def since_briefing(self, kind: str) -> Briefing:
        """The last meeting of ``kind``, every meeting of any kind held since the one before
        it (or, when there is none, since the last one), and the actions still open from them.
        """
        run = self._start()
        dated = sorted((m for m in self.retriever.meetings() if m.date), key=lambda m: m.date)
        name = resolve_kind(kind, dated)
        of_kind = [m for m in dated if m.kind == name]
        latest = of_kind[-1]
        since = (of_kind[-2] if len(of_kind) > 1 else latest).date
        around = [m for m in dated if m.date > since and m.id != latest.id]
        sections = [
            Section(
                heading=meeting_heading(m) + (f" (last {name})" if m is latest else ""),
                bullets=self._meeting_bullets(
                    m, LATEST_ITEM_BULLETS if m is latest else SINCE_ITEM_BULLETS, run
                ),
            )
            for m in sorted([latest, *around], key=lambda m: m.date)
        ]
        entries = [
            e for e in self._register(run) if (e.meeting_date or "") >= since and is_open_action(e)
        ]
        sections.append(self._register_section("Actions still open", entries, run))
        return run.briefing(
            f"Since the {'previous' if len(of_kind) > 1 else 'last'} {name} ({since})",
            "since",
            sections,
            entries,
            self.answers.backend.name,
        )

    def since_date_briefing(self, day: str) -> Briefing:
        """What changed since ``day``: decisions recorded, actions opened and actions reported
        done at meetings held on or after it, and the items of those meetings on watched topics;
        every bullet cited to the minutes."""
        run = self._start()
        entries = [e for e in self._register(run)]
        after = [e for e in entries if (e.meeting_date or "") >= day]
        closed = [e for e in entries if e.status == "done" and (e.closed_on or "") >= day]
        sections = [
            self._register_section(
                "New decisions", [e for e in after if e.kind == "decision"], run
            ),
            self._register_section("Actions opened", [e for e in after if e.kind == "action"], run),
            self._register_section(
                "Actions closed", [e for e in closed if e.kind == "action"], run
            ),
            *self._watched_sections(meetings_matching(self.retriever.meetings(), day), run),
        ]
        return run.briefing(
            f"What changed since {day}",
            "since",
            sections,
            [e for e in after if is_open_action(e)],
            self.answers.backend.name,
        )

    def _watched_sections(self, meeting_ids: list[str], run: _Run) -> list[Section]:
        """One section per watched topic: the matching sentences of these meetings, quoted."""
        sections = []
        meetings = self.answers.meetings
        for topic in Watchlist(self.settings.index_path).topics():
            with run.timed("watch"):
                found = topic_matches(self.retriever, topic, meeting_ids) if meeting_ids else []
            bullets = []
            for entry in found:
                passage = item_passage(meetings[entry.meeting_id], entry.item)
                for quote in entry.quotes:
                    sentence = Checked(
                        quote.quote, (1,), Evidence(1, quote_sentence(quote), entry.score), ""
                    )
                    bullets.append(
                        Bullet(text=run.cited(sentence, passage), note=f"watched: {topic.topic}")
                    )
            sections.append(
                Section(heading=f"On the watched topic “{topic.topic}”", bullets=bullets)
            )
        return sections

    def _start(self) -> _Run:
        """A new run, with the embedder (and the model, if any) loaded and timed as "load"."""
        run = _Run()
        with run.timed("load"):
            self.answers.embedder.warm_up()
            self.answers.backend.warm_up()
        return run

    def _register(self, run: _Run) -> list[RegisterEntry]:
        with run.timed("register"):
            return build_register(self.retriever.meetings())

    def _meeting_bullets(self, meeting: Meeting, limit: int, run: _Run) -> list[Bullet]:
        return [
            bullet
            for item in meeting.items
            for bullet in self._bullets(whole_item(meeting, item.number), None, limit, run)
        ]

    def _bullets(self, passage: Passage, topic: str | None, limit: int, run: _Run) -> list[Bullet]:
        """Draft bullets for one item (on ``topic``, or on the item as a whole), verify them
        against that item alone and keep at most ``limit``."""
        with run.timed("draft"):
            draft = self.answers.backend.draft_bullets(passage, topic, limit)
        if not draft:
            return []
        checked = self._check(draft, passage, run)
        if topic is not None:
            checked = [c for c in checked if c.evidence is None or on_topic(c, passage, topic)]
        return run.bullets(checked, passage, limit)

    def _check(self, draft: str, passage: Passage, run: _Run) -> list[Checked]:
        """Verify the draft's sentences against this passage alone, as answers are, and then
        their names and numbers against the sentence each one quotes."""
        meetings = self.answers.meetings
        with run.timed("verify"):
            checked = self.answers.verifier.check(draft, [passage], meetings)
            return [attributed(c, passage, meetings[passage.meeting_id]) for c in checked]

    def _register_section(
        self,
        heading: str,
        entries: list[RegisterEntry],
        run: _Run,
        note: Callable[[RegisterEntry], str] | None = None,
        led: bool = False,
    ) -> Section:
        """Register entries as bullets, verified against their agenda item (one check per
        item), each with its owner and status as a note; when ``led``, the first bullet of
        each item is led by the item's label (what the decision or action is about)."""
        meetings = self.answers.meetings
        groups: dict[tuple[str, str], list[RegisterEntry]] = {}
        for entry in entries:
            groups.setdefault((entry.meeting_id, entry.item), []).append(entry)
        bullets: list[Bullet] = []
        seen: set[str] = set()
        for (meeting_id, label), group in groups.items():
            lead = label if led else ""
            passage = item_passage(meetings[meeting_id], label)
            if passage is None:
                run.removed.extend(entry.text for entry in group)
                continue
            draft = "\n".join(f"{entry_sentence(entry)} [1]" for entry in group)
            for sentence in self._check(draft, passage, run):
                entry = next((e for e in group if sentence.text in entry_sentence(e)), None)
                if run.verified(sentence) and entry and sentence.text not in seen:
                    seen.add(sentence.text)
                    text = run.cited(sentence, passage)
                    bullets.append(Bullet(text=text, note=(note or entry_note)(entry), lead=lead))
                    lead = ""
        return Section(heading=heading, bullets=bullets)


def with_marker(sentence: str, n: int) -> str:
    """``sentence`` with `` [n]`` before its closing punctuation (added if it has none)."""
    sentence = sentence if sentence.endswith((".", "!", "?")) else sentence + "."
    return f"{sentence[:-1]} [{n}]{sentence[-1]}"


def by_meeting_in_date_order(passages: list[Passage]) -> list[list[Passage]]:
    """Passages grouped by meeting, oldest meeting first (undated last), items in order."""
    groups: dict[str, list[Passage]] = {}
    for passage in passages:
        groups.setdefault(passage.meeting_id, []).append(passage)
    ordered = sorted(groups.values(), key=lambda g: (not g[0].date, g[0].date, g[0].meeting_id))
    return [sorted(group, key=lambda p: p.start) for group in ordered]


def covers(text: str, topic: str) -> bool:
    """Whether ``text`` holds enough of the topic's key terms to be about it."""
    wanted = key_terms(topic)
    found = wanted & key_terms(text)
    return bool(wanted) and len(found) / len(wanted) >= TOPIC_MIN_COVERAGE


def on_topic(sentence: Checked, passage: Passage, topic: str) -> bool:
    """A verified sentence belongs in a topic briefing when it, its quote or its item's
    heading names the topic (a model may summarise other parts of a retrieved item)."""
    return covers(f"{sentence.text} {sentence.evidence.quote.text} {passage.item_label}", topic)


def entry_on_topic(entry: RegisterEntry, topic: str, passages: list[Passage]) -> bool:
    """An entry of a retrieved item that names the topic, or whose item's heading does."""
    retrieved = any(
        (p.meeting_id, p.item_label) == (entry.meeting_id, entry.item) for p in passages
    )
    return retrieved and (covers(entry.text, topic) or covers(entry.item, topic))


def resolve_kind(kind: str, meetings: list[Meeting]) -> str:
    """The meeting kind ``kind`` names: exactly (any case), or as the only kind containing it."""
    kinds = sorted({m.kind for m in meetings})
    wanted = kind.strip().lower()
    for matches in (
        [k for k in kinds if k.lower() == wanted],
        [k for k in kinds if wanted in k.lower()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(f"{kind!r} matches {len(matches)} kinds: {', '.join(matches)}")
    raise NotFoundError(f"no dated meeting of kind {kind!r}; kinds: {', '.join(kinds) or 'none'}")


def item_passage(meeting: Meeting, label: str) -> Passage | None:
    """The whole agenda item a register entry names by its label."""
    item = next((it for it in meeting.items if it.label == label), None)
    return whole_item(meeting, item.number) if item else None


def entry_sentence(entry: RegisterEntry) -> str:
    """A register entry's text on one line, starting with a capital ("A report on ...")."""
    text = one_line(entry.text)
    return text[:1].upper() + text[1:]


def is_open_action(entry: RegisterEntry) -> bool:
    return entry.kind == "action" and entry.status != "done"


def entry_note(entry: RegisterEntry) -> str:
    """ "action · owner: Alex House (AH) · asked by JT · open" """
    parts = [entry.kind]
    if entry.owner:
        parts.append(f"owner: {owner_label(entry)}")
    if entry.requested_by:
        parts.append(f"asked by {entry.requested_by}")
    if entry.due:
        parts.append(f"due {entry.due}")
    parts.append(entry.status)
    if entry.closed_by:
        parts.append(f"see {one_line(entry.closed_by)}")
    return " · ".join(parts)


def iso_date(text: str) -> str | None:
    """``text`` as an ISO date if it is one (YYYY-MM-DD), else None."""
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        return None


def quote_sentence(citation: Citation) -> Sentence:
    return Sentence(citation.quote, citation.start, citation.end)


def meeting_heading(meeting: Meeting) -> str:
    return f"{meeting.title} — {meeting.date or 'date unknown'}"


def short_note(entry: RegisterEntry) -> str:
    """A meeting briefing's note on an action: "owner AH · due 2025-03-31 · open" (the
    initials as the minutes write them); nothing on a decision (the minutes are its record)."""
    if entry.kind == "decision":
        return ""
    parts = [f"owner {entry.owner}"] if entry.owner else []
    if entry.due:
        parts.append(f"due {entry.due}")
    parts.append(entry.status if not entry.closed_on else f"{entry.status} {entry.closed_on}")
    return " · ".join(parts)


def meeting_record(meeting: Meeting, entries: list[RegisterEntry]) -> str:
    """What the typed meeting holds, as the overview's opening sentence (the title above it
    names the meeting and date)."""
    decisions = sum(e.kind == "decision" for e in entries)
    actions = [e for e in entries if e.kind == "action"]
    still_open = sum(is_open_action(e) for e in actions)
    counts = [plural(len(meeting.items), "item"), plural(decisions, "decision")]
    return f"{', '.join(counts)} and {plural(len(actions), 'action')} ({still_open} open)."


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sentence_passage(candidate: Candidate) -> Passage:
    """The chosen sentence alone, as the passage a model sees (headed by meeting and item)."""
    quote = candidate.sentence
    return candidate.passage.model_copy(
        update={"text": quote.text, "start": quote.start, "end": quote.end, "spans": []}
    )


def item_order(meeting: Meeting, label: str) -> int:
    return next((i for i, item in enumerate(meeting.items) if item.label == label), 0)


def merge_by_item(bullets: list[Bullet]) -> list[Bullet]:
    """One line per item: bullets with the same lead joined in order."""
    merged: list[Bullet] = []
    for bullet in bullets:
        if merged and merged[-1].lead == bullet.lead:
            merged[-1] = merged[-1].model_copy(update={"text": f"{merged[-1].text} {bullet.text}"})
        else:
            merged.append(bullet)
    return merged
