"""Title, authors, year, DOI, keywords and abstract of a PDF paper. Pure functions.

Rules, kept simple on purpose:
- Title: the PDF's Title metadata when plausible (two or more words, not a file name, not
  "Untitled" or "Microsoft Word - …"); else the largest-font line(s) among the first lines of
  page 1 (consecutive lines of that size are one title); else the first line of three or more
  words; else the file name.
- Authors: the Author metadata when set (split at "," ";" " and "); else the line after the
  title on page 1 when every part of it looks like a name ("Ada Lovelace", "J. van Berg").
- Year: a year printed in page 1's title block (before the abstract) or its arXiv stamp; else
  the year of the CreationDate metadata. The PDF Info dictionary has no publication year, and
  CreationDate is when the file was written (a re-saved PDF says so years later), so the page is
  the better witness. Years outside 1950…next year are ignored.
- DOI: the first DOI printed on page 1. Keywords: the Keywords metadata, else a page-1 line
  starting "Keywords" / "Index Terms".
- Abstract: the text after an "Abstract" heading on page 1, up to the next section heading;
  else the first ~1,500 characters of body text after the title block.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.sources.pdftext import RawLine, dehyphenate
from rag.sources.records import clean
from rag.sources.text import ABSTRACT_MIN_CHARS

ABSTRACT_FALLBACK_CHARS = 1500
ABSTRACT_MAX_CHARS = 3000
_TITLE_SCAN_LINES = 30
_ABSTRACT_HEAD = re.compile(r"^abstract\b\s*[:.\u2014\u2013-]?\s*(.*)$", re.IGNORECASE)
_SECTION_HEAD = re.compile(
    r"^(?:(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+[A-Z][^.]{0,80}$"
    r"|(?:keywords|index terms|ccs concepts|introduction)\b)",
    re.IGNORECASE,
)
_KEYWORDS_LINE = re.compile(r"^(?:keywords|index terms)\s*[:.\u2014\u2013-]\s*(.+)$", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
_NAME_WORD = re.compile(r"^(?:[A-Z][\w'\u2019.-]*|van|von|der|den|de|da|di|del|la|le|du)$")
_FOOTNOTE_MARKS = re.compile(r"[\d*\u2020\u2021\u00a7\u00b6]+$")
_BAD_TITLE = re.compile(
    r"^(?:untitled|microsoft word\b|document\d*$)|\.(?:pdf|docx?|dvi|tex|html?|ps)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PaperMeta:
    title: str
    authors: tuple[str, ...]
    year: int | None
    doi: str | None
    keywords: tuple[str, ...]
    abstract: str


def plausible_title(title: str, stem: str) -> bool:
    title = clean(title)
    return (
        8 <= len(title) <= 300
        and len(title.split()) >= 2
        and not _BAD_TITLE.search(title)
        and "/" not in title
        and "\\" not in title
        and title.casefold() != stem.casefold()
    )


def _title_lines(first: Sequence[RawLine]) -> list[int]:
    """Indexes of the title's lines among the first lines of page 1."""
    scan = [i for i, ln in enumerate(first[:_TITLE_SCAN_LINES]) if len(ln.text) >= 4]
    sized = [i for i in scan if first[i].size > 0]
    if sized:
        big = max(first[i].size for i in sized)
        start = next(i for i in sized if first[i].size >= big - 0.5)
        end = start
        while end + 1 < len(first) and abs(first[end + 1].size - big) <= 0.5:
            end += 1
        return list(range(start, end + 1))
    wordy = [i for i in scan if len(first[i].text.split()) >= 3 and len(first[i].text) <= 200]
    return wordy[:1]


def _names(line: str) -> tuple[str, ...]:
    parts = [p.strip() for p in re.split(r",|;|\band\b|&|\u00b7", line) if p.strip()]
    names = tuple(_FOOTNOTE_MARKS.sub("", p).strip() for p in parts)
    ok = all(
        2 <= len(n.split()) <= 5 and all(_NAME_WORD.match(w) for w in n.split()) for n in names
    )
    return names if names and ok else ()


