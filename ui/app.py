"""The Gradio chat page: `build_app(deps)` lays out (ui/layout.py) and wires the page to its
handlers (ui/handlers.py); `main()` builds the deps (store, engine, LLM, saved chats), serves
the page, warms the answer path in the background and stops the LLM server it owns on exit.

Run it with `rag ui`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rag.ui import handlers as h
from rag.ui.health import is_loopback
from rag.ui.layout import TITLE, Page, build_layout
from rag.ui.runtime import Deps, build_deps

from rag.errors import ConfigError
from rag.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)
# Quick handlers (milliseconds): off the answer queue, no API, no dimming "pending" overlay.
PRIVATE: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
# The page script asks before deleting; its answer is the checkbox value the handler reads.
CONFIRM_DELETE = (
    "(confirmed, state) => [window.confirm('Delete this chat from the history?'), state]"
)


def _settled(page: Page) -> list[Any]:
    """The components every chat handler returns (see handlers.settled)."""
    return [page.chat, page.status, page.sources, page.question, page.stop, page.regen,
            page.download_md, page.download_bib, page.chats, page.title, page.edit_turn,
            page.state, page.last_chat]  # fmt: skip


def _answer_events(page: Page, deps: Deps) -> list[Any]:
    import gradio as gr

    queued = dict(
        concurrency_id="answer",  # one queue for every trigger: one answer at a time
        concurrency_limit=deps.settings.ui.concurrency,
        show_progress="full",  # while queued: an overlay with the queue position
        show_progress_on=[page.chat],
    )
    ask = gr.on(
        [page.ask.click, page.question.submit],
        h.ask_handler(deps),
        inputs=[
            page.question,
            page.k,
            page.temperature,
            page.mode,
            page.model,
            page.edit_turn,
            page.years,
            page.author,
            page.source_filter,
            page.state,
        ],  # fmt: skip
        outputs=_settled(page),
        api_name="ask",
        **queued,
    )
    regen = page.regen.click(
        h.regenerate_handler(deps),
        inputs=[page.k, page.temperature, page.mode, page.model, page.state],
        outputs=_settled(page),
        api_name="regenerate",
        **queued,
    )
    return [ask, regen]


def _wire(page: Page, deps: Deps) -> None:
    answers = _answer_events(page, deps)
    out = _settled(page)
    page.stop.click(h.stop_handler(deps), [page.state], out, cancels=answers, **PRIVATE)
    page.new.click(h.new_chat(deps), None, out, cancels=answers, **PRIVATE)
    page.chats.input(h.open_chat(deps), [page.chats, page.state], out, cancels=answers, **PRIVATE)
    page.rename.click(h.rename_chat(deps), [page.title, page.state], out, **PRIVATE)
    page.title.submit(h.rename_chat(deps), [page.title, page.state], out, **PRIVATE)
    page.delete.click(
        h.delete_chat(deps), [page.confirm, page.state], out, js=CONFIRM_DELETE, cancels=answers,
        **PRIVATE,
    )  # fmt: skip
    _search_api(deps)
    _library_events(page, deps)
    header = [page.ready, page.banner, page.info, page.model]
    page.timer.tick(lambda: h.refresh(deps), None, header, **PRIVATE)


def library_outputs(page: Page) -> list[Any]:
    """What the library handlers return (after the first: see ui/library_handlers.py)."""
    return [page.library, page.remove_papers, page.remove_file, page.source_filter]


def _library_events(page: Page, deps: Deps) -> None:
    """Uploads and removals in their own queue, one at a time: an answer streaming meanwhile
    (the answer queue) goes on, on the engine it started with."""
    from rag.ui import library_handlers as lh

    own = dict(concurrency_id="library", concurrency_limit=1, api_visibility="private")
    page.add_files.click(
        lh.upload_handler(deps),
        [page.files],
        [page.upload_result, *library_outputs(page), page.files],
        show_progress="minimal",
        **own,
    )
    page.remove.click(
        lh.remove_handler(deps),
        [page.remove_papers, page.remove_file],
        [page.upload_result, *library_outputs(page)],
        **own,
    )


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
        page = build_layout(deps)
        _wire(page, deps)
        header = [page.ready, page.banner, page.info, page.model]
        app.load(h.on_load(deps), [page.last_chat], header + _settled(page), **PRIVATE)
        from rag.ui.library_handlers import listing

        app.load(listing(deps), None, library_outputs(page), **PRIVATE)
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
    from rag.ui.script import PAGE_JS
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
        max_file_size=f"{settings.ui.max_upload_mb:g}mb",
        footer_links=["api"],
        theme=theme(),
        css=CSS,
        js=PAGE_JS,
    )


def main(settings: Settings) -> int:
    """`rag ui`: build the deps (ingesting an empty store), start the LLM and the warm-up in
    the background, serve until stopped (the CLI has set up logging and SIGTERM), and stop the
    local LLM server we started."""
    parse_auth(settings.ui.auth)  # a malformed login fails before anything starts
    deps = build_deps(settings)
    app = None
    try:
        deps.start()
        app = build_app(deps)
        launch(app, settings)
    finally:
        if app is not None:
            app.close()
        deps.close()
    return 0
