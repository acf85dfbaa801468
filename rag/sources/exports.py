"""What BibTeX, RIS and CSL-JSON records share: the fields kept, their clean-up, and the rule
for a record without an abstract.

The rule: a record needs a title. A record with an abstract (at least ABSTRACT_MIN_CHARS) is a
paper. A record without one is kept only if it names attachments: the caller (library.py) then
reads the first readable PDF among them and uses its abstract, or drops the entry with "no
abstract and no readable attachment; skipped". A record with neither is reported here, since a
title alone gives retrieval nothing to find and the model nothing to cite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.sources.identity import normalise_doi
from rag.sources.records import Entry, Issue, clean
from rag.sources.text import ABSTRACT_MIN_CHARS

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
# Rich-text and JATS markup that Zotero and Crossref leave in titles and abstracts: inline tags
# vanish ("<i>calibrated</i>."), block tags become a space ("</jats:p><jats:p>").
_INLINE_TAG = re.compile(
    r"</?(?:i|b|em|strong|sup|sub|sc|span|jats:italic|jats:bold)(?:\s[^<>]*)?>"
)
_BLOCK_TAG = re.compile(r"</?(?:jats:)?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")


@dataclass(frozen=True)
class Record:
    """One export record, fields as the format gives them (markup still in)."""

    line: int
    key: str = ""
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    url: str | None = None
    venue: str | None = None
    keywords: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()


def strip_markup(text: str) -> str:
    return clean(_BLOCK_TAG.sub(" ", _INLINE_TAG.sub("", text)))


def year_in(text: object) -> int | None:
    m = _YEAR.search(str(text)) if text is not None else None
    return int(m.group(1)) if m else None


def split_keywords(values: Iterable[str]) -> tuple[str, ...]:
    """Keywords from fields that hold one or several ("a, b; c"), duplicates dropped."""
    out: dict[str, None] = {}
    for value in values:
        for k in re.split(r"[,;\n]", value):
            if clean(k):
                out.setdefault(clean(k), None)
    return tuple(out)


def _label(rec: Record) -> str:
    return f"entry {rec.key!r}" if rec.key else "entry"


def to_entry(rec: Record, name: str) -> Entry | Issue:
    """The Entry for a record, or the Issue saying why it is skipped (see the module rule)."""
    title, abstract = strip_markup(rec.title), strip_markup(rec.abstract)
    if not title:
        return Issue(name, rec.line, f"{_label(rec)} has no title; skipped")
    if len(abstract) < ABSTRACT_MIN_CHARS:
        if not rec.attachments:
            short = f"an abstract of only {len(abstract)} characters" if abstract else "no abstract"
            msg = f"{_label(rec)} ({title[:60]!r}) has {short} and no attachment; skipped"
            return Issue(name, rec.line, msg)
        abstract = ""  # filled from the attachment by library.py, or the entry is dropped there
    doi = normalise_doi(rec.doi)
    return Entry(
        title,
        abstract,
        name,
        rec.line,
        url=clean(rec.url or "") or (f"https://doi.org/{doi}" if doi else None),
        authors=tuple(a for a in (clean(x) for x in rec.authors) if a),
        year=rec.year,
        doi=doi,
        venue=strip_markup(rec.venue or "") or None,
        keywords=rec.keywords,
        attachments=tuple(a for a in rec.attachments if a.strip()),
    )


def collect(records: Iterable[Record | Issue], name: str) -> tuple[list[Entry], list[Issue]]:
    entries: list[Entry] = []
    issues: list[Issue] = []
    for rec in records:
        out = rec if isinstance(rec, Issue) else to_entry(rec, name)
        if isinstance(out, Issue):
            issues.append(out)
        else:
            entries.append(out)
    return entries, issues
