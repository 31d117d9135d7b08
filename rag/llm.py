"""Answer backends behind one small interface: a local llama.cpp model, any OpenAI-compatible
server, and a deterministic double for tests.

Every backend decodes greedily (temperature 0, fixed seed) so the same prompt gives the same
answer, streams text deltas as they are produced, and reports its failures as BackendError.
No backend ever falls back to another one: a failure is shown, not papered over.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from http.client import HTTPResponse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from core.errors import BackendError, ConfigError, MissingDependencyError
from core.settings import Settings
from rag.gguf import ensure_model, model_spec

if TYPE_CHECKING:
    import xllamacpp

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

SEED = 42
DEFAULT_ABSTAIN = "The minutes do not record this."


class LLM(Protocol):
    """What the answer engine needs from a language model."""

    name: str

    def warm_up(self) -> None:
        """Load the model or check the server. Idempotent."""
        ...

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        """Text deltas of a greedy (temperature 0, fixed seed) reply, as they are produced."""
        ...

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        """The whole greedy reply."""
        ...


def make_llm(settings: Settings, *, abstain: str = DEFAULT_ABSTAIN) -> LLM:
    """The backend ``settings.llm`` names. ``extractive`` has none: ConfigError.

    ``abstain`` is the phrase the fake backend answers when no passage matches; pass the answer
    engine's own phrase so a fake abstention is recognised as one.
    """
    if settings.llm == "local":
        return LocalLLM(
            settings.local_model,
            settings.model_dir,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
        )
    if settings.llm == "openai":
        return OpenAICompatibleLLM(
            settings.openai_base_url,
            settings.openai_model,
            api_key=settings.openai_api_key,
            timeout=settings.request_timeout,
        )
    if settings.llm == "fake":
        return FakeLLM(abstain=abstain)
    raise ConfigError(f"QUORUM_LLM={settings.llm} answers without a language model")


def _request_body(messages: list[Message], max_tokens: int, *, stream: bool) -> dict[str, Any]:
    return {
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": SEED,
        "stream": stream,
    }


def _chunk_deltas(chunk: dict[str, Any], source: str) -> Iterator[str]:
    """The text in one OpenAI ``chat.completion.chunk``; BackendError if it carries an error."""
    if "error" in chunk:
        raise BackendError(f"{source}: {_error_text(chunk['error'])}")
    for choice in chunk.get("choices") or ():
        text = (choice.get("delta") or {}).get("content")
        if text:
            yield text


def _message_text(reply: dict[str, Any], source: str) -> str:
    """The text of a non-streamed OpenAI ``chat.completion``."""
    if "error" in reply:
        raise BackendError(f"{source}: {_error_text(reply['error'])}")
    try:
        return reply["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"{source}: reply has no choices[0].message: {reply!r:.300}") from None


def _error_text(error: object) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


# --- local llama.cpp ---------------------------------------------------------------------------


def build_engine_params(
    model_path: Path, *, n_ctx: int, n_threads: int, listen: str, api_key: str
) -> xllamacpp.CommonParams:
    """llama.cpp server parameters: one slot, greedy-ready sampling, quiet logs.

    ``listen`` is where the engine's built-in HTTP listener binds: a hostname (port chosen at
    random) or a path ending in ``.sock`` (a Unix socket, no TCP port at all). ``api_key`` is
    required by that listener on every route; in-process calls bypass it.
    """
    xlc = _import_xllamacpp()
    params = xlc.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.sampling.temp = 0.0
    params.sampling.seed = SEED
    params.verbosity = 0
    params.hostnames = [listen]
    params.port = 0
    params.api_keys = [api_key]
    params.ui = False
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = False
    params.n_threads_http = 1
    return params


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise MissingDependencyError("xllamacpp", "The local LLM backend") from None
    return xllamacpp


_DONE = object()


class LocalLLM:
    """A GGUF model run in-process by llama.cpp (xllamacpp), loaded on first use, once.

    Streaming: ``xllamacpp.Server.handle_chat_completions(request, callback)`` blocks (without
    the GIL) until generation ends and calls ``callback(chunk_dict)`` once per OpenAI
    ``chat.completion.chunk``; a callback returning True tells the engine to stop. There is no
    generator API, so :meth:`stream` runs the call in a worker thread that feeds a queue and
    yields deltas as they arrive; closing the generator early makes the next callback return
    True, which stops generation.

    The HTTP listener: ``xllamacpp.Server`` always starts llama.cpp's HTTP server as well (its
    init fails if the listener cannot bind; there is no switch to turn it off). By default it
    binds 127.0.0.1 on a random port with no API key, open CORS and the web UI, so any local
    process or a browser page could drive it. We bind it instead to a Unix socket
    (``hostnames=[".../engine.sock"]``, which llama.cpp supports) inside a fresh 0700 temporary
    directory, so no TCP port is opened and only this user can reach it, and on top set a
    random API key (checked on every HTTP route, not on in-process calls), disable the web UI
    and the /slots, /props and /metrics endpoints. The directory goes when this object does.
    (A Unix socket also sidesteps this build's Google Cloud compat mode, which moves a TCP
    listener to ``$AIP_HTTP_PORT`` when ``AIP_MODE=PREDICTION`` is set.)
    """

    def __init__(self, model: str, model_dir: Path, *, n_ctx: int, n_threads: int) -> None:
        model_spec(model)  # unknown name: ConfigError now, not at first question
        self.name = f"local:{model}"
        self._model = model
        self._model_dir = Path(model_dir)
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._server: xllamacpp.Server | None = None
        self._socket_dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._engine()

    @property
    def listening_address(self) -> str:
        """Where the engine's HTTP listener is bound: ``unix://<private dir>/engine.sock``."""
        return self._engine().listening_address

    def _engine(self) -> xllamacpp.Server:
        with self._lock:
            if self._server is None:
                self._server = self._load()
            return self._server

    def _load(self) -> xllamacpp.Server:
        xlc = _import_xllamacpp()
        path = ensure_model(self._model, self._model_dir)
        self._socket_dir = tempfile.TemporaryDirectory(prefix="quorum-llm-")
        params = build_engine_params(
            path,
            n_ctx=self._n_ctx,
            n_threads=self._n_threads,
            listen=str(Path(self._socket_dir.name) / "engine.sock"),
            api_key=secrets.token_urlsafe(32),
        )
        try:
            return xlc.Server(params)
        except Exception as exc:
            raise BackendError(f"{self.name}: llama.cpp could not load {path}: {exc}") from exc

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        server = self._engine()
        request = _request_body(messages, max_tokens, stream=True)
        chunks: queue.Queue[object] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return stop.is_set()

        def generate() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:
                chunks.put(exc)
            finally:
                chunks.put(_DONE)

        # Not a daemon: a daemon thread stopped at interpreter exit while inside llama.cpp
        # aborts the process ("FATAL: exception not rethrown"). Closing the generator stops it.
        threading.Thread(target=generate, name="quorum-llm").start()
        try:
            yield from self._drain(chunks)
        finally:
            stop.set()

    def _drain(self, chunks: queue.Queue[object]) -> Iterator[str]:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, Exception):
                raise BackendError(f"{self.name}: {item}") from item
            yield from _chunk_deltas(cast(dict[str, Any], item), self.name)

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        server = self._engine()
        request = _request_body(messages, max_tokens, stream=False)
        try:
            reply = server.handle_chat_completions(request)
        except Exception as exc:
            raise BackendError(f"{self.name}: {exc}") from exc
        return _message_text(reply, self.name)


