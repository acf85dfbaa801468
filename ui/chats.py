"""A session's chat kept: saved to the history when a turn ends, its exports rewritten, and
a saved chat loaded back into a session. No gradio here (ui/handlers.py shows the results)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rag.ui.chat import ChatState, restore
from rag.ui.export import write_exports
from rag.ui.history import History, title_for
from rag.ui.records import from_dict, to_dict
from rag.ui.runtime import Deps

from rag.errors import HistoryError

log = logging.getLogger(__name__)


def history_of(deps: Deps) -> History:
    assert deps.history is not None  # Deps.__post_init__ sets it
    return deps.history


def _export_dir(state: ChatState) -> Path:
    return Path(tempfile.gettempdir()) / "rag-ui" / state.key


def saver(deps: Deps) -> Callable[[ChatState], None]:
    """Called when a turn ends (answered, failed or stopped): save it, rewrite the exports."""

    def save(state: ChatState) -> None:
        record = state.records[-1]
        try:
            history = history_of(deps)
            if state.chat_id is None:
                state.title = state.title or title_for(state.records[0].question)
                state.chat_id = history.create(state.title)
            history.save_turn(state.chat_id, len(state.records) - 1, to_dict(record))
            state.notice = ""
        except HistoryError as e:
            log.error("%s", e)
            state.notice = f"(This chat was not saved: {e})"
        write_files(deps, state)

    return save


def write_files(deps: Deps, state: ChatState) -> None:
    if not state.records:
        state.exports = None
        return
    try:
        md, bib = write_exports(
            _export_dir(state), state.title or "chat", state.records, deps.settings.llm.model
        )
    except OSError as e:
        log.error("cannot write the exports: %s", e)
        state.exports = None
        return
    state.exports = (str(md), str(bib))


def chat_choices(deps: Deps) -> list[tuple[str, str]]:
    try:
        chats = history_of(deps).chats()
    except HistoryError as e:
        log.error("%s", e)
        return []
    return [(f"{c.title} · {_turns(c.turns)} · {_when(c.updated)}", c.id) for c in chats]


def _turns(n: int) -> str:
    return f"{n} question" + ("" if n == 1 else "s")


def _when(t: float) -> str:
    same_day = time.localtime(t)[:3] == time.localtime()[:3]
    return time.strftime("%H:%M" if same_day else "%d %b", time.localtime(t))


def load_chat(deps: Deps, chat_id: str) -> ChatState | None:
    try:
        loaded = history_of(deps).load(chat_id)
    except HistoryError as e:
        log.error("%s", e)
        return None
    if loaded is None:
        return None
    summary, rows = loaded
    try:
        records = [from_dict(r) for r in rows]
    except (KeyError, TypeError, ValueError) as e:
        log.error("chat %s has an unreadable turn: %s", chat_id, e)
        return None
    return restore(records, summary.id, summary.title)
