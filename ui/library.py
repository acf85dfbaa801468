"""The library from the chat page: uploaded files kept in the data dir and ingested one by one
through the same path as `rag ingest` (and its writer lock), removals as `rag remove`, and
after either the retriever and the engine rebuilt and swapped in. A question being answered
meanwhile keeps the engine and the indexes it started with, so it completes.

No gradio here (ui/library_handlers.py wires it): these take paths and return results."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import RagError, StoreError
from rag.index.catalog import PaperRecord

if TYPE_CHECKING:
    from rag.ui.runtime import Deps

    from rag.index.ingest import IngestSummary, RemoveSummary
    from rag.sources.records import ParseResult

log = logging.getLogger(__name__)
UPLOAD_DIR = "library"  # under RAG_DATA_DIR: uploaded files are kept, each chunk names its file
SUFFIXES = (".pdf", ".bib", ".ris", ".json", ".jsonl", ".txt")
SHOWN_ISSUES = 3  # per file; the rest are counted
_UNSAFE = re.compile(r"[^\w.()\- ]+")
# One library change at a time in this process (the writer lock also holds across processes):
# an upload's ingest, reload and engine swap are one step.
_CHANGING = threading.Lock()


@dataclass(frozen=True)
class FileResult:
    """What became of one uploaded file."""

    name: str
    status: str  # added | merged | unchanged | rejected | failed
    added: tuple[str, ...] = ()  # titles of papers new to the library
    merged: tuple[str, ...] = ()  # papers already there that gained (or kept) this file
    changed: tuple[str, ...] = ()  # papers whose text this file changed
    problems: tuple[str, ...] = ()  # why the file, or some of its records, were refused
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return self.status not in ("rejected", "failed")


@dataclass
class UploadRun:
    """Progress of one upload, for the page to show as it goes."""

    total: int
    done: list[FileResult] = field(default_factory=list)
    current: str = ""


def safe_name(name: str) -> str:
    """The file's own name, without folders, path tricks or characters a shell would trip on;
    never empty, never hidden."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:100] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def upload_dir(deps: Deps) -> Path:
    return deps.settings.data_dir / UPLOAD_DIR


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def keep(deps: Deps, src: Path, name: str) -> Path:
    """The upload copied into the library folder under its safe name. The same name again
    replaces the kept file (a corrected export replaces its papers, as `rag ingest` does)."""
    folder = upload_dir(deps)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / safe_name(name)
    if dest.resolve().parent != folder.resolve():  # cannot happen after safe_name; be sure
        raise RagError(f"{name!r} is not a plain file name")
    if not (dest.exists() and _sha(dest) == _sha(src)):
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    return dest


def check_upload(path: Path, name: str, max_mb: float) -> str | None:
    """Why an upload is refused before it is read, or None."""
    if Path(safe_name(name)).suffix.lower() not in SUFFIXES:
        return f"not a supported file type (use {', '.join(SUFFIXES)})"
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"the upload could not be read ({e.strerror or e})"
    if size == 0:
        return "the file is empty"
    if size > max_mb * 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB is over the upload limit of {max_mb:g} MB (RAG_UI_MAX_UPLOAD_MB)"
    return None


def file_result(name: str, parsed: ParseResult, summary: IngestSummary) -> FileResult:
    """One file's ingest as the page reports it."""
    new = {c.paper_id for c in summary.new_papers}
    changed = {c.paper_id for c in summary.changed_papers}
    added = tuple(p.title for p in parsed.papers if p.id in new)
    edited = tuple(p.title for p in parsed.papers if p.id in changed)
    merged = tuple(p.title for p in parsed.papers if p.id not in new | changed)
    issues = [i.message for i in parsed.issues] + [str(i) for i in summary.failed]
    shown, more = tuple(issues[:SHOWN_ISSUES]), max(0, len(issues) - SHOWN_ISSUES)
    if summary.failed:
        status = "failed"
    elif not parsed.papers:
        status = "rejected"
    elif added or edited:
        status = "added"
    else:
        status = "merged" if merged else "unchanged"
    return FileResult(name, status, added, merged, edited, shown, more)


Ingest = Callable[[Sequence[Path]], "tuple[ParseResult, IngestSummary]"]


def upload(deps: Deps, files: Sequence[tuple[Path, str]], ingest: Ingest) -> Iterator[UploadRun]:
    """Each (temporary path, original name) kept and ingested in turn; a run after each file.
    One file's failure never stops the others; the engine is swapped in once at the end."""
    run = UploadRun(len(files))
    changed = False
    with _CHANGING:
        for tmp, name in files:
            run.current = safe_name(name)
            yield run
            result = _one(deps, tmp, name, ingest)
            changed |= result.status == "added"
            run.done.append(result)
        run.current = ""
        if changed:
            refresh(deps)
    yield run


def _one(deps: Deps, tmp: Path, name: str, ingest: Ingest) -> FileResult:
    shown = safe_name(name)
    refused = check_upload(tmp, name, deps.settings.ui.max_upload_mb)
    if refused:
        return FileResult(shown, "rejected", problems=(refused,))
    try:
        kept = keep(deps, tmp, name)
        parsed, summary = ingest([kept])
    except (RagError, OSError) as e:
        log.error("upload %s failed: %s", shown, e)
        return FileResult(shown, "failed", problems=(str(e),))
    return file_result(shown, parsed, summary)


def remove(
    deps: Deps,
    paper_ids: Sequence[str],
    sources: Sequence[str],
    run_remove: Callable[..., tuple[RemoveSummary, list[str]]],
) -> str:
    """Papers (by id) and files removed as `rag remove` does; what happened, in words."""
    if not paper_ids and not sources:
        return "Choose papers or a file to remove first."
    with _CHANGING:
        summary, missing = run_remove(deps.settings, list(paper_ids), list(sources))
        refresh(deps)
    n, kept = len(summary.removed_papers), len(summary.lost_sources)
    text = f"Removed {n} paper{'s' if n != 1 else ''} ({summary.chunks} chunks)."
    if kept:
        text += f" {kept} kept: other files hold them too."
    if missing:
        text += f" Not in the library: {', '.join(missing)}."
    return text


def refresh(deps: Deps) -> None:
    """The retriever re-read and a new engine swapped in (one assignment each: a turn in
    flight keeps the engine it took). An emptied store leaves no engine, and says so."""
    from rag.wiring import build_engine

    if deps.retriever is None:
        return
    try:
        deps.retriever.reload()
    except StoreError as e:
        deps.engine, deps.store_error = None, str(e)
        return
    deps.engine = build_engine(deps.settings, deps.llm.client(), deps.retriever, warm="background")
    deps.store_error = None


def papers(deps: Deps, list_papers: Callable[..., list[PaperRecord]]) -> list[PaperRecord]:
    """The stored papers (`rag list`); none when the store cannot be read."""
    try:
        return list_papers(deps.settings)
    except RagError as e:
        log.error("the library cannot be listed: %s", e)
        return []


def source_labels(records: Sequence[PaperRecord]) -> list[str]:
    """Every stored file's label (as `--source` takes it), most papers first."""
    counts: dict[str, int] = {}
    for r in records:
        for s in r.sources:
            counts[s] = counts.get(s, 0) + 1
    return sorted(counts, key=lambda s: (-counts[s], s))
