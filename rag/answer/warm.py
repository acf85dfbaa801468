"""Warming the answer path before the first question, so it is as fast as the next ones: the
question encoder loads on its first call (the weights, ~0.3 s) and the vector index, BM25 and
the sentence vectors on the first query; the LLM server prefills a prompt's static prefix (the
rules) once and then reuses it from its KV cache. Entry points call these in the background
(`rag ui`)."""

from __future__ import annotations

import time

from rag.answer.engine import AnswerEngine
from rag.llm.client import ChatTurn

WARM_QUESTION = "warm-up: load the embedder and the vector index"


def warm_retrieval(engine: AnswerEngine) -> float:
    """One question's context without the model: loads the embedder, the dense index, BM25,
    the evidence index and the sentence vectors. Seconds taken."""
    start = time.perf_counter()
    engine.contexts.build(WARM_QUESTION, None)
    return time.perf_counter() - start


def static_prefix(engine: AnswerEngine) -> list[ChatTurn]:
    """The start every fresh answer prompt shares: the rules, then the user turn up to the
    first source (see rag/answer/messages.py)."""
    template = engine.prompts.sources if engine.legacy else engine.prompts.evidence
    head = template.split("{sources}" if engine.legacy else "{papers}", 1)[0]
    return [ChatTurn("system", engine.messages.rules()), ChatTurn("user", head)]


def warm_model(engine: AnswerEngine) -> float:
    """One request of the static prefix for one token: the server keeps its KV cache, so the
    first real prompt only prefills its sources. Seconds taken (0 without a model)."""
    start = time.perf_counter()
    if engine.chat is None:
        return 0.0
    for _ in engine.chat.stream(static_prefix(engine), max_tokens=1, temperature=0.0):
        pass
    return time.perf_counter() - start
