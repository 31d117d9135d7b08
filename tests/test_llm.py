"""The answer backends: the deterministic double, the registry, the real local and HTTP paths."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import BackendError, ConfigError, UnknownBackendError
from core.settings import Settings
from rag.backends import backend_names, get_backend
from rag.backends.extractive import ExtractiveBackend
from rag.backends.local import LocalLLM, build_engine_params
from rag.backends.openai import OpenAICompatibleLLM
from rag.backends.wire import Message
from rag.gguf import ensure_model
from tests.fakes import DEFAULT_ABSTAIN, FakeLLM, parse_prompt

SMALL = "qwen2.5-coder-0.5b"

PROMPT = """[1] Police and Crime Panel — 2024-02-05 — 4. Precept 2024/25
The Panel considered the Commissioner's proposed precept. The Panel approved an increase \
of £13 for a Band D property.

[2] Joint Audit Committee — 2024-03-12 — 6. Internal audit plan
The Committee noted the internal audit plan. Members asked for a review of overtime controls.

Question: What increase for a Band D property did the panel approve?"""


def ask(prompt: str) -> list[Message]:
    return [
        {"role": "system", "content": "Answer from the numbered passages only; cite them."},
        {"role": "user", "content": prompt},
    ]


def closed_loopback_port() -> int:
    """A port nothing listens on: bound, read, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- FakeLLM -----------------------------------------------------------------------------------


def test_fake_reply_streams_word_by_word_and_joins_back() -> None:
    llm = FakeLLM(reply="The motion  was carried.\nNext item.")
    deltas = list(llm.stream(ask("anything"), max_tokens=100))
    assert deltas == ["The ", "motion  ", "was ", "carried.\n", "Next ", "item."]
    assert llm.complete(ask("anything"), max_tokens=100) == "The motion  was carried.\nNext item."
    assert llm.complete(ask("anything"), max_tokens=2) == "The motion  "


def test_parse_prompt_reads_question_and_passage_texts_without_headers() -> None:
    question, passages = parse_prompt(PROMPT)
    assert question == "What increase for a Band D property did the panel approve?"
    assert [n for n, _ in passages] == [1, 2]
    assert passages[0][1].startswith("The Panel considered")
    assert "Precept 2024/25" not in passages[0][1]
    assert passages[1][1].endswith("overtime controls.")


def test_fake_reader_answers_the_best_overlapping_sentence_with_its_citation() -> None:
    llm = FakeLLM()
    answer = llm.complete(ask(PROMPT), max_tokens=200)
    assert answer == "The Panel approved an increase of £13 for a Band D property. [1]"
    assert "".join(llm.stream(ask(PROMPT), max_tokens=200)) == answer


def test_fake_reader_picks_the_second_passage_when_it_matches() -> None:
    prompt = PROMPT.replace(
        "Question: What increase for a Band D property did the panel approve?",
        "Question: Which controls did members ask to review?",
    )
    answer = FakeLLM().complete(ask(prompt), max_tokens=200)
    assert answer == "Members asked for a review of overtime controls. [2]"


def test_fake_reader_abstains_without_shared_content_words() -> None:
    prompt = PROMPT.rsplit("Question:", 1)[0] + "Question: Who chairs the fire authority?"
    assert FakeLLM().complete(ask(prompt), max_tokens=200) == DEFAULT_ABSTAIN
    custom = FakeLLM(abstain="Not in the minutes.")
    assert custom.complete(ask(prompt), max_tokens=200) == "Not in the minutes."
    assert custom.complete(ask("[1] x\nno question line"), max_tokens=200) == "Not in the minutes."


# --- the registry ------------------------------------------------------------------------------


def settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(data_dir=tmp_path, **fields)


def backend_for(tmp_path: Path, **fields: object):
    chosen = settings(tmp_path, **fields)
    return get_backend(chosen.llm, chosen)


def test_get_backend_dispatches_on_settings(tmp_path: Path) -> None:
    fake = backend_for(tmp_path, llm="fake")
    assert fake.name == "fake"
    nothing = "If no passage is about the question, write only: Nothing recorded.\nQuestion: x?"
    assert fake.model.complete(ask(nothing), max_tokens=10) == "Nothing recorded."
    local = backend_for(tmp_path, llm="local", local_model=SMALL)
    assert isinstance(local.model, LocalLLM)
    assert local.name == f"local:{SMALL}"
    assert not (tmp_path / "models").exists()  # nothing assembled or loaded before first use
    remote = backend_for(
        tmp_path, llm="openai", openai_base_url="http://127.0.0.1:9/v1/", openai_model="m"
    )
    assert isinstance(remote.model, OpenAICompatibleLLM)
    assert remote.name == "openai:m"
    assert remote.model.url == "http://127.0.0.1:9/v1/chat/completions"
    assert local.streams_draft and remote.streams_draft


def test_extractive_is_a_backend_that_writes_no_token_stream(tmp_path: Path) -> None:
    extractive = backend_for(tmp_path, llm="extractive")
    assert isinstance(extractive, ExtractiveBackend)
    assert extractive.name == "extractive" and not extractive.streams_draft


def test_backends_are_listed_in_registration_order_and_unknown_names_refused(
    tmp_path: Path,
) -> None:
    assert backend_names() == ["extractive", "local", "openai", "fake"]
    with pytest.raises(UnknownBackendError, match="extractive, local, openai, fake"):
        get_backend("gpt-5", settings(tmp_path))


