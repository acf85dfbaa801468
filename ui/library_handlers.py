"""What the library panel's controls do: upload (several files, a result per file as each
is read), remove papers or a whole file, and the listing. Each returns values for a fixed
list of components (ui/app.py wires them: `library_outputs`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.ui import library as lib
from rag.ui import render
from rag.ui.layout import ALL_SOURCES
from rag.ui.library_html import library_html, paper_choice, upload_html
from rag.ui.runtime import Deps

Outputs = tuple[Any, ...]


def _listing(deps: Deps) -> tuple[str, Any, Any, Any]:
    """The table, the remove pickers (papers, files) and the source filter's choices."""
    import gradio as gr

    from rag.wiring import list_papers

    records = lib.papers(deps, list_papers)
    files = lib.source_labels(records)
    return (
        library_html(records),
        gr.Dropdown(choices=[paper_choice(r) for r in records], value=[]),
        gr.Dropdown(choices=files, value=None),
        gr.Dropdown(choices=[ALL_SOURCES, *files]),
    )


def listing(deps: Deps) -> Callable[[], Outputs]:
    def show() -> Outputs:
        return _listing(deps)

    return show


def _paths(files: Sequence[Any] | None) -> list[tuple[Path, str]]:
    """Gradio's uploads (temporary paths that keep the original file name)."""
    out = []
    for f in files or []:
        path = Path(f if isinstance(f, str) else getattr(f, "name", str(f)))
        out.append((path, path.name))
    return out


def upload_handler(deps: Deps) -> Callable[[Sequence[Any] | None], Iterator[Outputs]]:
    import gradio as gr

    from rag.wiring import run_ingest

    def ingest(paths: Sequence[Path]) -> Any:
        return run_ingest(deps.settings, paths, progress=False)

    def upload(files: Sequence[Any] | None) -> Iterator[Outputs]:
        skip = gr.skip()
        todo = _paths(files)
        if not todo:
            yield (
                render.status_html("Choose files to add first.", "info"),
                skip,
                skip,
                skip,
                skip,
                skip,
            )
            return
        run = None
        for run in lib.upload(deps, todo, ingest):
            if run.current:
                yield (upload_html(run), skip, skip, skip, skip, skip)
        yield (upload_html(run), *_listing(deps), None)

    return upload


def remove_handler(deps: Deps) -> Callable[[list[str] | None, str | None], Outputs]:
    from rag.wiring import run_remove

    def remove(paper_ids: list[str] | None, source: str | None) -> Outputs:
        sources = [source] if source else []
        try:
            text = lib.remove(deps, list(paper_ids or []), sources, run_remove)
            kind = "done"
        except lib.RagError as e:
            text, kind = f"Not removed: {e}", "error"
        return (render.status_html(text, kind), *_listing(deps))

    return remove
