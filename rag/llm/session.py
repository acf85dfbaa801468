"""One LLM session: the endpoint the chat client talks to and, when that is the packaged model,
the local llama.cpp server assembled, started (or reused) for the session and stopped at its end.
The CLI, the eval and the UI all run their model through this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rag.llm.client import OpenAIChatClient
from rag.llm.server import LocalServer, local_url
from rag.settings import Settings


class LLMSession:
    """`RAG_LLM_BASE_URL` as given, or the packaged model on 127.0.0.1:`RAG_LLM_PORT`."""

    def __init__(self, settings: Settings, progress: bool = True) -> None:
        self.settings = settings
        self.progress = progress
        self.local = not settings.llm.base_url
        self.base_url = settings.llm.base_url or local_url(settings.llm.port)
        self.server: LocalServer | None = None

    def start(self) -> str:
        """Assemble the packaged model (first use only) and start or reuse its server; a remote
        endpoint needs nothing. Call it from a long-lived thread: a server we spawn dies with
        the thread that spawned it (see rag/llm/server.py)."""
        if self.local and self.server is None:
            from rag.llm.model import ensure_gguf

            gguf = ensure_gguf(self.settings.data_dir / "model", self.progress)
            server = LocalServer.from_settings(self.settings, gguf)
            server.start()
            self.server = server
        return self.base_url

    def ensure_running(self) -> None:
        """Restart the local server if it died (no-op for a remote endpoint)."""
        if self.server is not None:
            self.server.ensure_running()

    def stop(self) -> None:
        """Stop the local server if this session spawned it (idempotent)."""
        if self.server is not None:
            self.server.stop()

    def client(self, restart_before_request: bool = True) -> OpenAIChatClient:
        """A chat client for this endpoint. With `restart_before_request`, a dead local server
        is restarted before each request; the UI restarts from its own watcher thread instead."""
        before = self.ensure_running if restart_before_request and self.local else None
        return OpenAIChatClient(self.settings.llm, self.base_url, before)

    def __enter__(self) -> LLMSession:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def llm_session(settings: Settings, progress: bool = True) -> Iterator[LLMSession]:
    """A started session, stopped on exit (a server we spawned is stopped, a reused one kept)."""
    with LLMSession(settings, progress) as session:
        yield session
