"""The OpenAI chat client's request, with httpx's MockTransport standing in for the server
(plumbing only: what is sent, how the stream is read, how errors are named)."""

from __future__ import annotations

import json

import httpx
import pytest

from rag.errors import LLMResponseError
from rag.llm.client import ChatTurn, OpenAIChatClient, Usage
from rag.settings import LLMSettings

URL = "http://fake-llm/v1"


def sse(*events: dict) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def delta(text: str) -> dict:
    return {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip


def client(handler, **cfg) -> OpenAIChatClient:
    from openai import OpenAI

    chat = OpenAIChatClient(LLMSettings(base_url=URL, **cfg), URL)
    transport = httpx.MockTransport(handler)
    chat._client = OpenAI(base_url=URL, api_key="k", http_client=httpx.Client(transport=transport))
    return chat


def test_per_request_overrides_win_over_the_settings() -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        usage = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}  # fmt: skip
        return httpx.Response(200, content=sse(delta("Hello"), delta(" world"), usage))

    chat = client(handler, temperature=0.1, max_answer_tokens=50)
    parts = list(chat.stream([ChatTurn("user", "hi")], temperature=0.9))
    assert parts[:2] == ["Hello", " world"] and isinstance(parts[2], Usage)
    assert parts[2].prompt_tokens == 7
    assert sent[0]["temperature"] == 0.9 and sent[0]["max_tokens"] == 50 and sent[0]["stream"]


def test_a_body_that_is_not_an_event_stream_is_named() -> None:
    chat = client(lambda r: httpx.Response(200, content=b"<html>not an api</html>"))
    with pytest.raises(LLMResponseError, match="not an OpenAI chat response"):
        list(chat.stream([ChatTurn("user", "hi")]))


def test_a_per_request_model_overrides_the_configured_one() -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, content=sse(delta("ok")))

    chat = client(handler, model="small")
    list(chat.stream([ChatTurn("user", "hi")]))
    list(chat.stream([ChatTurn("user", "hi")], model="large"))
    assert [s["model"] for s in sent] == ["small", "large"]