# --- OpenAI-compatible HTTP server -------------------------------------------------------------


class OpenAICompatibleLLM:
    """Any server speaking OpenAI's ``POST {base_url}/chat/completions`` (llama.cpp, Ollama,
    vLLM, LM Studio, OpenAI itself). Streams with ``stream: true`` server-sent events.

    Uses the standard library only. Proxies from the environment are ignored (Quorum reads no
    environment variable outside its settings); ``timeout`` bounds the connection and every
    wait for the next bytes, not the whole answer.
    """

    def __init__(
        self,
        base_url: str | None,
        model: str | None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        if not base_url:
            raise ConfigError("the openai backend needs QUORUM_OPENAI_BASE_URL")
        if not model:
            raise ConfigError("the openai backend needs QUORUM_OPENAI_MODEL")
        self.name = f"openai:{model}"
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._api_key = api_key
        self._timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def warm_up(self) -> None:
        """Check the server answers ``GET {base_url}/models`` (BackendError if not)."""
        with self._open(
            urllib.request.Request(f"{self._base_url}/models", headers=self._headers())
        ):
            pass

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        body = _request_body(messages, max_tokens, stream=True)
        with self._open(self._post(body)) as response:
            for data in _sse_data(self._lines(response)):
                if data == "[DONE]":
                    return
                yield from _chunk_deltas(self._json(data), self.url)

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        body = _request_body(messages, max_tokens, stream=False)
        with self._open(self._post(body)) as response:
            raw = self._read(response)
        return _message_text(self._json(raw), self.url)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _post(self, body: dict[str, Any]) -> urllib.request.Request:
        payload = json.dumps({"model": self._model, **body}).encode()
        return urllib.request.Request(self.url, data=payload, headers=self._headers())

    def _open(self, request: urllib.request.Request) -> HTTPResponse:
        try:
            return self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", errors="replace").strip()
            raise BackendError(
                f"{request.full_url}: HTTP {exc.code} {exc.reason}: {detail}"
            ) from exc
        except urllib.error.URLError as exc:
            raise BackendError(f"cannot reach {request.full_url}: {exc.reason}") from exc
        except OSError as exc:  # timeouts and resets that urllib does not wrap
            raise BackendError(f"cannot reach {request.full_url}: {exc}") from exc

    def _lines(self, response: HTTPResponse) -> Iterator[str]:
        try:
            for raw in response:
                yield raw.decode("utf-8").rstrip("\r\n")
        except OSError as exc:
            raise BackendError(f"{self.url}: stream broken: {exc}") from exc

    def _read(self, response: HTTPResponse) -> str:
        try:
            return response.read().decode("utf-8")
        except OSError as exc:
            raise BackendError(f"{self.url}: reply broken: {exc}") from exc

    def _json(self, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except ValueError:
            raise BackendError(f"{self.url}: not JSON: {text[:200]!r}") from None
        if not isinstance(value, dict):
            raise BackendError(f"{self.url}: expected a JSON object, got {text[:200]!r}")
        return value


def _sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event: ``data:`` lines joined, dispatched at a blank line."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


# --- deterministic double ----------------------------------------------------------------------

_PASSAGE_HEADER = re.compile(r"^\[(\d+)\] ")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the",
    "their", "there", "this", "to", "was", "were", "what", "when", "where", "which", "who",
    "whom", "why", "will", "with", "would",
})
# fmt: on