def split_authors(text: str) -> tuple[str, ...]:
    return tuple(clean(p) for p in re.split(r";|,|\band\b", text) if clean(p))


def _plausible_year(text: str) -> int | None:
    year = int(text)
    return year if 1950 <= year <= datetime.date.today().year + 1 else None


def _year(block: Sequence[str], first: Sequence[RawLine], created: str | None) -> int | None:
    stamps = [ln.text for ln in first if ln.text.casefold().startswith("arxiv:")]
    found = (_plausible_year(m.group(1)) for t in [*block, *stamps] for m in _YEAR.finditer(t))
    year = next((y for y in found if y), None)
    created_year = re.match(r"^(?:D:)?(\d{4})", created or "")
    return year or (_plausible_year(created_year.group(1)) if created_year else None)


def _abstract_start(first: Sequence[RawLine]) -> int | None:
    return next((i for i, ln in enumerate(first) if _ABSTRACT_HEAD.match(ln.text)), None)


def _abstract_after(first: Sequence[RawLine], at: int, vocab: frozenset[str]) -> str:
    m = _ABSTRACT_HEAD.match(first[at].text)
    parts = [m.group(1)] if m and m.group(1) else []
    for ln in first[at + 1 :]:
        if _SECTION_HEAD.match(ln.text) or sum(map(len, parts)) > ABSTRACT_MAX_CHARS:
            break
        parts.append(ln.text)
    return clean(dehyphenate("\n".join(parts), vocab))


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a sentence end (or a word end) when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    return head[: end + 1] if end > limit // 2 else head.rsplit(" ", 1)[0]


def _keywords(meta: Mapping[str, str], first: Sequence[RawLine]) -> tuple[str, ...]:
    raw = meta.get("Keywords", "")
    if not raw.strip():
        found = (_KEYWORDS_LINE.match(ln.text) for ln in first)
        raw = next((m.group(1) for m in found if m), "")
    return tuple(clean(k) for k in re.split(r"[,;]", raw) if clean(k))


def _title(meta: Mapping[str, str], first: Sequence[RawLine], stem: str) -> tuple[str, int]:
    """The title, and the index of page 1's first line after the title block."""
    rows = _title_lines(first)
    title = clean(meta.get("Title", ""))
    if not plausible_title(title, stem):
        title = clean(" ".join(first[i].text for i in rows)) or stem
    return title, (rows[-1] + 1 if rows else 0)


def _authors(meta: Mapping[str, str], first: Sequence[RawLine], after: int) -> tuple[str, ...]:
    from_page = _names(first[after].text) if after < len(first) else ()
    return split_authors(meta.get("Author", "")) or from_page


def _abstract(
    first: Sequence[RawLine], at: int | None, skip: int, body: str, vocab: frozenset[str]
) -> str:
    """After the "Abstract" heading; else the body after page 1's first `skip` lines."""
    abstract = _abstract_after(first, at, vocab) if at is not None else ""
    if len(abstract) >= ABSTRACT_MIN_CHARS:
        return abstract
    head = clean(" ".join(ln.text for ln in first[:skip]))
    rest = body[len(head) :] if body.startswith(head) else body
    return cut(clean(rest), ABSTRACT_FALLBACK_CHARS)


def _doi(first: Sequence[RawLine]) -> str | None:
    found = (_DOI.search(ln.text) for ln in first)
    return next((m.group(0).rstrip(".,;)]") for m in found if m), None)


def paper_meta(
    meta: Mapping[str, str],
    first: Sequence[RawLine],
    body: str,
    vocab: frozenset[str],
    stem: str,
) -> PaperMeta:
    """`meta`: the PDF Info dictionary; `first`: page 1's cleaned lines (with font sizes);
    `body`: the whole cleaned text; `stem`: the file name without suffix."""
    title, after = _title(meta, first, stem)
    authors = _authors(meta, first, after)
    at = _abstract_start(first)
    block = [ln.text for ln in first[: at if at is not None else after + 2]]
    abstract = _abstract(first, at, after + (1 if authors else 0), body, vocab)
    year = _year(block, first, meta.get("CreationDate"))
    return PaperMeta(title, authors, year, _doi(first), _keywords(meta, first), abstract)
