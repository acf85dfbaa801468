"""What the page's buttons do: ask (or resend an edited question), regenerate, stop, the saved
chats (new, open, rename, delete; kept by ui/chats.py), and the readiness and health refresh.
Each handler returns values for a fixed list of components (ui/app.py wires them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from rag.ui import render
from rag.ui.chat import (
    ChatState,
    View,
    chat_view,
    in_conversation,
    panel_view,
    run_turn,
    stopped_chat,
    truncate,
)
from rag.ui.chats import chat_choices, history_of, load_chat, saver, write_files
from rag.ui.health import explain, model_choices, problems, readiness
from rag.ui.history import title_for
from rag.ui.layout import ALL_SOURCES, MODES
from rag.ui.records import TurnRecord
from rag.ui.runtime import Deps

from rag.errors import ConfigError, HistoryError, StoreError

log = logging.getLogger(__name__)
REGENERATE_WARMER = 0.4  # a regenerated answer samples hotter than the one it replaces
Outputs = tuple[Any, ...]


def _gr() -> Any:
    import gradio as gr

    return gr


# -- output tuples -----------------------------------------------------------------------------


def _downloads(state: ChatState) -> tuple[Any, Any]:
    gr = _gr()
    if state.exports is None:
        return gr.DownloadButton(value=None, interactive=False), gr.DownloadButton(
            value=None, interactive=False
        )
    md, bib = state.exports
    return gr.DownloadButton(value=md, interactive=True), gr.DownloadButton(
        value=bib, interactive=True
    )


def can_regenerate(state: ChatState) -> bool:
    idle = state.live is None or state.live.final_body is not None
    return idle and bool(state.records) and bool(state.records[-1].sources)


def settled(deps: Deps, state: ChatState, chat: str, status: str, sources: str | None) -> Outputs:
    """Everything the page shows of a chat at rest (after a turn, a stop, an open, a delete)."""
    gr = _gr()
    md, bib = _downloads(state)
    chats = gr.Radio(choices=chat_choices(deps), value=state.chat_id)
    return (
        chat,
        status,
        gr.skip() if sources is None else sources,
        gr.skip(),  # the question box: the user may be typing the next one
        gr.Button(interactive=False),  # stop
        gr.Button(interactive=can_regenerate(state)),
        md,
        bib,
        chats,
        state.title,
        "",  # edit_turn
        state,
        state.chat_id or "",  # the browser's last chat
    )


def streaming(view: View, state: ChatState, first: bool) -> Outputs:
    gr = _gr()
    skip = gr.skip()
    return (
        view.chat,
        view.status,
        skip if view.sources is None else view.sources,
        "" if first else skip,  # clear the box once
        gr.Button(interactive=True) if first else skip,  # stop
        gr.Button(interactive=False) if first else skip,  # regenerate
        skip,
        skip,
        skip,
        skip,
        "" if first else skip,
        state,
        skip,
    )


def _turn_views(deps: Deps, state: ChatState, views: Iterator[View]) -> Iterator[Outputs]:
    common = deps.retriever.is_common if deps.retriever else None
    for i, view in enumerate(views):
        if view.ended:
            panel = panel_view(state, None, common)
            yield settled(deps, state, view.chat, view.status, panel)
        else:
            yield streaming(view, state, i == 0)


# -- ask, regenerate, stop -------------------------------------------------------------------


def _stream_fn(deps: Deps, question: str, options: dict[str, Any]) -> Callable[..., Iterator[Any]]:
    engine = deps.engine

    def stream(conv: Any) -> Iterator[Any]:
        if engine is None:
            raise StoreError(deps.store_error or "the store is not available")
        return engine.stream(question, conv, **options)

    return stream


def _options(
    deps: Deps, k: float, temperature: float, mode: str, model: str | None
) -> dict[str, Any]:
    served = deps.llm.models
    chosen = model if model and model in served and model != deps.settings.llm.model else None
    return dict(
        max_sources=int(k),
        mode=mode if mode in MODES else None,
        temperature=float(temperature),
        model=chosen,
    )


def filters_of(years: str | None, author: str | None, source: str | None) -> Any:
    """The settings panel's filters (as `--year`, `--author`, `--source`); a bad one is a
    ConfigError naming it. Blank fields filter nothing."""
    from rag.index.filters import make_filters

    def given(v: str | None) -> str | None:
        v = (v or "").strip()
        return v if v and v != ALL_SOURCES else None

    return make_filters(given(years), given(author), given(source))


def _run(deps: Deps, state: ChatState, question: str, options: dict[str, Any]) -> Iterator[Outputs]:
    common = deps.retriever.is_common if deps.retriever else None
    views = run_turn(
        _stream_fn(deps, question, options),
        state,
        question,
        lambda e: explain(e, deps.health()),
        common=common,
        on_end=saver(deps),
    )
    yield from _turn_views(deps, state, views)


def _edit_position(edit_turn: str | None, state: ChatState) -> int | None:
    """The 1-based turn an edited question replaces (set by the page script), if valid."""
    try:
        n = int(str(edit_turn or "").strip())
    except ValueError:
        return None
    return n if 1 <= n <= len(state.records) else None


def _forget_from(deps: Deps, state: ChatState, keep: int) -> None:
    truncate(state, keep)
    if state.chat_id is not None:
        try:
            history_of(deps).truncate(state.chat_id, keep)
        except HistoryError as e:
            log.error("%s", e)


def ask_handler(deps: Deps) -> Callable[..., Iterator[Outputs]]:
    def ask(
        question: str,
        k: float,
        temperature: float,
        mode: str,
        model: str | None,
        edit_turn: str | None,
        years: str | None,
        author: str | None,
        source: str | None,
        state: ChatState | None,
    ) -> Iterator[Outputs]:
        state = state if isinstance(state, ChatState) else ChatState()
        q = (question or "").strip()
        if not q:
            hint = render.status_html("Type a question first.", "info")
            yield settled(deps, state, chat_view(state), hint, None)
            return
        try:
            filters = filters_of(years, author, source)
        except ConfigError as e:
            hint = render.status_html(f"Filters: {e}", "error")
            yield settled(deps, state, chat_view(state), hint, None)
            return
        position = _edit_position(edit_turn, state)
        if position is not None:
            _forget_from(deps, state, position - 1)
        options = _options(deps, k, temperature, mode, model)
        if filters:
            options["filters"] = filters
        yield from _run(deps, state, q, options)

    return ask


def regenerate_handler(deps: Deps) -> Callable[..., Iterator[Outputs]]:
    def regenerate(
        k: float, temperature: float, mode: str, model: str | None, state: ChatState | None
    ) -> Iterator[Outputs]:
        state = state if isinstance(state, ChatState) else ChatState()
        if not can_regenerate(state):
            hint = render.status_html("Nothing to regenerate yet.", "info")
            yield settled(deps, state, chat_view(state), hint, None)
            return
        last = state.records[-1]
        _drop_last(deps, state, last)
        options = _options(deps, k, temperature, mode, model)
        options.update(temperature=min(1.5, max(float(temperature), 0.1) + REGENERATE_WARMER))
        options.update(sources=last.sources, max_sources=len(last.sources))
        yield from _run(deps, state, last.question, options)

    return regenerate


def _drop_last(deps: Deps, state: ChatState, last: TurnRecord) -> None:
    """The last turn leaves the chat (its regenerated answer takes its place); the conversation
    forgets it too, keeping the earlier turns' prompts (so the same prompt is sent again and
    the server's cached prefix is reused)."""
    if in_conversation(last) and state.conversation.turns:
        state.conversation.turns.pop()
    state.records.pop()
    if state.chat_id is not None:
        try:
            history_of(deps).truncate(state.chat_id, len(state.records))
        except HistoryError as e:
            log.error("%s", e)


