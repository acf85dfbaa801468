"""One chat turn as a stream of page views: engine events in, rendered HTML out. No gradio here:
the page (ui/app.py) only forwards these views to its components."""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rag.ui import render

from rag.answer.conversation import Conversation
from rag.answer.events import Answer, Done, Evidence, Restart, Retrieved, Source, Status, Token
from rag.errors import RagError

log = logging.getLogger(__name__)
T = TypeVar("T")
StreamFn = Callable[[Conversation], Iterator[Any]]  # conversation → engine events
Explain = Callable[[Exception], str]  # a failed turn's message for the page


@dataclass
class ChatState:
    """One browser session: the engine's follow-up state and what the page shows."""

    conversation: Conversation = field(default_factory=Conversation)
    past: list[str] = field(default_factory=list)  # finished turns, rendered
    earlier_sources: list[str] = field(default_factory=list)  # their source cards, rendered
    live: _Live | None = None  # the turn being answered, for Stop to render
    key: str = field(default_factory=lambda: secrets.token_hex(3))
    turns: int = 0

    def next_rid(self) -> str:
        """A render id for the next turn: its card anchors are unique on the page."""
        self.turns += 1
        return f"{self.key}t{self.turns}"


@dataclass(frozen=True)
class View:
    chat: str
    status: str
    sources: str | None = None  # None: unchanged
    export: str | None = None  # Markdown of the finished answer


@dataclass(frozen=True)
class Tick:
    elapsed_s: float


# -- running the engine off the request thread ----------------------------------------------

_END = object()


@dataclass(frozen=True)
class _Failed:
    error: Exception


def pump(events: Iterator[T], tick_s: float = 1.0) -> Generator[T | Tick, None, None]:
    """`events` iterated in a worker thread and yielded here, with a Tick after each `tick_s`
    of silence. Gradio can close a generator only between two of its yields and a prefill is
    silent for 10–30 s: the ticks let a stop land at once. Closing this iterator makes the
    worker close `events` at its next item (which ends the HTTP stream, and so generation)."""
    items: queue.Queue[Any] = queue.Queue()
    closing = threading.Event()
    threading.Thread(
        target=_drain, args=(events, items, closing), name="answer-stream", daemon=True
    ).start()
    start = time.monotonic()
    try:
        while True:
            try:
                item = items.get(timeout=tick_s)
            except queue.Empty:
                yield Tick(time.monotonic() - start)
                continue
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        closing.set()


def _drain(events: Iterator[Any], items: queue.Queue[Any], closing: threading.Event) -> None:
    try:
        for event in events:
            if closing.is_set():
                break
            items.put(event)
    except Exception as e:  # carried to the consumer's thread, which raises it
        items.put(_Failed(e))
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        items.put(_END)


# -- one turn -------------------------------------------------------------------------------


@dataclass
class _Live:
    """The turn being answered."""

    question: str
    rid: str
    sources: list[Source] = field(default_factory=list)
    text: str = ""
    status: str = "retrieving…"
    answer: Answer | None = None
    final_body: str | None = None  # set once the turn ended (answer, error or stop)
    query: str = ""  # what was searched (highlighted in the cards)
    evidence: Evidence | None = None  # the instant extractive answer, shown before any token

    def body(self) -> str:
        if self.final_body is not None:
            return self.final_body
        ev = render.evidence_block(self.extract, self.rid, len(self.sources))
        return render.streaming_body(self.text, self.rid, len(self.sources), ev)

    @property
    def extract(self) -> Any:
        return self.evidence.extract if self.evidence else None

    def marks(self) -> render.Marks:
        return render.evidence_marks(self.answer, self.extract)

    def html(self) -> str:
        meta = render.answer_meta(self.answer) if self.answer else ""
        return render.turn_html(self.question, self.body(), meta)


def _chat(state: ChatState, live: _Live | None = None) -> str:
    turns = state.past + ([live.html()] if live and live.final_body is None else [])
    return render.chat_html(turns)


def _panel(state: ChatState, live: _Live, cited: list[int] | None = None) -> str:
    query = live.query or live.question
    current = render.sources_panel(live.sources, query, live.rid, cited or [], live.marks())
    return current + "".join(reversed(state.earlier_sources))


