"""The parts the chat page runs on (`Deps`) and the LLM endpoint's lifecycle (`LLMLink`).
No gradio here: `build_deps` is what `rag ui` does before it serves the page."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.ui.health import Health, LLMState, display_url, probe_models

from rag.errors import RagError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.ui.history import History
    from rag.ui.warm import Warmup

    from rag.answer.engine import AnswerEngine
    from rag.index.embed import Embedder
    from rag.index.retrieve import Retriever
    from rag.llm.client import ChatClient
    from rag.llm.session import LLMSession

log = logging.getLogger(__name__)


class LLMLink:
    """The LLM session the page runs on, watched: its state for the banner, and a dead local
    server restarted.

    One long-lived thread starts the session's local server and then watches it (restarting it
    if it died, probing the endpoint): the server dies with the *thread* that spawned it (Linux
    parent-death signal), so neither the main thread's blocking start nor a short-lived request
    thread may own it. A remote endpoint is only probed."""

    def __init__(self, session: LLMSession, every_s: float = 5.0) -> None:
        self.session = session
        self.settings = session.settings
        self.base_url = session.base_url
        self.state = LLMState.STARTING if session.local else LLMState.READY
        self.detail: str | None = None
        self.models: list[str] = []  # what the endpoint's /models listed at the last probe
        self._every_s = every_s
        self._since = time.monotonic()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> LLMLink:
        from rag.llm.session import LLMSession

        return cls(LLMSession(settings, progress=True))

    @property
    def local(self) -> bool:
        return self.session.local

    def client(self) -> ChatClient:
        """The chat client the engine uses; restarts happen here, in the watcher thread."""
        return self.session.client(restart_before_request=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llm-supervisor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching, and stop the server if we own it (idempotent)."""
        self._closing.set()
        self.session.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self.session.local and not self._start_local():
            return
        while not self._closing.is_set():
            self.check()
            self._closing.wait(self._every_s)

    def _start_local(self) -> bool:
        try:
            self.session.start()
        except RagError as e:
            log.error("the local LLM server could not be started: %s", e)
            self.state, self.detail = LLMState.FAILED, str(e)
            return False
        log.info("local LLM server ready on %s", self.base_url)
        self.state = LLMState.READY
        return True

    def check(self) -> LLMState:
        """Restart an owned server that died, then probe the endpoint."""
        try:
            self.session.ensure_running()
        except RagError as e:
            self.state, self.detail = LLMState.FAILED, str(e)
            return self.state
        key = self.settings.llm.api_key
        secret = key.get_secret_value() if key else None
        state, models = probe_models(self.base_url, self.settings.llm.model, secret)
        self.state, self.models = state, models or self.models
        return self.state

    def waiting_s(self) -> float:
        return time.monotonic() - self._since


@dataclass
class Deps:
    """What `build_app` needs: settings, the engine (None when the store cannot be opened) and
    its retriever, why the store is unusable (if so), the LLM link, the saved chats and the
    warm-up that says when the page is ready."""

    settings: Settings
    engine: AnswerEngine | None
    retriever: Retriever | None
    store_error: str | None
    llm: LLMLink
    history: History | None = None
    warm: Warmup = field(init=False)

    def __post_init__(self) -> None:
        from rag.ui.history import FILE_NAME, History
        from rag.ui.warm import Warmup

        if self.history is None:
            self.history = History(self.settings.data_dir / FILE_NAME)
        self.warm = Warmup(self.engine, self.llm)

    def start(self) -> None:
        """The LLM (started or probed) and the warm-up, both in the background."""
        self.llm.start()
        self.warm.start()

    def close(self) -> None:
        self.warm.close()
        self.llm.close()

    def health(self) -> Health:
        return Health(
            store_error=self.store_error,
            llm=self.llm.state,
            llm_detail=self.llm.detail,
            endpoint=display_url(self.llm.base_url),
            model=self.settings.llm.model,
            local=self.llm.local,
            waiting_s=self.llm.waiting_s(),
        )

    def info(self) -> list[tuple[str, str]]:
        from rag.index.store import describe_location

        r = self.retriever
        counts = f"{r.paper_count:,} papers · {r.chunk_count:,} chunks" if r else "unavailable"
        where = "local llama.cpp server" if self.llm.local else "remote endpoint"
        return [
            ("LLM endpoint", f"{display_url(self.llm.base_url)} ({where})"),
            ("Model", self.settings.llm.model),
            ("Store", describe_location(self.settings)),
            ("Collection", self.settings.collection_name()),
            ("Indexed", counts),
            ("LLM state", self.llm.state.value),
        ]


def open_or_ingest(settings: Settings, embedder: Embedder) -> Retriever:
    """The retriever over the store, ingesting the bundled corpus first if the store is empty
    (progress in the terminal)."""
    from rag.wiring import open_retriever, open_store, run_ingest

    if open_store(settings, embedder, create=True).count() == 0:
        log.warning("the store is empty; ingesting the corpus at %s", settings.corpus_dir)
        parsed, summary = run_ingest(settings, progress=True)
        log.warning("ingested: %s; %s", parsed.summary(), summary)
    return open_retriever(settings, embedder)


def build_deps(settings: Settings, link: LLMLink | None = None) -> Deps:
    """Store (ingested if empty) and engine; a store problem is kept for the banner, not raised,
    so the page still comes up and says what to fix."""
    from rag.wiring import build_engine, embedder_for

    link = link or LLMLink.for_settings(settings)
    try:
        retriever = open_or_ingest(settings, embedder_for(settings))
        engine = build_engine(settings, link.client(), retriever, warm="background")
    except RagError as e:
        log.error("the store cannot be used: %s", e)
        return Deps(settings, None, None, str(e), link)
    return Deps(settings, engine, retriever, None, link)