def stop_handler(deps: Deps) -> Callable[[ChatState | None], Outputs]:
    def stop(state: ChatState | None) -> Outputs:
        state = state if isinstance(state, ChatState) else ChatState()
        chat = stopped_chat(state, saver(deps))
        status = render.status_html("Stopped. The model is free for the next question.", "info")
        common = deps.retriever.is_common if deps.retriever else None
        state.live = None  # the closing generator ends nothing more (its end is claimed)
        return settled(deps, state, chat, status, panel_view(state, None, common))

    return stop


# -- saved chats -------------------------------------------------------------------------------


def show(deps: Deps, state: ChatState, status: str = "") -> Outputs:
    common = deps.retriever.is_common if deps.retriever else None
    return settled(deps, state, chat_view(state), status, panel_view(state, None, common))


def new_chat(deps: Deps) -> Callable[[], Outputs]:
    def new() -> Outputs:
        return show(deps, ChatState())

    return new


def open_chat(deps: Deps) -> Callable[[str | None, ChatState | None], Outputs]:
    def open_(chat_id: str | None, state: ChatState | None) -> Outputs:
        current = state if isinstance(state, ChatState) else ChatState()
        if not chat_id or chat_id == current.chat_id and current.records:
            return show(deps, current)
        restored = load_chat(deps, chat_id)
        if restored is None:
            note = render.status_html("That chat is gone (deleted in another tab?).", "info")
            return show(deps, ChatState(), note)
        write_files(deps, restored)
        return show(deps, restored, render.status_html(f"Reopened “{restored.title}”.", "info"))

    return open_


