"""Files and folders to unique papers: each file read by the parser of its format, entries of
the same paper merged. Pure: no store, no model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from rag.errors import CorpusError
from rag.settings import DEFAULT_MAX_RECORD_CHARS, SourceSettings
from rag.sources.identity import paper_id
from rag.sources.jsonl import parse_jsonl
from rag.sources.listing import parse_listing
from rag.sources.records import Entry, Issue, Paper, ParseResult
from rag.sources.text import PDF_NOTE, admit, binary_reason, decode

SUFFIXES = (".txt", ".jsonl")


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders become their *.txt and *.jsonl files, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix in SUFFIXES and f.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise CorpusError(f"corpus path {p} does not exist; give a file or a folder")
    return out


def parse_file(
    path: Path, max_chars: int = DEFAULT_MAX_RECORD_CHARS
) -> tuple[list[Entry], list[Issue]]:
    """One file's entries, each within the size limit, and its issues (a binary file: one)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}") from e
    reason = PDF_NOTE if path.suffix.casefold() == ".pdf" else binary_reason(data)
    if reason:
        return [], [Issue(path.name, 0, f"binary file ({reason}); not a text listing — skipped")]
    text, issues = decode(data, path.name)
    if not text.strip():
        return [], [*issues, Issue(path.name, 0, "empty file; nothing to ingest", "warning")]
    if path.suffix == ".jsonl":
        entries, more = parse_jsonl(text, path.name)
    else:
        entries, more = parse_listing(text, path.name, max_chars)
    entries, too_long = admit(entries, max_chars)
    return entries, sorted(issues + more + too_long, key=lambda i: i.line)


def load_corpus(paths: Iterable[Path], cfg: SourceSettings | None = None) -> ParseResult:
    max_chars = (cfg or SourceSettings()).max_record_chars
    result = ParseResult()
    for path in expand_paths(paths):
        entries, issues = parse_file(path, max_chars)
        result.files += 1
        result.entries += len(entries)
        result.issues.extend(issues)
        merge(result, entries)
    return result


def merge(result: ParseResult, entries: Iterable[Entry]) -> None:
    """Fold entries into unique papers: same title → one paper with several sources."""
    index = {p.id: k for k, p in enumerate(result.papers)}
    for e in entries:
        pid = e.given_id or paper_id(e.title)
        if pid not in index:
            index[pid] = len(result.papers)
            result.papers.append(_paper(pid, e))
            continue
        old = result.papers[index[pid]]
        result.merged_duplicates += 1
        if old.abstract != e.abstract:
            msg = f"same title as {old.title[:60]!r} but a different abstract; kept the first"
            result.issues.append(Issue(e.source, e.line, msg, "warning"))
        if e.source not in old.sources:
            result.papers[index[pid]] = replace(old, sources=(*old.sources, e.source))


def _paper(pid: str, e: Entry) -> Paper:
    return Paper(pid, e.title, e.abstract, (e.source,), e.url, e.authors, e.year)
