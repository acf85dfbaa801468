"""What runs inside the sandboxed worker: PDFium (pypdfium2) opens the file, the text of each
page is split into lines with header/footer flags (from character boxes) and, on page 1, font
sizes; pdftext.py cleans it and pdfmeta.py finds the metadata. Every problem is an Issue.

Called through rag/sources/pdf.py's read_pdf, never directly on untrusted files in the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.sources.pdfmeta import paper_meta
from rag.sources.pdftext import EDGE_SHARE, RawLine, RawPage, clean_pages, junk_share
from rag.sources.records import Entry, Issue
from rag.sources.text import ABSTRACT_MIN_CHARS

JUNK_MAX_SHARE = 0.05
_EDGE_LINES = 4  # lines at each end of a page's text stream looked at for a header or footer
_BLIND_EDGE_LINES = 2  # the same when character boxes cannot be matched to the text
_SIZED_LINES = 30  # page-1 lines whose font size is read (title detection)
_TAIL_BYTES = 4096  # where a %%EOF marker is looked for
# PDFium's FPDF_GetLastError codes, as pypdfium2 reports them in PdfiumError.err_code.
_OPEN_ERRORS = {
    2: "cannot open the file (missing or unreadable)",
    3: "damaged PDF (PDFium cannot read its structure); download or export it again",
    4: "encrypted PDF (password protected); export it without a password",
    5: "PDF uses an unsupported security handler (DRM); export it without protection",
}


def _has_eof_marker(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - _TAIL_BYTES))
        return b"%%EOF" in f.read()


def parse_pdf_file(path: str, name: str, max_pages: int) -> tuple[list[Entry], list[Issue]]:
    """The worker's job (no limits of its own): open, extract, clean, build the Entry."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        return [], [Issue(name, 0, _open_problem(e, Path(path)))]
    try:
        return _entry(doc, Path(path), name, max_pages)
    finally:
        doc.close()


def _open_problem(e: Any, path: Path) -> str:
    code = int(getattr(e, "err_code", 0) or 0)
    if code == 3 and not _has_eof_marker(path):
        return "truncated PDF (no %%EOF end marker: the download or copy was cut short); download or export it again"
    return _OPEN_ERRORS.get(code, f"PDFium cannot read it ({e}); the file is probably damaged")


def _entry(doc: Any, path: Path, name: str, max_pages: int) -> tuple[list[Entry], list[Issue]]:
    issues: list[Issue] = []
    total = len(doc)
    if total > max_pages:
        msg = f"PDF has {total} pages; read the first {max_pages} (RAG_SOURCES_MAX_PDF_PAGES)"
        issues.append(Issue(name, 0, msg, "warning"))
    pages, bad = raw_pages(doc, min(total, max_pages))
    issues += [Issue(name, 0, f"page {n} cannot be read; skipped", "warning") for n in bad]
    problem = _text_problem(doc, pages)
    if problem:
        return [], [*issues, Issue(name, 0, problem)]
    if not _has_eof_marker(path):
        msg = "no %%EOF end marker: the file may be cut short; read what was there"
        issues.append(Issue(name, 0, msg, "warning"))
    cleaned = clean_pages(pages)
    body = " ".join(p.text for p in cleaned.pages)
    first = cleaned.lines[0] if cleaned.lines else ()
    meta = paper_meta(_metadata(doc), first, body, cleaned.vocab, path.stem)
    entry = Entry(
        meta.title,
        meta.abstract,
        name,
        0,
        authors=meta.authors,
        year=meta.year,
        doi=meta.doi,
        keywords=meta.keywords,
        pages=cleaned.pages,
    )
    return [entry], issues


def _metadata(doc: Any) -> dict[str, str]:
    return {k: str(v) for k, v in doc.get_metadata_dict(skip_empty=True).items()}


def raw_pages(doc: Any, count: int) -> tuple[list[RawPage], list[int]]:
    import pypdfium2 as pdfium

    pages: list[RawPage] = []
    bad: list[int] = []
    for index in range(count):
        try:
            page = doc[index]
        except pdfium.PdfiumError:
            bad.append(index + 1)
            continue
        pages.append(RawPage(index + 1, _page_lines(page, sized=index == 0)))
        page.close()
    return pages, bad


def _page_lines(page: Any, sized: bool) -> tuple[RawLine, ...]:
    """The page's text stream split into lines, with edge flags (and font sizes on page 1)."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        exact = len(text) == textpage.count_chars()  # then text offsets are char indexes
        spans = _line_spans(text)
        lines: list[RawLine] = []
        for k, (start, end) in enumerate(spans):
            if exact:
                near_end = k < _EDGE_LINES or k >= len(spans) - _EDGE_LINES
                edge = near_end and _in_edge(textpage, start, end, page.get_height())
            else:
                edge = k < _BLIND_EDGE_LINES or k >= len(spans) - _BLIND_EDGE_LINES
            size = _font_size(textpage, start, end) if sized and exact and k < _SIZED_LINES else 0.0
            lines.extend(RawLine(part, edge, size) for part in _unhyphen_marks(text[start:end]))
        return tuple(lines)
    finally:
        textpage.close()


def _font_size(textpage: Any, start: int, end: int) -> float:
    import pypdfium2.raw as raw

    return max((raw.FPDFText_GetFontSize(textpage.raw, i) for i in range(start, end)), default=0.0)


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for at in [i for i, c in enumerate(text) if c == "\n"] + [len(text)]:
        end = at - 1 if at > 0 and text[at - 1] == "\r" else at
        if end > start:
            spans.append((start, end))
        start = at + 1
    return spans


def _unhyphen_marks(line: str) -> list[str]:
    """PDFium writes a hyphen at a line end as U+FFFE and joins the two lines; split them again
    so the hyphenation rules in pdftext.py see the hyphen at the end of a line."""
    parts = line.split("\ufffe")
    return [p + "-" for p in parts[:-1]] + [parts[-1]]


def _in_edge(textpage: Any, start: int, end: int, height: float) -> bool:
    first = next(
        (i for i in range(start, end) if not textpage.get_text_range(i, 1).isspace()), None
    )
    if first is None:
        return False
    _, bottom, _, top = textpage.get_charbox(first)
    middle = (bottom + top) / 2
    return middle < height * EDGE_SHARE or middle > height * (1 - EDGE_SHARE)


def _text_problem(doc: Any, pages: list[RawPage]) -> str | None:
    letters = sum(c.isalpha() for p in pages for ln in p.lines for c in ln.text)
    if letters < ABSTRACT_MIN_CHARS:
        if _has_images(doc, len(pages)):
            return "no text layer (scanned?); run OCR first (e.g. ocrmypdf) and add the result"
        return "no extractable text (blank pages or text drawn as shapes); skipped"
    share = junk_share(pages)
    if share > JUNK_MAX_SHARE:
        return (
            f"text layer is unreadable ({share:.0%} of characters have no Unicode meaning: "
            "a font without a character map); run OCR first and add the result"
        )
    return None


def _has_images(doc: Any, count: int) -> bool:
    import pypdfium2.raw as raw

    for index in range(min(count, 5)):
        page = doc[index]
        try:
            if any(o.type == raw.FPDF_PAGEOBJ_IMAGE for o in page.get_objects(max_depth=2)):
                return True
        finally:
            page.close()
    return False
