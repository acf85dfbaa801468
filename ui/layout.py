"""The chat page's components and where they sit (no handlers: ui/handlers.py, wired in
ui/app.py). Desktop: saved chats in a side panel, the chat beside its sources; phone: one
column, the question box pinned at the bottom, the sources a drawer (ui/theme.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.ui import render
from rag.ui.chat import EXAMPLE, ChatState
from rag.ui.library import SUFFIXES
from rag.ui.runtime import Deps

TITLE = "Paper QA"
MODES = ["hybrid", "dense", "bm25"]
ALL_SOURCES = "(all files)"  # the source filter unset
PLACEHOLDER = "Ask about the papers… (Enter to send, Shift+Enter for a new line)"


@dataclass
class Page:
    """The components the handlers read and write."""

    state: Any
    last_chat: Any  # the open chat's id, in the browser (a reload reopens it)
    ready: Any
    banner: Any
    chat: Any
    status: Any
    question: Any
    ask: Any
    stop: Any
    regen: Any
    new: Any
    chats: Any
    title: Any
    rename: Any
    delete: Any
    confirm: Any
    download_md: Any
    download_bib: Any
    edit_turn: Any
    model: Any
    sources: Any
    k: Any
    temperature: Any
    mode: Any
    years: Any
    author: Any
    source_filter: Any
    info: Any
    files: Any
    add_files: Any
    upload_result: Any
    library: Any
    remove_papers: Any
    remove_file: Any
    remove: Any
    timer: Any


def html(value: str = "", **kw: Any) -> Any:
    import gradio as gr

    return gr.HTML(value, js_on_load=None, **kw)  # no click handler: these are display only


def _header(deps: Deps) -> Any:
    import gradio as gr

    r = deps.retriever
    scope = f"{r.paper_count:,} ML paper abstracts" if r else "your paper abstracts"
    with gr.Row(elem_id="app-top", equal_height=True):
        html(
            f"<h1>{render.esc(TITLE)}</h1><p>Cited answers from {render.esc(scope)}, "
            "fully offline. Every claim links to the source it comes from.</p>",
            elem_id="app-header",
        )
        return html(render.readiness_html("Starting…", "busy"), elem_id="ready")


def _history_panel() -> dict[str, Any]:
    import gradio as gr

    with gr.Sidebar(label="Chats", open=True, elem_id="history-panel", width=300):
        new = gr.Button("New chat", elem_id="new-btn", variant="secondary")
        chats = gr.Radio(choices=[], label="Saved chats", elem_id="chats")
        title = gr.Textbox(label="This chat's title", max_lines=1, elem_id="chat-title")
        with gr.Row():
            rename = gr.Button("Rename", size="sm", elem_id="rename-btn")
            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-btn")
        confirm = gr.Checkbox(value=False, visible="hidden", elem_id="delete-confirm")
    return dict(new=new, chats=chats, title=title, rename=rename, delete=delete, confirm=confirm)


def _input_row() -> dict[str, Any]:
    import gradio as gr

    with gr.Row(elem_id="ask-row", equal_height=True):
        # lines=1 with max_lines: Gradio sends on Enter and breaks the line on Shift+Enter
        # (with lines > 1 it is the other way round, which the placeholder contradicted).
        question = gr.Textbox(
            placeholder=PLACEHOLDER,
            show_label=False,
            lines=1,
            max_lines=8,
            scale=8,
            autofocus=True,
            elem_id="question",
        )
        with gr.Column(scale=1, min_width=110, elem_id="ask-buttons"):
            ask = gr.Button("Ask", variant="primary", elem_id="ask-btn")
            stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="stop-btn")
    edit_turn = gr.Textbox(visible="hidden", elem_id="edit-turn")  # set by the page script
    return dict(question=question, ask=ask, stop=stop, edit_turn=edit_turn)


def _toolbar(deps: Deps) -> dict[str, Any]:
    import gradio as gr

    with gr.Row(elem_id="toolbar"):
        regen = gr.Button("Regenerate", size="sm", interactive=False, elem_id="regen-btn")
        download_md = gr.DownloadButton(
            "Conversation (.md)", size="sm", interactive=False, elem_id="download-md"
        )
        download_bib = gr.DownloadButton(
            "Cited papers (.bib)", size="sm", interactive=False, elem_id="download-bib"
        )
        model = gr.Dropdown(
            choices=[deps.settings.llm.model],
            value=deps.settings.llm.model,
            label="Model",
            visible=False,  # shown when the endpoint serves more than one
            elem_id="model",
        )
    return dict(regen=regen, download_md=download_md, download_bib=download_bib, model=model)


def _settings_panel(deps: Deps) -> dict[str, Any]:
    import gradio as gr

    s = deps.settings
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        k = gr.Slider(1, 10, value=s.answer.max_sources, step=1, label="Sources given to the model")
        temperature = gr.Slider(0.0, 1.5, value=s.llm.temperature, step=0.05, label="Temperature")
        mode = gr.Radio(MODES, value=s.retrieval.mode, label="Retrieval mode")
        with gr.Row(elem_id="filters"):
            years = gr.Textbox(
                "",
                label="Years",
                placeholder="2023-2024, 2023 or 2023-",
                max_lines=1,
                elem_id="years",
            )
            author = gr.Textbox(
                "", label="Author", placeholder="a surname", max_lines=1, elem_id="author"
            )
            source_filter = gr.Dropdown(
                choices=[ALL_SOURCES], value=ALL_SOURCES, label="Source file", elem_id="source"
            )
        info = html(render.info_html(deps.info()), elem_id="info")
    return dict(k=k, temperature=temperature, mode=mode, years=years, author=author,
                source_filter=source_filter, info=info)  # fmt: skip


def _library_panel(deps: Deps) -> dict[str, Any]:
    """Upload PDFs and exports; the stored papers, with remove."""
    import gradio as gr

    mb = deps.settings.ui.max_upload_mb
    with gr.Accordion("Library", open=False, elem_id="library-panel"):
        files = gr.File(
            file_count="multiple",
            file_types=list(SUFFIXES),
            type="filepath",
            label=f"Add PDFs or exports (.bib, .ris, CSL .json, .jsonl; up to {mb:g} MB each)",
            elem_id="upload",
        )
        add_files = gr.Button("Add to the library", variant="primary", elem_id="add-files")
        upload_result = html("", elem_id="upload-result")
        library = html("", elem_id="library")
        with gr.Row(elem_id="remove-row"):
            remove_papers = gr.Dropdown(
                choices=[], multiselect=True, label="Papers to remove", elem_id="remove-papers"
            )
            remove_file = gr.Dropdown(
                choices=[], label="…or every paper of a file", elem_id="remove-file"
            )
        remove = gr.Button("Remove", variant="stop", elem_id="remove-btn")
    return dict(files=files, add_files=add_files, upload_result=upload_result, library=library,
                remove_papers=remove_papers, remove_file=remove_file, remove=remove)  # fmt: skip


def _chat_column(deps: Deps) -> dict[str, Any]:
    chat = html(render.chat_html([], EXAMPLE), elem_id="chat")
    status = html("", elem_id="status")
    parts = _input_row()
    return dict(chat=chat, status=status, **parts, **_toolbar(deps), **_settings_panel(deps),
                **_library_panel(deps))  # fmt: skip


def _fresh_state() -> ChatState:
    return ChatState()


def build_layout(deps: Deps) -> Page:
    import gradio as gr

    ready = _header(deps)
    banner = html("", elem_id="banner")
    side = _history_panel()
    with gr.Row(equal_height=False, elem_id="main-row"):
        with gr.Column(scale=7, min_width=360, elem_id="chat-col"):
            parts = _chat_column(deps)
        with gr.Column(scale=5, min_width=320, elem_id="sources-col"):
            sources = html(render.sources_placeholder(), elem_id="sources")
    state = gr.State(_fresh_state)  # a callable: one fresh ChatState per browser session
    # The id is not a secret (every tab lists the saved chats); a fixed key lets a reopened
    # browser find it after the app restarts.
    last_chat = gr.BrowserState("", storage_key="rag-papers-chat", secret="rag-papers-chat-id")
    timer = gr.Timer(2.0)
    return Page(state=state, last_chat=last_chat, ready=ready, banner=banner, sources=sources,
                timer=timer, **side, **parts)  # fmt: skip
