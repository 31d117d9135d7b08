"""The openai backend: any server speaking OpenAI's chat-completions API, over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from http.client import HTTPResponse
from typing import TYPE_CHECKING, Any

from core.errors import BackendError, ConfigError
from core.settings import Settings
from rag.backends.chat import ChatBackend
from rag.backends.wire import Message, chunk_deltas, message_text, request_body

if TYPE_CHECKING:
    from index.embed import Embedder


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
        body = request_body(messages, max_tokens, stream=True)
        with self._open(self._post(body)) as response:
            for data in _sse_data(self._lines(response)):
                if data == "[DONE]":
                    return
                yield from chunk_deltas(self._json(data), self.url)

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        body = request_body(messages, max_tokens, stream=False)
        with self._open(self._post(body)) as response:
            raw = self._read(response)
        return message_text(self._json(raw), self.url)

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


def openai_backend(settings: Settings, embedder: Embedder | None = None) -> ChatBackend:
    """The server and model ``settings.openai_*`` name (ConfigError now if either is missing)."""
    model = OpenAICompatibleLLM(
        settings.openai_base_url,
        settings.openai_model,
        api_key=settings.openai_api_key,
        timeout=settings.request_timeout,
    )
    return ChatBackend(model, settings, embedder)