def _busy(state: ChatState, live: _Live, sources: str | None = None) -> View:
    return View(_chat(state, live), render.status_html(live.status, "busy"), sources)


def _on_event(state: ChatState, live: _Live, event: Any, scratch: Conversation) -> View:
    if isinstance(event, Retrieved):
        live.sources = list(event.sources)
        live.query = event.retrieval.question  # a follow-up's standalone query
        return _busy(state, live, _panel(state, live))
    if isinstance(event, Evidence):
        live.evidence = event
        return _busy(state, live, _panel(state, live))  # its sentences marked in the cards
    if isinstance(event, Status):
        live.status = event.text
    elif isinstance(event, Token):
        live.text += event.text
        live.status = "writing the answer…"
    elif isinstance(event, Restart):
        live.text, live.status = "", event.reason
    elif isinstance(event, Done):
        return _finish(state, live, event.answer, scratch)
    elif isinstance(event, Tick):
        status = render.status_html(f"{live.status} {event.elapsed_s:.0f} s", "busy")
        return View(_chat(state, live), status)
    return _busy(state, live)


def _finish(state: ChatState, live: _Live, answer: Answer, scratch: Conversation) -> View:
    state.conversation.turns = scratch.turns  # the turn counts only once it is complete
    live.answer = answer
    cited = [s.n for s in answer.cited]
    panel = _panel(state, live, cited)
    _end(state, live, render.answer_body(answer, live.rid), cited)
    kind = "info" if answer.abstained else "done"
    status = (
        "No answer in the sources."
        if answer.abstained
        else "Answered. Click a number to see its source."
    )
    markdown = render.export_markdown(answer)
    return View(_chat(state), render.status_html(status, kind), panel, markdown)


def _fail(state: ChatState, live: _Live, error: Exception, explain: Explain) -> View:
    if not isinstance(error, RagError):
        log.error("unexpected error while answering", exc_info=error)
    message = explain(error)
    panel = _panel(state, live) if live.sources else None
    _end(state, live, render.error_body(message, live.text, live.rid, len(live.sources)))
    return View(_chat(state), render.status_html(message, "error"), panel)


def _end(state: ChatState, live: _Live, body: str, cited: list[int] | None = None) -> None:
    """The turn is over: its final HTML joins the chat, its cards the earlier sources (so its
    [n] links keep a target)."""
    live.final_body = body
    state.past.append(live.html())
    if live.sources:
        folded = render.earlier_sources(
            live.sources,
            live.question,
            live.rid,
            cited or [],
            live.query or live.question,
            live.marks(),
        )
        state.earlier_sources.append(folded)


def run_turn(
    stream: StreamFn, state: ChatState, question: str, explain: Explain, tick_s: float = 1.0
) -> Iterator[View]:
    """Views for one question: evidence first, then status, tokens, and the checked answer.
    Closing the iterator (Stop) ends generation and leaves the turn marked as stopped."""
    live = state.live = _Live(question, state.next_rid())
    yield _busy(state, live, render.sources_placeholder("Searching the papers…"))
    scratch = Conversation(list(state.conversation.turns))
    try:
        with contextlib.closing(pump(stream(scratch), tick_s)) as events:
            for event in events:
                yield _on_event(state, live, event, scratch)
    except Exception as e:  # a turn's last line of defence: the page must say what went wrong
        yield _fail(state, live, e, explain)
    finally:
        if live.final_body is None:  # closed from outside: the user pressed Stop
            _end(state, live, _stopped(live))
        state.live = None


def _stopped(live: _Live) -> str:
    return render.stopped_body(live.text, live.rid, len(live.sources))


def stopped_chat(state: ChatState) -> str:
    """The chat with the turn in flight marked as stopped (Stop may run before the turn's own
    generator is closed, so it renders the same thing itself)."""
    live = state.live
    if live is None or live.final_body is not None:
        return _chat(state)
    stopped = _Live(live.question, live.rid, live.sources, live.text, final_body=_stopped(live))
    return render.chat_html([*state.past, stopped.html()])
