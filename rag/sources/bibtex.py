"""BibTeX / BibLaTeX exports (Zotero, Better BibTeX, JabRef) parsed with bibtexparser 2.

Fields kept: title, abstract, author, year (or BibLaTeX date), doi, url, keywords, venue
(journal, journaltitle or booktitle) and file (attachments, see attachments.py). LaTeX markup in
titles, abstracts, names and venues becomes text with pylatexenc: braces dropped, \\emph{x} → x,
{\\"o} → ö, -- → –, $\\alpha$ → α. An entry bibtexparser cannot parse costs one Issue naming its
line and key; the entries around it still count. Records without an abstract: see exports.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rag.sources.attachments import split_file_field
from rag.sources.exports import Record, collect, split_keywords, year_in
from rag.sources.records import Entry, Issue, clean

__all__ = ["authors", "latex_to_text", "parse_bibtex"]

_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s]+)\s*,")
_MACRO = re.compile(r"\\[a-zA-Z]+\*?|[{}\\]")
_VENUE_FIELDS = ("journal", "journaltitle", "booktitle")


def latex_to_text(value: str) -> str:
    """LaTeX markup to plain text; on input pylatexenc cannot take, macros and braces dropped."""
    from pylatexenc.latex2text import LatexNodes2Text

    # A bare % starts a LaTeX comment and would swallow the rest of the line ("50% faster").
    escaped = _UNESCAPED_PERCENT.sub(r"\\%", value)
    try:
        return clean(LatexNodes2Text().latex_to_text(escaped))
    except (RecursionError, ValueError, IndexError, TypeError):
        return clean(_MACRO.sub("", value))


def _name(raw: str) -> str:
    from bibtexparser.middlewares.names import parse_single_name_into_parts

    parts = parse_single_name_into_parts(raw, strict=False)
    name = " ".join([*parts.first, *parts.von, *parts.last])
    return latex_to_text(name + (", " + " ".join(parts.jr) if parts.jr else ""))


def authors(value: str) -> tuple[str, ...]:
    """ "Last, First and First Last and others" → ("First Last", "First Last")."""
    from bibtexparser.middlewares.names import split_multiple_persons_names

    names = [n for n in split_multiple_persons_names(value) if n.strip().casefold() != "others"]
    return tuple(n for n in (_name(x) for x in names) if n)


def _record(entry: Any) -> Record:
    f = {k.casefold(): str(v.value) for k, v in entry.fields_dict.items()}
    venue = next((f[k] for k in _VENUE_FIELDS if f.get(k)), "")
    return Record(
        line=entry.start_line + 1,
        key=entry.key,
        title=latex_to_text(f.get("title", "")),
        abstract=latex_to_text(f.get("abstract", "")),
        authors=authors(f.get("author", "")),
        year=year_in(f.get("year") or f.get("date")),
        doi=f.get("doi"),
        url=f.get("url"),
        venue=latex_to_text(venue),
        keywords=split_keywords([latex_to_text(f.get("keywords", ""))]),
        attachments=split_file_field(f.get("file", "")),
    )


def _failed(block: Any, name: str) -> Issue:
    from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock

    line = block.start_line + 1
    m = _KEY.match(block.raw)
    label = f"entry {m.group(1)!r}" if m else "entry"
    if isinstance(block, DuplicateBlockKeyBlock):
        return Issue(name, line, f"{label} repeats a key used earlier in the file; skipped")
    if isinstance(block, DuplicateFieldKeyBlock):
        fields = ", ".join(sorted(block.duplicate_keys))
        return Issue(
            name, line, f"{label} has the field(s) {fields} twice; skipped, fix the export"
        )
    reason = clean(getattr(block.error, "abort_reason", "") or str(block.error))
    return Issue(name, line, f"bad BibTeX syntax in {label} ({reason}); skipped, fix the entry")


def parse_bibtex(text: str, name: str) -> tuple[list[Entry], list[Issue]]:
    """Entries of a .bib file; abstract-less entries with attachments come back with abstract ""
    (library.py fills it from the PDF)."""
    import bibtexparser

    # bibtexparser also logs each failed block as a warning; it is reported here as an Issue.
    log = logging.getLogger("bibtexparser")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        library = bibtexparser.parse_string(text)
    finally:
        log.setLevel(level)
    entries, issues = collect((_record(e) for e in library.entries), name)
    failed = [_failed(b, name) for b in library.failed_blocks]
    return entries, sorted(issues + failed, key=lambda i: i.line)
