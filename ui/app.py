"""The Gradio chat page: `build_app(deps)` lays out and wires the page; `main()` builds the deps
(store, engine, LLM), serves the page and stops the LLM server it owns on exit.

Run it with `rag ui`."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.ui import render
from rag.ui.chat import ChatState, View, run_turn, stopped_chat
from rag.ui.health import explain, is_loopback, problems
from rag.ui.runtime import Deps, build_deps

from rag.errors import ConfigError, StoreError
from rag.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

    from rag.answer.conversation import Conversation

log = logging.getLogger(__name__)
TITLE = "Paper QA"
EXAMPLE = "Which method finetunes a 65B model on a single 48GB GPU?"
MODES = ["hybrid", "dense", "bm25"]


@dataclass
class Page:
    """The components the handlers read and write."""

    state: Any
    banner: Any
    chat: Any
    status: Any
    question: Any
    ask: Any
    stop: Any
    new: Any
    download: Any
    export: Any
    sources: Any
    k: Any
    temperature: Any
    mode: Any
    info: Any
    timer: Any


# -- layout ---------------------------------------------------------------------------------


def _html(value: str = "", **kw: Any) -> Any:
    import gradio as gr

    return gr.HTML(value, js_on_load=None, **kw)  # no click handler: these are display only


def _header(deps: Deps) -> None:
    r = deps.retriever
    scope = f"{r.paper_count:,} ML paper abstracts" if r else "your paper abstracts"
    _html(
        f"<h1>{render.esc(TITLE)}</h1><p>Cited answers from {render.esc(scope)}, "
        "fully offline. Every claim links to the source it comes from.</p>",
        elem_id="app-header",
    )


def _input_row() -> tuple[Any, Any, Any]:
    import gradio as gr

    with gr.Row(elem_id="ask-row", equal_height=True):
        question = gr.Textbox(
            placeholder="Ask about the papers… (Enter to send, Shift+Enter for a new line)",
            show_label=False,
            lines=2,
            max_lines=8,
            scale=8,
            autofocus=True,
            elem_id="question",
        )
        with gr.Column(scale=1, min_width=120, elem_id="ask-buttons"):
            ask = gr.Button("Ask", variant="primary", elem_id="ask-btn")
            stop = gr.Button("Stop", variant="stop", elem_id="stop-btn")
    return question, ask, stop


def _settings_panel(deps: Deps) -> tuple[Any, Any, Any, Any]:
    import gradio as gr

    s = deps.settings
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        k = gr.Slider(1, 10, value=s.answer.max_sources, step=1, label="Sources given to the model")
        temperature = gr.Slider(0.0, 1.5, value=s.llm.temperature, step=0.05, label="Temperature")
        mode = gr.Radio(MODES, value=s.retrieval.mode, label="Retrieval mode")
        info = _html(render.info_html(deps.info()), elem_id="info")
    return k, temperature, mode, info


def _chat_column(deps: Deps) -> dict[str, Any]:
    import gradio as gr

    chat = _html(render.chat_html([], EXAMPLE), elem_id="chat")
    status = _html("", elem_id="status")
    question, ask, stop = _input_row()
    with gr.Row():
        new = gr.Button("New chat", size="sm", elem_id="new-btn")
        download = gr.DownloadButton(
            "Download answer (.md)", size="sm", interactive=False, elem_id="download-btn"
        )
    with gr.Accordion("Answer as Markdown (copy)", open=False):
        export = gr.Code(language="markdown", interactive=False, show_label=False, lines=6)
    k, temperature, mode, info = _settings_panel(deps)
    return dict(chat=chat, status=status, question=question, ask=ask, stop=stop, new=new,
                download=download, export=export, k=k, temperature=temperature, mode=mode,
                info=info)  # fmt: skip


def _layout(deps: Deps) -> Page:
    import gradio as gr

    _header(deps)
    banner = _html(_banner(deps), elem_id="banner")
    with gr.Row(equal_height=False, elem_id="main-row"):
        with gr.Column(scale=7, min_width=420, elem_id="chat-col"):
            parts = _chat_column(deps)
        with gr.Column(scale=5, min_width=340, elem_id="sources-col"):
            sources = _html(render.sources_placeholder(), elem_id="sources")
    state = gr.State(_fresh_state)  # a callable: one fresh ChatState per browser session
    return Page(state=state, banner=banner, sources=sources, timer=gr.Timer(5.0), **parts)


# -- handlers -------------------------------------------------------------------------------


def _fresh_state() -> ChatState:
    return ChatState()


def _banner(deps: Deps) -> str:
    return render.banner_html(problems(deps.health()))


def _health_views(deps: Deps) -> tuple[str, str]:
    """The banner and the settings panel's facts, refreshed while the page is open."""
    return _banner(deps), render.info_html(deps.info())


def _stream_fn(
    deps: Deps, question: str, k: float, temperature: float, mode: str
) -> Callable[[Conversation], Iterator[Any]]:
    engine = deps.engine

    def stream(conv: Conversation) -> Iterator[Any]:
        if engine is None:
            raise StoreError(deps.store_error or "the store is not available")
        m = mode if mode in MODES else None
        return engine.stream(question, conv, int(k), m, float(temperature))

    return stream


def _export_file(state: ChatState, markdown: str) -> str:
    folder = Path(tempfile.gettempdir()) / "rag-ui" / state.key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"answer-{state.turns}.md"
    path.write_text(markdown, encoding="utf-8")
    return str(path)


