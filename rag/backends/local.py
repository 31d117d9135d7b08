"""The local backend: a GGUF model run in process by llama.cpp (xllamacpp), loaded on first use.

xllamacpp is imported only when a model is loaded, so listing or building backends needs none.
"""

from __future__ import annotations

import queue
import secrets
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.errors import BackendError, MissingDependencyError
from core.settings import Settings
from rag.backends.chat import ChatBackend
from rag.backends.wire import SEED, Message, chunk_deltas, message_text, request_body
from rag.gguf import ensure_model, model_spec

if TYPE_CHECKING:
    import xllamacpp

    from index.embed import Embedder


PROMPT_CACHE_MIB = 256


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
    # Reuse the KV of the prefix a prompt shares with the one before it (the system prompt
    # and the fixed preamble of the answer prompt), and keep a few earlier prompts' KV in a
    # host cache bounded here (llama.cpp's default allows 8 GiB).
    params.cache_prompt = True
    params.cache_ram_mib = PROMPT_CACHE_MIB
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
        self._generating = threading.Lock()  # one generation at a time, whoever asks

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
        request = request_body(messages, max_tokens, stream=True)
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
                self._generating.release()
                chunks.put(_DONE)

        # Not a daemon: a daemon thread stopped at interpreter exit while inside llama.cpp
        # aborts the process ("FATAL: exception not rethrown"). Closing the generator stops it.
        # The lock is taken here and let go when llama.cpp returns: two callers (the app's
        # queue, an API, a briefing) never make it generate twice at once on two cores.
        self._generating.acquire()
        threading.Thread(target=generate, name="quorum-llm").start()
        try:
            yield from self._drain(chunks)
        finally:
            stop.set()

    def _drain(self, chunks: queue.Queue[object]) -> Iterator[str]:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, Exception):
                raise BackendError(f"{self.name}: {item}") from item
            yield from chunk_deltas(cast(dict[str, Any], item), self.name)

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        server = self._engine()
        request = request_body(messages, max_tokens, stream=False)
        try:
            with self._generating:
                reply = server.handle_chat_completions(request)
        except Exception as exc:
            raise BackendError(f"{self.name}: {exc}") from exc
        return message_text(reply, self.name)


def local_backend(settings: Settings, embedder: Embedder | None = None) -> ChatBackend:
    """The model ``settings.local_model`` names (ConfigError now if it names none)."""
    model = LocalLLM(
        settings.local_model,
        settings.model_dir,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
    )
    return ChatBackend(model, settings, embedder)
