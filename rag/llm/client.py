"""The chat client: our own small protocol (`ChatClient`), and its one implementation for the
local llama.cpp server and any remote OpenAI-compatible endpoint, the `openai` client. Errors
from the client become LLMUnavailableError / LLMResponseError naming the URL and what to do."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rag.errors import LLMError, LLMResponseError, LLMUnavailableError
from rag.settings import LLMSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    cached_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True)
class ChatTurn:
    role: str  # "system" | "user" | "assistant"
    content: str


def _usage(chunk: Any) -> Usage | None:
    usage = getattr(chunk, "usage", None)
    if not usage:
        return None
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(usage.prompt_tokens, cached, usage.completion_tokens)


class ChatClient(Protocol):
    """What the answer engine needs of a chat model: streamed text for a list of turns.

    `stream` yields text deltas, then (if the server reports it) one Usage; `overrides` (e.g.
    temperature, or model on an endpoint that serves several) apply to this request only. Closing the iterator early ends the request, which
    stops generation on the server."""

    url: str
    model: str

    def stream(self, turns: Sequence[ChatTurn], **overrides: Any) -> Iterator[str | Usage]: ...


class OpenAIChatClient:
    """Any OpenAI-compatible /v1 endpoint (the packaged llama.cpp server, OpenAI, vLLM, Ollama)
    through the `openai` client. `before_request` runs before each request (the local server's
    `ensure_running`: a crashed server is restarted before the next question)."""

    def __init__(
        self,
        cfg: LLMSettings,
        base_url: str,
        before_request: Callable[[], object] | None = None,
    ) -> None:
        from openai import OpenAI

        key = cfg.api_key.get_secret_value() if cfg.api_key else "not-needed"
        self.url = base_url
        self.model = cfg.model
        self._cfg = cfg
        self._before = before_request
        # No retries: a retry doubles the wait on a dead endpoint; we report instead.
        self._client = OpenAI(base_url=base_url, api_key=key, timeout=cfg.timeout_s, max_retries=0)

    def stream(self, turns: Sequence[ChatTurn], **overrides: Any) -> Iterator[str | Usage]:
        if self._before is not None:
            self._before()
        request = {
            "max_tokens": self._cfg.max_answer_tokens,
            "temperature": self._cfg.temperature,
            "model": self.model,
            **overrides,  # this request's own values (temperature, model) win over the settings
            "messages": [{"role": t.role, "content": t.content} for t in turns],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        stream = self._call(**request)
        try:
            yield from self._deltas(stream)
        finally:
            stream.close()  # ends the HTTP response: the server stops generating

    def _call(self, **request: Any) -> Any:
        try:
            return self._client.chat.completions.create(**request)
        except Exception as e:  # the openai / httpx exception zoo, mapped once here
            raise map_error(e, self.url, self._cfg.timeout_s) from e

    def _deltas(self, stream: Any) -> Iterator[str | Usage]:
        usage: Usage | None = None
        events = 0
        try:
            for chunk in stream:
                events += 1
                usage = _usage(chunk) or usage
                for choice in chunk.choices or ():
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        except Exception as e:  # errors mid-stream: timeouts, dropped connections, bad JSON
            raise map_error(e, self.url, self._cfg.timeout_s) from e
        if events == 0:  # e.g. a 200 whose body is not an event stream: nothing parsed at all
            raise LLMResponseError(
                f"the LLM endpoint {self.url} returned something that is not an OpenAI chat "
                "response (no stream events); is RAG_LLM_BASE_URL an OpenAI-compatible /v1 URL?"
            )
        if usage:
            yield usage


def complete(client: ChatClient, turns: Sequence[ChatTurn], **overrides: Any) -> str:
    """The whole reply as one string."""
    return "".join(p for p in client.stream(turns, **overrides) if isinstance(p, str))


def map_error(e: Exception, url: str, timeout: Any) -> LLMError:
    import openai

    if isinstance(e, openai.APITimeoutError):
        return LLMUnavailableError(
            f"the LLM endpoint {url} sent nothing for {_secs(timeout)}; it is overloaded or hung. "
            "Retry, or raise RAG_LLM_TIMEOUT_S"
        )
    if isinstance(e, openai.APIConnectionError):
        return LLMUnavailableError(
            f"cannot reach the LLM endpoint {url}; start the server or fix RAG_LLM_BASE_URL"
        )
    if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMResponseError(
            f"the LLM endpoint {url} refused the API key (HTTP {e.status_code}); "
            "set RAG_LLM_API_KEY (or OPENAI_API_KEY)"
        )
    if isinstance(e, openai.NotFoundError):
        return LLMResponseError(
            f"the LLM endpoint {url} has no such model (HTTP 404); check RAG_LLM_MODEL"
        )
    if isinstance(e, openai.APIStatusError):
        return LLMResponseError(
            f"the LLM endpoint {url} answered HTTP {e.status_code}: {_short(e)}"
        )
    return LLMResponseError(
        f"the LLM endpoint {url} returned something that is not an OpenAI chat response "
        f"({type(e).__name__}: {_short(e)}); is RAG_LLM_BASE_URL an OpenAI-compatible /v1 URL?"
    )


def _short(e: Exception) -> str:
    return str(e).replace("\n", " ")[:200]


def _secs(timeout: Any) -> str:
    read = getattr(timeout, "read", timeout)
    return f"{read:.0f} s" if isinstance(read, int | float) else "too long"


def wait_models(base_url: str, timeout_s: float) -> None:
    """Polls GET {base_url}/models until it answers (used before the first question)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=2):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise LLMUnavailableError(
                    f"the LLM endpoint {base_url} is not answering: {e}"
                ) from e
            time.sleep(0.5)
