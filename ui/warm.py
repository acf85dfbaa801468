"""Readiness while the page starts: one background thread loads the embedder and the index
(one search) and, once the LLM answers, warms its cached prompt prefix (rag/answer/warm.py).
The page never waits for it: it shows the phase in its header (ui/health.py `readiness`)."""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import TYPE_CHECKING

from rag.ui.health import LLMState

from rag.errors import RagError

if TYPE_CHECKING:
    from rag.ui.runtime import LLMLink

    from rag.answer.engine import AnswerEngine

log = logging.getLogger(__name__)


class Phase(StrEnum):
    EMBEDDER = "embedder"  # loading the embedder and the index
    MODEL = "model"  # waiting for the LLM, then warming its prefix
    READY = "ready"


class Warmup:
    def __init__(self, engine: AnswerEngine | None, llm: LLMLink, poll_s: float = 0.5) -> None:
        self.engine = engine
        self.llm = llm
        self.phase = Phase.EMBEDDER if engine is not None else Phase.MODEL
        self.embed_s: float | None = None
        self.model_s: float | None = None
        self._poll_s = poll_s
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="warm-up", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()

    def _run(self) -> None:
        from rag.answer.warm import warm_model, warm_retrieval

        if self.engine is None:
            return  # no store: nothing to warm; the banner says what to fix
        try:
            self.embed_s = warm_retrieval(self.engine)
            log.info("embedder and index loaded in %.1f s", self.embed_s)
        except RagError as e:
            log.error("warming retrieval failed: %s", e)
        self.phase = Phase.MODEL
        while self.llm.state is not LLMState.READY:
            if self._closing.wait(self._poll_s):
                return
        try:
            self.model_s = warm_model(self.engine)
            log.info("LLM prompt prefix cached in %.1f s", self.model_s)
        except RagError as e:  # the banner shows the endpoint's state; answers still try
            log.warning("warming the LLM failed: %s", e)
        self.phase = Phase.READY
