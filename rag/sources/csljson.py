"""CSL-JSON exports (Zotero "Export Library… → CSL JSON"): a JSON array of items.

Fields kept: title, abstract, author [{family, given} | {literal}], issued {"date-parts":
[[2023, 5]]} (or "raw" / "literal"), DOI, URL, container-title (venue), keyword ("a, b" or a
list), and a non-standard `file` (a path, "a.pdf;b.pdf", or a list) some tools add: CSL has no
attachment field. Items are decoded one by one, so a broken item costs one Issue naming its line
and the items after it still count: after a syntax error the reader resumes at the next line
that opens an object at the broken item's indentation or less (how Zotero pretty-prints).
Records without an abstract: see exports.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from rag.sources.exports import Record, collect, split_keywords, year_in
from rag.sources.records import Entry, Issue, clean

__all__ = ["parse_csljson"]


def _skip(text: str, pos: int) -> int:
    """Past JSON whitespace from pos."""
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _resume(text: str, start: int) -> int | None:
    """Where the next item may start after a broken one that began at `start`."""
    line_start = text.rfind("\n", 0, start) + 1
    indent = start - line_start
    for m in re.finditer(r"\n([ \t]*)\{", text[start:]):
        if len(m.group(1)) <= indent:
            return start + m.end() - 1
    return None


def _items(text: str, name: str) -> Iterator[tuple[int, Any] | Issue]:
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if not text.startswith("[", pos):
        yield Issue(
            name, _line(text, pos), "not a CSL-JSON export (expected a JSON array [ … ]); skipped"
        )
        return
    pos += 1
    while True:
        pos = _skip(text, pos)
        if text.startswith("]", pos) or pos >= len(text):
            return
        try:
            item, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as e:
            yield Issue(
                name, _line(text, pos), f"bad JSON in the item starting here ({e}); skipped"
            )
            resume = _resume(text, pos)
            if resume is None:
                return
            pos = resume
            continue
        yield _line(text, pos), item
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos += 1


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _author(person: Any) -> str:
    if not isinstance(person, dict):
        return ""
    if isinstance(person.get("literal"), str):
        return clean(person["literal"])
    parts = [person.get(k) for k in ("given", "non-dropping-particle", "family", "suffix")]
    return clean(" ".join(p for p in parts if isinstance(p, str)))


def _year(issued: Any) -> int | None:
    if not isinstance(issued, dict):
        return year_in(issued) if isinstance(issued, str | int) else None
    parts = issued.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        return year_in(parts[0][0])
    return year_in(issued.get("raw") or issued.get("literal"))


def _list(value: Any, sep: str) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.split(sep) if v.strip()]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _record(item: Any, line: int) -> Record | Issue:
    if not isinstance(item, dict):
        return Issue("", line, f"item is a JSON {type(item).__name__}, not an object; skipped")
    people = item.get("author")
    return Record(
        line=line,
        key=_text(item.get("id")) or (str(item["id"]) if isinstance(item.get("id"), int) else ""),
        title=_text(item.get("title")),
        abstract=_text(item.get("abstract")),
        authors=tuple(_author(p) for p in people) if isinstance(people, list) else (),
        year=_year(item.get("issued")),
        doi=_text(item.get("DOI")) or None,
        url=_text(item.get("URL")) or None,
        venue=_text(item.get("container-title")),
        keywords=split_keywords(_list(item.get("keyword"), ",")),
        attachments=tuple(_list(item.get("file"), ";")),
    )


def parse_csljson(text: str, name: str) -> tuple[list[Entry], list[Issue]]:
    """Entries of a CSL-JSON file; abstract-less items with attachments come back with abstract
    "" (library.py fills it from the PDF)."""
    records: list[Record | Issue] = []
    for found in _items(text, name):
        if isinstance(found, Issue):
            records.append(found)
            continue
        rec = _record(found[1], found[0])
        records.append(Issue(name, rec.line, rec.message) if isinstance(rec, Issue) else rec)
    return collect(records, name)
