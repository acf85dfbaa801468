"""RIS exports (Zotero, EndNote, Mendeley) parsed with rispy, one record at a time.

rispy reads a whole file in one go and drops or crashes on a malformed record, so the file is
first cut into records here ("TY  - " … "ER  - "), each parsed alone: a bad record costs one
Issue naming its line, the others still count. Lines outside any record (a record whose "TY"
line is missing) are one Issue per run of lines.

Fields kept: TI/T1 title, AB/N2 abstract, AU/A1 authors ("Last, First" → "First Last"), PY/Y1/DA
year, DO doi, UR url (the first http one), KW keywords, T2/JF/JO/J2 venue, L1 attachments.
Records without an abstract: see exports.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.sources.exports import Record, collect, split_keywords, year_in
from rag.sources.records import Entry, Issue, clean
from rag.sources.text import NEWLINE

__all__ = ["parse_ris"]

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_VENUE_KEYS = ("secondary_title", "alternate_title3", "journal_name", "alternate_title1")


@dataclass(frozen=True)
class _Chunk:
    line: int
    lines: tuple[str, ...]
    closed: bool  # ended by an "ER" line


def _chunks(text: str) -> Iterator[_Chunk | Issue]:
    """Records, and stray lines (as the line number of the first of each run, in an Issue)."""
    current: list[str] = []
    start = stray = 0
    for n, line in enumerate(NEWLINE.split(text), start=1):
        tag = _TAG.match(line.rstrip())
        if tag and tag.group(1) == "TY":
            if current:
                yield _Chunk(start, tuple(current), False)
            current, start, stray = [line], n, 0
        elif current:
            current.append(line)
            if tag and tag.group(1) == "ER":
                yield _Chunk(start, tuple(current), True)
                current = []
        elif not line.strip():
            stray = 0  # a blank line ends a run of stray lines
        elif not stray:
            stray = n
            msg = "lines outside any record (no 'TY  - ' line starts them); skipped"
            yield Issue("", n, msg)
    if current:
        yield _Chunk(start, tuple(current), False)


def _name(raw: str) -> str:
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) >= 2 and parts[1]:  # Last, First[, Suffix]
        return clean(" ".join([parts[1], parts[0], *parts[2:]]))
    return clean(raw)


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value or "")


def _record(fields: dict[str, Any], line: int) -> Record:
    urls = [u for u in fields.get("urls", []) if str(u).startswith(("http://", "https://"))]
    people = [*fields.get("authors", []), *fields.get("first_authors", [])]
    venue = next((_first(fields[k]) for k in _VENUE_KEYS if fields.get(k)), "")
    return Record(
        line=line,
        key=_first(fields.get("id")),
        title=_first(fields.get("title") or fields.get("primary_title")),
        abstract=_first(fields.get("abstract") or fields.get("notes_abstract")),
        authors=tuple(_name(str(a)) for a in people),
        year=year_in(fields.get("year") or fields.get("publication_year") or fields.get("date")),
        doi=_first(fields.get("doi")) or None,
        url=urls[0] if urls else None,
        venue=venue,
        keywords=split_keywords(str(k) for k in fields.get("keywords", [])),
        attachments=tuple(str(a) for a in fields.get("file_attachments1", [])),
    )


def _parse_chunk(chunk: _Chunk, name: str) -> list[Record | Issue]:
    import rispy

    tags = [*rispy.LIST_TYPE_TAGS, "L1"]
    try:
        found = rispy.loads(
            "\n".join(chunk.lines) + ("" if chunk.closed else "\nER  - "), list_tags=tags
        )
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        return [
            Issue(
                name,
                chunk.line,
                f"bad RIS record ({type(e).__name__}: {e}); skipped, fix the record",
            )
        ]
    out: list[Record | Issue] = [_record(f, chunk.line) for f in found[:1]]
    if not chunk.closed:
        msg = "record has no 'ER  - ' end line; read up to the next record or the end of the file"
        out.append(Issue(name, chunk.line, msg, "warning"))
    return out


def parse_ris(text: str, name: str) -> tuple[list[Entry], list[Issue]]:
    """Entries of a .ris file; abstract-less records with attachments come back with abstract ""
    (library.py fills it from the PDF)."""
    items: list[Record | Issue] = []
    for chunk in _chunks(text):
        if isinstance(chunk, Issue):
            items.append(Issue(name, chunk.line, chunk.message))
        else:
            items.extend(_parse_chunk(chunk, name))
    entries, issues = collect(items, name)
    return entries, sorted(issues, key=lambda i: i.line)
