"""A PDF file to one Entry with its full text by page, or to one Issue saying why not.

Text comes from pypdfium2 (PDFium, the engine in Chromium), chosen over pypdf after
bench/pdf_parsers.py ran both on the same Chromium-printed fixtures (2 loaded cores): 123 vs 8
pages/s on 100 three-page PDFs, 8,000 vs 600 on a 500-page one; and better text for retrieval.
PDFium maps ligature glyphs to letters (pypdf left 369 ﬁ/ﬂ/ﬃ glyphs in the two-column fixture,
and in a first probe private-use codes for a literal ﬁ in DejaVu Serif, which NFKC cannot repair); PDFium keeps
soft-hyphenated words whole where pypdf splits them ("inter nation al iza tion": 0 of 6 whole);
and PDFium gives character boxes and font sizes, which the header/footer and title rules use.
Reading order is the content-stream order in both (60/60 sentences in order across the column
and page breaks); for two-column papers from LaTeX and Chromium that is column by column.

Parsing runs in a sandboxed worker (rag/sources/sandbox.py) with a wall-time and a memory limit
from SourceSettings; a hostile file costs one Issue, never the app. Cheap checks (size, %PDF-
header) run first here; pdfium_worker.py is what runs in the worker, pdftext.py how page text is
cleaned, pdfmeta.py how title, authors, year and abstract are found.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from rag.errors import WorkerCrashError, WorkerMemoryError, WorkerTimeoutError
from rag.settings import SourceSettings
from rag.sources.pdfium_worker import parse_pdf_file
from rag.sources.records import Entry, Issue
from rag.sources.sandbox import Limits, run_limited

__all__ = ["read_pdf"]

_SNIFF_BYTES = 1024  # the %PDF- header must be within the first 1024 bytes


def read_pdf(
    path: Path, settings: SourceSettings, name: str | None = None
) -> tuple[list[Entry], list[Issue]]:
    """One Entry for a readable PDF (sandboxed parse), else an Issue with the reason and fix."""
    name = name or path.name
    problem = _sniff(path, settings)
    if problem:
        return [], [Issue(name, 0, problem)]
    try:
        entries, issues = run_limited(
            parse_pdf_file,
            str(path),
            name,
            settings.max_pdf_pages,
            limits=Limits(settings.pdf_timeout_s, settings.pdf_memory_mb),
            preload=("pypdfium2",),
        )
    except WorkerTimeoutError:
        msg = (
            f"parsing took longer than {settings.pdf_timeout_s:g} s and was stopped; the file may "
            "be hostile or huge (raise RAG_SOURCES_PDF_TIMEOUT_S to allow more)"
        )
        return [], [Issue(name, 0, msg)]
    except WorkerMemoryError:
        msg = (
            f"parsing needed more than {settings.pdf_memory_mb} MB of memory "
            "(RAG_SOURCES_PDF_MEMORY_MB) and was stopped; skipped"
        )
        return [], [Issue(name, 0, msg)]
    except WorkerCrashError as e:
        return [], [Issue(name, 0, _crash_message(e, settings))]
    digest = file_sha256(path)  # the same file read twice (given, and attached) is one paper
    return [replace(e, file_sha256=digest, from_pdf=True) for e in entries], issues


def file_sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _crash_message(e: WorkerCrashError, settings: SourceSettings) -> str:
    if e.signal_name:  # PDFium aborts when an allocation fails under the memory limit
        return (
            f"the PDF parser crashed on this file ({e.signal_name}): the file is damaged or "
            f"hostile, or needs more than {settings.pdf_memory_mb} MB of memory "
            "(RAG_SOURCES_PDF_MEMORY_MB); skipped"
        )
    return f"the PDF parser failed on this file ({e}); the file is probably damaged; skipped"


def _sniff(path: Path, limits: SourceSettings) -> str | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        return f"cannot read the file: {e.strerror}"
    if size > limits.max_file_mb * 2**20:
        return (
            f"file is {size / 2**20:.1f} MB, over the {limits.max_file_mb:g} MB limit; skipped "
            "(raise RAG_SOURCES_MAX_FILE_MB to read it)"
        )
    if size == 0:
        return "empty file (0 bytes); nothing to read"
    if b"%PDF-" not in head:
        return "not a PDF (no %PDF- header: random bytes or another format named .pdf); skipped"
    return None
