"""Warming before the first question: the request sent to the LLM is exactly the start of every
fresh answer prompt (so the server's cached prefix serves the first question), one token long;
and the readiness thread waits for the LLM before sending it."""

from __future__ import annotations

import time

from rag.ui.health import LLMState
from rag.ui.warm import Phase, Warmup

from rag.answer.warm import static_prefix, warm_model, warm_retrieval
from tests.unit.test_answer_plumbing import FakeChatClient, engine


class RecordingChat(FakeChatClient):
    sent: list[dict]

    def stream(self, turns, **overrides):  # type: ignore[override]
        self.sent = [*getattr(self, "sent", []), overrides]
        return super().stream(turns, **overrides)


def test_the_warm_request_is_the_prefix_of_a_real_prompt_and_one_token_long() -> None:
    llm = RecordingChat(["x", "Tasks share skills [1]."])
    eng = engine(llm)
    warm_model(eng)
    eng.ask("How are skills shared?")
    warm, real = llm.calls
    assert warm[0] == real[0]  # the rules, identical
    assert real[1].content.startswith(warm[1].content) and warm[1].content.strip()
    assert llm.sent[0]["max_tokens"] == 1 and "max_tokens" not in llm.sent[1]
    assert static_prefix(eng) == warm


def test_the_warm_up_waits_for_the_llm_then_warms_it() -> None:
    class Link:
        state = LLMState.STARTING

    llm = FakeChatClient(["x"])
    eng = engine(llm)
    link = Link()
    warm = Warmup(eng, link, poll_s=0.01)  # type: ignore[arg-type]
    assert warm_retrieval(eng) >= 0
    warm.start()
    time.sleep(0.2)
    assert warm.phase is Phase.MODEL and llm.calls == []  # the model is still loading
    link.state = LLMState.READY
    deadline = time.monotonic() + 5
    while warm.phase is not Phase.READY and time.monotonic() < deadline:
        time.sleep(0.01)
    assert warm.phase is Phase.READY and len(llm.calls) == 1 and warm.embed_s is not None
