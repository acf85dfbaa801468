"""The LLM client: one code path for the local llama.cpp server and any remote OpenAI-compatible
endpoint, the `openai` client through LlamaIndex's OpenAILike. Errors from the client become
LLMUnavailableError / LLMResponseError naming the URL and what to do."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


def make_llm(cfg: LLMSettings, base_url: str) -> Any:
    from llama_index.llms.openai_like import OpenAILike

    key = cfg.api_key.get_secret_value() if cfg.api_key else "not-needed"
    return OpenAILike(
        model=cfg.model,
        api_base=base_url,
        api_key=key,
        is_chat_model=True,
        context_window=cfg.n_ctx,
        max_tokens=cfg.max_answer_tokens,
        temperature=cfg.temperature,
        max_retries=0,  # a retry doubles the wait on a dead endpoint; we report instead
        timeout=cfg.timeout_s,
        additional_kwargs={"stream_options": {"include_usage": True}},
    )


def _usage(raw: Any) -> Usage | None:
    usage = getattr(raw, "usage", None) if raw is not None else None
    if usage is None and isinstance(raw, dict):
        usage = raw.get("usage")
    if not usage:
        return None
    get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
    details = get("prompt_tokens_details")
    cached = None
    if details is not None:
        cached = (
            details.get("cached_tokens") if isinstance(details, dict) else details.cached_tokens
        )
    return Usage(get("prompt_tokens"), cached, get("completion_tokens"))


def stream_chat(
    llm: Any, turns: list[ChatTurn], url: str, **overrides: Any
) -> Iterator[str | Usage]:
    """Yields text deltas, then (if the server reports it) one Usage. `overrides` (e.g.
    temperature) go to the API call for this request only."""
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role=t.role, content=t.content) for t in turns]
    usage: Usage | None = None
    chunks = 0
    try:
        for chunk in llm.stream_chat(messages, **overrides):
            chunks += 1
            usage = _usage(chunk.raw) or usage
            if chunk.delta:
                yield chunk.delta
    except GeneratorExit:
        # Closed early (Stop): LlamaIndex's generator holds the openai Stream in a reference
        # cycle, so its HTTP response, and generation on the server, would live on until the
        # cyclic GC runs. Collecting now closes the response; the server stops generating.
        gc.collect()
        raise
    except LLMError:
        raise
    except Exception as e:  # the openai / httpx exception zoo, mapped once here
        raise map_error(e, url, llm.timeout) from e
    if chunks == 0:  # e.g. a 200 whose body is not an event stream: nothing parsed at all
        raise LLMResponseError(
            f"the LLM endpoint {url} returned something that is not an OpenAI chat response "
            "(no stream events); is RAG_LLM_BASE_URL an OpenAI-compatible /v1 URL?"
        )
    if usage:
        yield usage


def complete(llm: Any, turns: list[ChatTurn], url: str) -> str:
    return "".join(p for p in stream_chat(llm, turns, url) if isinstance(p, str))


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