def test_incomplete_openai_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="QUORUM_OPENAI_BASE_URL"):
        backend_for(tmp_path, llm="openai", openai_model="m")
    with pytest.raises(ConfigError, match="QUORUM_OPENAI_MODEL"):
        backend_for(tmp_path, llm="openai", openai_base_url="http://127.0.0.1:9/v1")


def test_local_llm_rejects_unknown_model_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown local model"):
        LocalLLM("gpt-5", tmp_path, n_ctx=512, n_threads=2)


# --- OpenAI-compatible client ------------------------------------------------------------------


def test_unreachable_server_is_a_backend_error_naming_the_url() -> None:
    base = f"http://127.0.0.1:{closed_loopback_port()}/v1"
    llm = OpenAICompatibleLLM(base, "m", timeout=5)
    with pytest.raises(BackendError, match=rf"cannot reach {base}/chat/completions"):
        list(llm.stream(ask("hi"), max_tokens=5))
    with pytest.raises(BackendError, match="cannot reach"):
        llm.complete(ask("hi"), max_tokens=5)
    with pytest.raises(BackendError, match=rf"cannot reach {base}/models"):
        llm.warm_up()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("llm-models")
    yield ensure_model(SMALL, directory)
    shutil.rmtree(directory)


@pytest.fixture(scope="module")
def llama_http_server(model_path: Path) -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible HTTP server (xllamacpp) on a random loopback port."""
    import xllamacpp

    params = build_engine_params(
        model_path, n_ctx=1024, n_threads=2, listen="127.0.0.1", api_key="test-key"
    )
    server = xllamacpp.Server(params)
    yield server.listening_address + "/v1"
    del server


@pytest.mark.slow
def test_openai_client_streams_and_completes_against_llama_server(llama_http_server: str) -> None:
    llm = OpenAICompatibleLLM(llama_http_server, SMALL, api_key="test-key", timeout=60)
    llm.warm_up()
    deltas = list(llm.stream(ask(PROMPT), max_tokens=48))
    assert len(deltas) > 1
    text = llm.complete(ask(PROMPT), max_tokens=48)
    assert text.strip()
    assert "".join(deltas) == text


@pytest.mark.slow
def test_openai_http_errors_are_backend_errors(llama_http_server: str) -> None:
    wrong_key = OpenAICompatibleLLM(llama_http_server, SMALL, api_key="wrong", timeout=60)
    with pytest.raises(BackendError, match="HTTP 401"):
        wrong_key.complete(ask("hi"), max_tokens=4)
    too_long = OpenAICompatibleLLM(llama_http_server, SMALL, api_key="test-key", timeout=60)
    with pytest.raises(BackendError, match="context size"):
        list(too_long.stream(ask("minutes " * 2000), max_tokens=4))


# --- local llama.cpp ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_llm(model_path: Path) -> LocalLLM:
    llm = LocalLLM(SMALL, model_path.parent, n_ctx=1024, n_threads=2)
    llm.warm_up()
    return llm


@pytest.mark.slow
def test_local_model_answers_and_stream_matches_complete(local_llm: LocalLLM) -> None:
    one_passage = PROMPT.split("\n\n[2]")[0] + "\n\n" + PROMPT.rsplit("\n\n", 1)[1]
    deltas = list(local_llm.stream(ask(one_passage), max_tokens=48))
    assert len(deltas) > 1
    text = local_llm.complete(ask(one_passage), max_tokens=48)
    assert text.strip()
    assert "".join(deltas) == text


@pytest.mark.slow
def test_local_engine_errors_are_backend_errors(local_llm: LocalLLM) -> None:
    with pytest.raises(BackendError, match="context size"):
        list(local_llm.stream(ask("minutes " * 2000), max_tokens=4))
    with pytest.raises(BackendError, match="context size"):
        local_llm.complete(ask("minutes " * 2000), max_tokens=4)


@pytest.mark.slow
def test_local_engine_listens_on_no_tcp_port(local_llm: LocalLLM) -> None:
    address = local_llm.listening_address
    assert address.startswith("unix://")
    socket_path = Path(address.removeprefix("unix://"))
    assert socket_path.parent.stat().st_mode & 0o077 == 0


class _OneAtATimeProbe:
    """Stands in for the llama.cpp server object (the real one needs the slow model): it
    records how many generations run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.guard = threading.Lock()

    def handle_chat_completions(self, request, on_chunk=None):
        with self.guard:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.2)
        with self.guard:
            self.running -= 1
        reply = {"choices": [{"message": {"content": "ok"}, "delta": {"content": "ok"}}]}
        if on_chunk:
            on_chunk(reply)
        return reply


def test_the_local_model_never_runs_two_generations_at_once(tmp_path):
    llm = LocalLLM(SMALL, tmp_path, n_ctx=1024, n_threads=2)
    probe = _OneAtATimeProbe()
    llm._server = probe
    messages = [{"role": "user", "content": "hello"}]
    jobs = [lambda: "".join(llm.stream(messages, max_tokens=4))] * 3
    jobs += [lambda: llm.complete(messages, max_tokens=4)] * 3
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert probe.most == 1


def test_a_question_too_long_for_the_models_context_is_a_named_error(settings):
    from core.errors import UsageError
    from rag.backends.chat import ChatBackend

    small = settings.with_overrides(n_ctx=512, llm="fake")
    backend = ChatBackend(FakeLLM(), small)
    with pytest.raises(UsageError, match="question is too long for the model's context"):
        backend.draft_answer("why " * 600, [])
    assert backend.answer_budget("What did we agree?") <= small.answer_tokens