def _outputs(view: View, state: ChatState, first: bool) -> tuple[Any, ...]:
    import gradio as gr

    skip = gr.skip()
    download: Any = skip
    if view.export is not None:
        download = gr.DownloadButton(value=_export_file(state, view.export), interactive=True)
    return (
        view.chat,
        view.status,
        skip if view.sources is None else view.sources,
        "" if first else skip,  # clear the box once; the user may type the next question
        skip if view.export is None else view.export,
        download,
        state,
    )


def _ask_handler(deps: Deps) -> Callable[..., Iterator[tuple[Any, ...]]]:
    def ask(
        question: str, k: float, temperature: float, mode: str, state: ChatState | None
    ) -> Iterator[tuple[Any, ...]]:
        state = state if isinstance(state, ChatState) else ChatState()
        q = (question or "").strip()
        if not q:
            yield _outputs(View(render.chat_html(state.past, EXAMPLE), _empty_hint()), state, False)
            return
        stream = _stream_fn(deps, q, k, temperature, mode)
        views = run_turn(stream, state, q, lambda e: explain(e, deps.health()))
        for i, view in enumerate(views):
            yield _outputs(view, state, i == 0)

    return ask


def _empty_hint() -> str:
    return render.status_html("Type a question first.", "info")


def _stop(state: ChatState | None) -> tuple[str, str]:
    chat = stopped_chat(state) if isinstance(state, ChatState) else render.chat_html([], EXAMPLE)
    return chat, render.status_html("Stopped. The model is free for the next question.", "info")


def _new_chat() -> tuple[Any, ...]:
    import gradio as gr

    return (
        ChatState(),
        render.chat_html([], EXAMPLE),
        "",
        render.sources_placeholder(),
        "",
        gr.DownloadButton(value=None, interactive=False),
    )


def _wire(page: Page, deps: Deps) -> None:
    import gradio as gr

    answer = gr.on(
        [page.ask.click, page.question.submit],
        _ask_handler(deps),
        inputs=[page.question, page.k, page.temperature, page.mode, page.state],
        outputs=[
            page.chat,
            page.status,
            page.sources,
            page.question,
            page.export,
            page.download,
            page.state,
        ],
        api_name="ask",
        concurrency_id="answer",  # one queue for both triggers: one answer at a time
        concurrency_limit=deps.settings.ui.concurrency,
        show_progress="full",  # while queued: an overlay with the queue position
        show_progress_on=[page.chat],
    )
    private: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    page.stop.click(_stop, [page.state], [page.chat, page.status], cancels=[answer], **private)
    reset = [page.state, page.chat, page.status, page.sources, page.export, page.download]
    page.new.click(_new_chat, None, reset, cancels=[answer], **private)
    _search_api(deps)
    health = [page.banner, page.info]
    page.timer.tick(lambda: _health_views(deps), None, health, show_progress="hidden", **private)


def _search_api(deps: Deps) -> None:
    """`/search` for API clients (gradio_client): retrieval only, the `rag search --json`
    object. Not queued behind the one-at-a-time model: a search takes milliseconds."""
    import gradio as gr

    def search(question: str, k: float, mode: str) -> dict[str, Any]:
        from rag.schema import search_output

        if deps.retriever is None:
            raise gr.Error(deps.store_error or "the store is not available")
        return search_output(deps.retriever.search(question, int(k), mode)).model_dump()

    gr.api(search, api_name="search", concurrency_limit=4, queue=False)


def build_app(deps: Deps) -> gr.Blocks:
    """The chat page over `deps` (nothing is started here)."""
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as app:
        page = _layout(deps)
        _wire(page, deps)
        app.load(lambda: _banner(deps), None, page.banner, queue=False, api_visibility="private")
    return app


# -- serving --------------------------------------------------------------------------------


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("RAG_UI_AUTH must look like user:password")
    return user, password


def exposure_warning(host: str, auth: tuple[str, str] | None) -> str | None:
    if is_loopback(host) or auth is not None:
        return None
    return (
        f"the chat is bound to {host} without a login: anyone who can reach this address can "
        "use it. Set RAG_UI_AUTH=user:password, or RAG_UI_HOST=127.0.0.1"
    )


def launch(app: gr.Blocks, settings: Settings, block: bool = True) -> None:
    """Serve `app` on RAG_UI_HOST:RAG_UI_PORT; `block=False` returns once it listens (tests)."""
    from rag.ui.theme import CSS, theme

    auth = parse_auth(settings.ui.auth)
    warning = exposure_warning(settings.ui.host, auth)
    if warning:
        log.warning(warning)
    app.queue(default_concurrency_limit=settings.ui.concurrency)
    app.launch(
        server_name=settings.ui.host,
        server_port=settings.ui.port,
        auth=auth,
        prevent_thread_lock=not block,
        show_error=True,
        ssr_mode=False,
        footer_links=["api"],
        theme=theme(),
        css=CSS,
    )


def main(settings: Settings) -> int:
    """`rag ui`: build the deps (ingesting an empty store), start the LLM, serve until stopped
    (the CLI has set up logging and SIGTERM), and stop the local LLM server we started."""
    parse_auth(settings.ui.auth)  # a malformed login fails before anything starts
    deps = build_deps(settings)
    app = None
    try:
        deps.llm.start()
        app = build_app(deps)
        launch(app, settings)
    finally:
        if app is not None:
            app.close()
        deps.llm.close()
    return 0