def rename_chat(deps: Deps) -> Callable[[str, ChatState | None], Outputs]:
    def rename(title: str, state: ChatState | None) -> Outputs:
        state = state if isinstance(state, ChatState) else ChatState()
        new_title = title_for(title or "")
        state.title = new_title
        if state.chat_id is not None:
            try:
                history_of(deps).rename(state.chat_id, new_title)
            except HistoryError as e:
                return show(deps, state, render.status_html(str(e), "error"))
        write_files(deps, state)
        return show(deps, state, render.status_html(f"Renamed to “{new_title}”.", "info"))

    return rename


def delete_chat(deps: Deps) -> Callable[[bool, ChatState | None], Outputs]:
    def delete(confirmed: bool, state: ChatState | None) -> Outputs:
        state = state if isinstance(state, ChatState) else ChatState()
        if not confirmed:
            return show(deps, state, render.status_html("Not deleted.", "info"))
        if state.chat_id is None:
            return show(deps, ChatState(), render.status_html("Cleared this unsaved chat.", "info"))
        try:
            history_of(deps).delete(state.chat_id)
        except HistoryError as e:
            return show(deps, state, render.status_html(str(e), "error"))
        note = render.status_html(f"Deleted “{state.title}”.", "info")
        return show(deps, ChatState(), note)

    return delete


# -- the page's refresh ------------------------------------------------------------------------


def banner(deps: Deps) -> str:
    return render.banner_html(problems(deps.health()))


def ready_pill(deps: Deps) -> str:
    text, level, detail = readiness(deps.health(), str(deps.warm.phase))
    return render.readiness_html(text, level, detail)


def model_update(deps: Deps) -> Any:
    choices = model_choices(deps.llm.models, deps.settings.llm.model)
    return _gr().Dropdown(choices=choices or [deps.settings.llm.model], visible=bool(choices))


def refresh(deps: Deps) -> tuple[Any, ...]:
    """The readiness pill, the banner, the settings facts and the model picker."""
    return ready_pill(deps), banner(deps), render.info_html(deps.info()), model_update(deps)


def on_load(deps: Deps) -> Callable[[str | None], tuple[Any, ...]]:
    """A page (re)load: the refreshed header, and the chat this browser had open."""

    def load(last_chat: str | None) -> tuple[Any, ...]:
        state = load_chat(deps, last_chat) if last_chat else None
        if state is not None:
            write_files(deps, state)
        return (*refresh(deps), *show(deps, state or ChatState()))

    return load
