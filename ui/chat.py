"""One chat turn as a stream of page views: engine events in, rendered HTML out. No gradio here:
the page (ui/app.py) only forwards these views to its components. A session's turns are kept
as records (ui/records.py): the chat, the sources panel, the history and the exports are all
rendered from them."""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rag.ui import render
from rag.ui.records import DONE, FAILED, STOPPED, TurnRecord

from rag.answer.conversation import Conversation
from rag.answer.events import Answer, Done, Evidence, Restart, Retrieved, Source, Status, Token
from rag.errors import RagError

log = logging.getLogger(__name__)
T = TypeVar("T")
StreamFn = Callable[[Conversation], Iterator[Any]]  # conversation → engine events
Explain = Callable[[Exception], str]  # a failed turn's message for the page
Common = Callable[[str], bool] | None  # is a word too common in the corpus to highlight?
OnEnd = Callable[["ChatState"], None] | None  # a turn ended (saving, exports)
EXAMPLE = "Which method finetunes a 65B model on a single 48GB GPU?"


@dataclass
class ChatState:
    """One browser session: the engine's follow-up state and the turns the page shows."""

    conversation: Conversation = field(default_factory=Conversation)
    records: list[TurnRecord] = field(default_factory=list)  # ended turns, in order
    chat_id: str | None = None  # in the history, once its first turn is saved
    title: str = ""
    live: _Live | None = None  # the turn being answered, for Stop to render
    key: str = field(default_factory=lambda: secrets.token_hex(3))
    turns: int = 0
    exports: tuple[str, str] | None = None  # the conversation's .md and .bib, current
    notice: str = ""  # a problem saving the chat, for the status line

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
    ended: bool = False  # the turn is over (its record is in the state)


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


# -- rendering the records ------------------------------------------------------------------


def record_body(r: TurnRecord) -> str:
    n = len(r.sources)
    if r.status == DONE and r.answer is not None:
        return render.answer_body(r.answer, r.rid)
    if r.status == STOPPED:
        return render.stopped_body(r.partial, r.rid, n)
    return render.error_body(r.message, r.partial, r.rid, n)


def record_html(r: TurnRecord, index: int, last: bool) -> str:
    meta = render.answer_meta(r.answer) if r.answer else ""
    actions = render.turn_actions(index, copy=r.status == DONE, regenerate=last and bool(r.sources))
    return render.turn_html(r.question, record_body(r), meta, rid=r.rid, actions=actions)


def chat_view(state: ChatState, live: _Live | None = None) -> str:
    ongoing = live is not None and live.final_body is None
    n = len(state.records)
    turns = [record_html(r, i, i == n and not ongoing) for i, r in enumerate(state.records, 1)]
    if ongoing and live is not None:
        turns.append(live.html())
    return render.chat_html(turns, EXAMPLE)


def _marks(r: TurnRecord) -> render.Marks:
    """The evidence sentences a finished answer quotes or is supported by, marked in its cards."""
    a = r.answer
    return render.evidence_marks(a, a.evidence if a else None)


def _folded(r: TurnRecord, common: Common) -> str:
    cited = [s.n for s in r.cited]
    return render.earlier_sources(
        r.sources, r.question, r.rid, cited, r.standalone, _marks(r), common=common
    )


def panel_view(state: ChatState, live: _Live | None = None, common: Common = None) -> str:
    """The current turn's cards, then each earlier turn's, folded (their [n] keep a target)."""
    earlier = state.records
    if live is not None:
        current = render.sources_panel(
            live.sources, live.query or live.question, live.rid, (), live.marks(), common=common
        )
    elif state.records:
        r = state.records[-1]
        abstained = bool(r.answer and r.answer.abstained)
        cited = [s.n for s in r.cited]
        current = render.sources_panel(
            r.sources, r.standalone, r.rid, cited, _marks(r), abstained=abstained, common=common
        )
        earlier = state.records[:-1]
    else:
        return render.sources_placeholder()
    return current + "".join(_folded(r, common) for r in reversed(earlier) if r.sources)


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
    # Ending is claimed once: Stop (a request thread) and the turn's own generator may both
    # try; next() on a count is atomic, a lock would not survive gr.State's deepcopy.
    claim: Iterator[int] = field(default_factory=itertools.count)

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
        return render.turn_html(self.question, self.body(), meta, rid=self.rid)


@dataclass(frozen=True)
class _Turn:
    """What one run of a turn needs besides its state: shared, read-only."""

    explain: Explain
    common: Common = None
    on_end: OnEnd = None


def _busy(state: ChatState, live: _Live, t: _Turn, sources: bool = False) -> View:
    panel = panel_view(state, live, t.common) if sources else None
    return View(chat_view(state, live), render.status_html(live.status, "busy"), panel)


