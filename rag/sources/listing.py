"""Listing dumps (the seed corpus's layout).

They come in two layouts: lines separated by blank lines, or no blank lines with `Subscribe`
glued to the first title. Both reduce to the same thing once blank lines are dropped: header
lines, then title / abstract alternating. Lines are classified by shape (titles are short,
abstracts long) so one missing line costs one record, not the rest of the file. Every rejected
line is reported with file, line and reason; good records still count."""

from __future__ import annotations

import re

from rag.settings import DEFAULT_MAX_RECORD_CHARS
from rag.sources.records import Entry, Issue, clean
from rag.sources.text import ABSTRACT_MIN_CHARS, NEWLINE

HEADER_LINES = frozenset(
    {
        "new",
        "get trending papers in your email inbox!",
        "get trending papers in your email inbox once a day!",
        "subscribe",
        "daily papers",
        "byak and the research community",
    }
)
DATE_LINE = re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}$")
TITLE_MAX_CHARS = 300


def _is_header(line: str) -> bool:
    low = line.strip().casefold()
    return low in HEADER_LINES or bool(DATE_LINE.match(low))


def _content_lines(text: str) -> list[tuple[int, str]]:
    # Cleaned before any length rule, so the rules judge the text that is stored.
    lines = [(n, clean(ln)) for n, ln in enumerate(NEWLINE.split(text), start=1)]
    lines = [(n, ln) for n, ln in lines if ln]
    skip = 0
    while skip < len(lines) and _is_header(lines[skip][1]):
        skip += 1
    lines = lines[skip:]
    if lines and lines[0][1].startswith("Subscribe") and len(lines[0][1]) > len("Subscribe"):
        lines[0] = (lines[0][0], lines[0][1][len("Subscribe") :].strip())
    return lines


def _looks_like_abstract(line: str) -> bool:
    return len(line) > TITLE_MAX_CHARS


def parse_listing(
    text: str, name: str, max_chars: int = DEFAULT_MAX_RECORD_CHARS
) -> tuple[list[Entry], list[Issue]]:
    """Title / abstract pairs from one listing dump, with an issue per rejected line; a line
    over `max_chars` (SourceSettings.max_record_chars) is rejected."""
    lines = _content_lines(text)
    entries: list[Entry] = []
    issues: list[Issue] = []
    i = 0
    while i < len(lines):
        n, line = lines[i]
        problem = _title_problem(line, max_chars)
        if problem:
            issues.append(Issue(name, n, problem))
            i += 1
            continue
        i, entry, issue = _read_abstract(lines, i, name, max_chars)
        if entry:
            entries.append(entry)
        if issue:
            issues.append(issue)
    return entries, issues


def _limit(max_chars: int) -> str:
    return f"limit {max_chars:,}: RAG_SOURCES_MAX_RECORD_CHARS"


def _title_problem(line: str, max_chars: int) -> str | None:
    if _is_header(line):
        return f"header-like line {line!r} where a title should be; skipped"
    if len(line) > max_chars:
        return f"line of {len(line):,} characters ({_limit(max_chars)}); skipped"
    if _looks_like_abstract(line):
        return f"abstract-like line ({len(line)} chars) with no title before it; skipped"
    return None


def _read_abstract(
    lines: list[tuple[int, str]], i: int, name: str, max_chars: int
) -> tuple[int, Entry | None, Issue | None]:
    """lines[i] is a title; returns (next index, entry or None, issue or None)."""
    n, title = lines[i]
    if i + 1 >= len(lines):
        return i + 1, None, Issue(name, n, f"title {title[:60]!r} has no abstract (end of file)")
    m, abstract = lines[i + 1]
    if _is_header(abstract):
        return i + 2, None, Issue(name, n, f"title {title[:60]!r} is followed by a header line")
    if len(abstract) > max_chars:
        msg = (
            f"abstract of {title[:60]!r} has {len(abstract):,} characters "
            f"({_limit(max_chars)}); rejected"
        )
        return i + 2, None, Issue(name, m, msg)
    if not _looks_like_abstract(abstract):
        next_is_abstract = i + 2 < len(lines) and _looks_like_abstract(lines[i + 2][1])
        if next_is_abstract:  # the abstract of `title` is missing; this line is the next title
            return i + 1, None, Issue(name, n, f"title {title[:60]!r} has no abstract")
        if len(abstract) < ABSTRACT_MIN_CHARS:
            msg = f"abstract of {title[:60]!r} is only {len(abstract)} characters; rejected"
            return i + 2, None, Issue(name, m, msg)
    return i + 2, Entry(clean(title), clean(abstract), name, n), None