class FakeLLM:
    """A deterministic stand-in with the LLM interface, for tests and demos.

    With ``reply=`` it streams that text word by word (whitespace kept with the word before it,
    so the deltas join back to ``reply``).

    Otherwise it plays a grounded reader over the last user message, which it expects in the
    answer engine's format::

        [1] <meeting title> — <YYYY-MM-DD> — <item number>. <heading>
        <passage text>

        [2] ...

        Question: <question>

    A passage starts at a line beginning ``[n] `` (its header, not searched) and runs until the
    next such line or the ``Question:`` line. The reader splits passage texts into sentences,
    scores each by how many content words (lower-cased, stopwords dropped) it shares with the
    question, and answers the best one followed by `` [n]``; the first best wins ties. If no
    sentence shares a content word, or there is no ``Question:`` line, it answers ``abstain``.
    ``max_tokens`` caps the number of words streamed.
    """

    name = "fake"

    def __init__(self, reply: str | None = None, *, abstain: str = DEFAULT_ABSTAIN) -> None:
        self.reply = reply
        self.abstain = abstain

    def warm_up(self) -> None:
        """Nothing to load."""

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        text = self.reply if self.reply is not None else self._grounded_answer(messages)
        yield from _words(text)[:max_tokens]

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens))

    def _grounded_answer(self, messages: list[Message]) -> str:
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        question, passages = parse_prompt(prompt)
        query = _content_words(question)
        best, best_score = self.abstain, 0
        for number, text in passages:
            for sentence in _SENTENCE_END.split(text):
                score = len(query & _content_words(sentence))
                if score > best_score:
                    best, best_score = f"{sentence.strip()} [{number}]", score
        return best


def parse_prompt(prompt: str) -> tuple[str, list[tuple[int, str]]]:
    """(question, [(passage number, passage text), ...]) from a prompt in the format above."""
    question = ""
    passages: list[tuple[int, list[str]]] = []
    in_passage = False
    for line in prompt.splitlines():
        if header := _PASSAGE_HEADER.match(line):
            passages.append((int(header.group(1)), []))
            in_passage = True
        elif line.startswith("Question:"):
            question = line.removeprefix("Question:").strip()
            in_passage = False
        elif in_passage:
            passages[-1][1].append(line)
    return question, [(n, " ".join(" ".join(lines).split())) for n, lines in passages]


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _words(text: str) -> list[str]:
    """``text`` cut before each word that follows whitespace; the pieces join back to ``text``."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]