def _on_event(state: ChatState, live: _Live, event: Any, scratch: Conversation, t: _Turn) -> View:
    if isinstance(event, Retrieved):
        live.sources = list(event.sources)
        live.query = event.retrieval.question  # a follow-up's standalone query
        return _busy(state, live, t, sources=True)
    if isinstance(event, Evidence):
        live.evidence = event
        return _busy(state, live, t, sources=True)  # its sentences marked in the cards
    if isinstance(event, Status):
        live.status = event.text
    elif isinstance(event, Token):
        live.text += event.text
        live.status = "writing the answer…"
    elif isinstance(event, Restart):
        live.text, live.status = "", event.reason
    elif isinstance(event, Done):
        return _finish(state, live, event.answer, scratch, t)
    elif isinstance(event, Tick):
        status = render.status_html(f"{live.status} {event.elapsed_s:.0f} s", "busy")
        return View(chat_view(state, live), status)
    return _busy(state, live, t)


def _finish(state: ChatState, live: _Live, answer: Answer, scratch: Conversation, t: _Turn) -> View:
    live.answer = answer
    record = TurnRecord(
        live.rid, live.question, answer.standalone_question, DONE, answer.sources, answer
    )
    if _end(state, live, record, t):
        state.conversation.turns = scratch.turns  # the turn counts only once it is complete
    kind = "info" if answer.abstained else "done"
    status = (
        "No answer in the sources."
        if answer.abstained
        else "Answered. Click a number to see its source."
    )
    markdown = render.export_markdown(answer)
    return View(
        chat_view(state),
        _status(state, status, kind),
        panel_view(state, None, t.common),
        markdown,
        True,
    )


def _fail(state: ChatState, live: _Live, error: Exception, t: _Turn) -> View:
    if not isinstance(error, RagError):
        log.error("unexpected error while answering", exc_info=error)
    message = t.explain(error)
    record = TurnRecord(
        live.rid,
        live.question,
        live.query or live.question,
        FAILED,
        live.sources,
        partial=live.text,
        message=message,
    )
    _end(state, live, record, t)
    panel = panel_view(state, None, t.common) if live.sources else None
    return View(chat_view(state), render.status_html(message, "error"), panel, None, True)


def _status(state: ChatState, text: str, kind: str) -> str:
    if state.notice:
        return render.status_html(f"{text} {state.notice}", "error")
    return render.status_html(text, kind)


def _end(state: ChatState, live: _Live, record: TurnRecord, t: _Turn) -> bool:
    """The turn is over: its record joins the chat (once, whoever ends it first)."""
    if next(live.claim) != 0:
        return False
    live.final_body = record_body(record)
    state.records.append(record)
    if t.on_end is not None:
        t.on_end(state)
    return True


def _stopped_record(live: _Live) -> TurnRecord:
    return TurnRecord(
        live.rid,
        live.question,
        live.query or live.question,
        STOPPED,
        live.sources,
        partial=live.text,
    )


def run_turn(
    stream: StreamFn,
    state: ChatState,
    question: str,
    explain: Explain,
    tick_s: float = 1.0,
    *,
    common: Common = None,
    on_end: OnEnd = None,
) -> Iterator[View]:
    """Views for one question: evidence first, then status, tokens, and the checked answer.
    Closing the iterator (Stop) ends generation and leaves the turn marked as stopped."""
    t = _Turn(explain, common, on_end)
    live = state.live = _Live(question, state.next_rid())
    yield View(
        chat_view(state, live),
        render.status_html(live.status, "busy"),
        render.sources_placeholder("Searching the papers…"),
    )
    scratch = Conversation(list(state.conversation.turns))
    try:
        with contextlib.closing(pump(stream(scratch), tick_s)) as events:
            for event in events:
                yield _on_event(state, live, event, scratch, t)
    except Exception as e:  # a turn's last line of defence: the page must say what went wrong
        yield _fail(state, live, e, t)
    finally:
        _end(state, live, _stopped_record(live), t)  # closed from outside: the user pressed Stop
        if state.live is live:
            state.live = None


def stop(state: ChatState, on_end: OnEnd = None) -> None:
    """End the turn in flight as stopped, now (Stop may run before the turn's own generator is
    closed; whichever comes first ends it)."""
    live = state.live
    if live is not None:
        _end(state, live, _stopped_record(live), _Turn(str, None, on_end))


def stopped_chat(state: ChatState, on_end: OnEnd = None) -> str:
    """The chat with the turn in flight marked as stopped."""
    stop(state, on_end)
    return chat_view(state)


# -- edits -----------------------------------------------------------------------------------


def in_conversation(r: TurnRecord) -> bool:
    """Whether the engine kept this turn for follow-ups: it answered (or abstained after
    generating); a turn that abstained before generating is not kept (see AnswerEngine.stream)."""
    return r.conversation_turn() is not None


def truncate(state: ChatState, keep: int) -> None:
    """Forget turns from position `keep` on (an edited question replaces them), keeping the
    conversation's memory of the earlier ones."""
    kept = state.records[:keep]
    state.conversation.turns = state.conversation.turns[: sum(map(in_conversation, kept))]
    state.records = kept


def restore(records: list[TurnRecord], chat_id: str, title: str) -> ChatState:
    """A reopened chat: its turns shown, and what follow-ups need of them."""
    turns = [t for t in (r.conversation_turn() for r in records) if t is not None]
    state = ChatState(Conversation(turns), list(records), chat_id, title)
    state.turns = len(records)
    state.key = secrets.token_hex(3)  # fresh anchors: the same chat may be open in another tab
    return state
