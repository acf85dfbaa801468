"""The stream between the engine and the page: a stopped turn really closes the engine's
generator (which ends the HTTP stream), errors reach the page, and the conversation only keeps
complete turns. Events are plain generators here; the real engine runs in the integration tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from rag.ui.chat import ChatState, Tick, pump, run_turn, stopped_chat
from rag.ui.health import Health, LLMState, explain

from rag.answer.conversation import Conversation
from rag.answer.events import Retrieved, Status, Token
from rag.errors import LLMUnavailableError
from rag.index.retrieve import Retrieval


def test_closing_the_consumer_closes_the_producer_at_its_next_item() -> None:
    closed = threading.Event()
    release = threading.Event()

    def events() -> Iterator[int]:
        try:
            yield 1
            release.wait(5)  # a long prefill: nothing arrives for a while
            yield 2
            yield 3
        finally:
            closed.set()

    stream = pump(events(), tick_s=0.05)
    assert next(stream) == 1
    assert isinstance(next(stream), Tick)  # silence does not block the consumer
    stream.close()
    release.set()
    assert closed.wait(5)


def test_an_error_in_the_producer_reaches_the_consumer() -> None:
    def events() -> Iterator[int]:
        yield 1
        raise LLMUnavailableError("cannot reach the LLM endpoint")

    stream = pump(events(), tick_s=1)
    assert next(stream) == 1
    try:
        next(stream)
    except LLMUnavailableError as e:
        assert "cannot reach" in str(e)
    else:
        raise AssertionError("the error was swallowed")


def _events(conv: Conversation) -> Iterator[object]:
    yield Retrieved(Retrieval("q", [], "hybrid", 1.0), [])
    yield Status("model reading 0 sources…")
    yield Token("Partial answer")
    raise LLMUnavailableError("cannot reach the LLM endpoint http://127.0.0.1:1/v1")


def _health(state: LLMState) -> Health:
    return Health(None, state, None, "http://127.0.0.1:1/v1", "m", True)


def test_a_failed_turn_shows_the_error_and_keeps_the_conversation_clean() -> None:
    state = ChatState()
    views = list(run_turn(_events, state, "What?", lambda e: explain(e, _health(LLMState.DOWN))))
    assert "retrieving" in views[0].status
    assert "cannot reach the LLM endpoint" in views[-1].chat and "error" in views[-1].status
    assert "Partial answer" in views[-1].chat
    assert state.conversation.turns == [] and [r.status for r in state.records] == ["error"]


def test_while_the_model_loads_the_error_says_so() -> None:
    state = ChatState()
    views = list(
        run_turn(_events, state, "What?", lambda e: explain(e, _health(LLMState.STARTING)))
    )
    assert "still loading" in views[-1].chat


def test_a_stopped_turn_is_marked_and_not_remembered() -> None:
    state = ChatState()
    ended: list[int] = []

    def on_end(s: ChatState) -> None:
        ended.append(1)

    views = run_turn(_events, state, "What?", str, tick_s=1, on_end=on_end)
    for view in views:
        if "Partial answer" in view.chat:
            break
    assert "Stopped" in stopped_chat(state, on_end)  # what the Stop button shows at once
    views.close()  # the turn's own generator closes after: it must not end the turn again
    [record] = state.records
    assert record.status == "stopped" and record.partial == "Partial answer"
    assert state.conversation.turns == [] and ended == [1]


def test_editing_an_earlier_question_forgets_it_and_the_turns_after() -> None:
    from rag.ui.chat import restore, truncate

    from tests.unit.test_ui_history import done_record

    records = [done_record("a", "First?"), done_record("b", "Second?"), done_record("c", "Third?")]
    state = restore(records, "chat", "First?")
    assert [t.question for t in state.conversation.turns] == ["First?", "Second?", "Third?"]
    truncate(state, 1)  # question 2 is being asked again
    assert [r.question for r in state.records] == ["First?"]
    assert [t.question for t in state.conversation.turns] == ["First?"]
