"""A misbehaving OpenAI-compatible endpoint (down, hanging, 500, 401, garbage) gives a specific
error within the configured time, naming the URL. The endpoints here are fault injectors on
127.0.0.1, not fake models: they never produce an answer."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from rag.errors import LLMResponseError, LLMUnavailableError
from rag.llm.client import ChatTurn, OpenAIChatClient, complete
from rag.settings import LLMSettings

TURNS = [ChatTurn("user", "hello")]


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 500
    body = b'{"error": "boom"}'

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(status: int, body: bytes) -> Iterator[str]:
    handler = type("H", (_Handler,), {"status": status, "body": body})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def _ask(url: str, timeout: float = 30.0) -> str:
    cfg = LLMSettings(base_url=url, timeout_s=timeout, api_key="sk-secret-xyz")
    return complete(OpenAIChatClient(cfg, url), TURNS)


def test_endpoint_down(unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}/v1"
    with pytest.raises(LLMUnavailableError, match=f"cannot reach the LLM endpoint {url}"):
        _ask(url)


def test_endpoint_that_hangs_times_out_within_the_configured_time(hanging_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="sent nothing for 2 s"):
        _ask(hanging_url, timeout=2.0)
    assert time.monotonic() - start < 8


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (500, b'{"error": {"message": "boom"}}', "answered HTTP 500"),
        (401, b'{"error": {"message": "bad key"}}', "refused the API key"),
        (200, b"this is not json", "not an OpenAI chat response"),
    ],
)
def test_endpoint_errors_are_specific(status: int, body: bytes, match: str) -> None:
    gen = _serve(status, body)
    url = next(gen)
    try:
        with pytest.raises(LLMResponseError, match=match) as info:
            _ask(url)
        assert url in str(info.value) and "sk-secret-xyz" not in str(info.value)
    finally:
        next(gen, None)
