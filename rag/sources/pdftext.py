"""Page text as retrieval wants it, from the lines a PDF library extracted. Pure functions.

What is done, in order, and how each rule decides:
- Normalise: NFKC, so ligature glyphs (ﬁ ﬂ ﬀ ﬃ ﬄ ﬆ) become letters; private-use glyphs, U+FFFD
  and control characters are dropped (they are font junk, not text).
- Running headers, footers and page numbers: a line in the top or bottom tenth of a page (`edge`)
  is dropped when the same line, digits ignored, is on the edge of at least half the pages
  (and two), or when it is only a page number ("7", "Page 7 of 9", "vii").
- References: from the last line that is only a references heading ("References",
  "7 Bibliography", …) to the end, or to an appendix heading after it, is dropped.
- Line-end hyphens ("repre-" + "sentation") are joined, except where the document shows a real
  hyphen: the left part is already a compound ("state-of-"), the right part is capitalised, the
  hyphenated form occurs elsewhere in the document, or both halves occur as words of their own
  and the joined word does not. A soft hyphen (U+00AD) is always joined. Hyphens across a page
  break are left alone.
- Each page becomes one line of text (whitespace collapsed), as every stored text is.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rag.sources.records import PageText, clean

EDGE_SHARE = 0.1  # the top and bottom tenth of a page hold running headers and footers
_JUNK = re.compile(r"[\ue000-\uf8ff\ufffd\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^[ivxlc]{1,7}$", re.IGNORECASE
)
_REFS_HEADING = re.compile(
    r"^(?:\d{1,2}\.?|[IVX]{1,4}\.)?\s*(?:references|bibliography|works cited|literature cited"
    r"|reference list)\s*:?$",
    re.IGNORECASE,
)
_APPENDIX_HEADING = re.compile(
    r"^(?:[A-Z]\.?\s+|\d{1,2}\.?\s+)?(?:appendix|appendices|supplementary material"
    r"|supplemental material)\b",
    re.IGNORECASE,
)
_LETTERS = r"[^\W\d_]+"
# A word (maybe already a compound) cut by a hyphen at a line end, and the word it continues as.
_LINE_BREAK_HYPHEN = re.compile(rf"((?:{_LETTERS}-)*{_LETTERS})([-\u2010\u00ad])\n({_LETTERS})")
_WORD = re.compile(rf"{_LETTERS}(?:-{_LETTERS})*")


@dataclass(frozen=True)
class RawLine:
    text: str
    edge: bool = False  # in the top or bottom tenth of its page: header / footer candidate
    size: float = 0.0  # font size in points where known (page 1), else 0


@dataclass(frozen=True)
class RawPage:
    number: int  # 1-based, as the PDF counts pages
    lines: tuple[RawLine, ...]


def normalise(text: str) -> str:
    return _JUNK.sub("", unicodedata.normalize("NFKC", text))


def junk_share(pages: Iterable[RawPage]) -> float:
    """Share of non-space characters that are glyphs with no Unicode meaning (broken fonts)."""
    chars = "".join(line.text for page in pages for line in page.lines)
    visible = [c for c in chars if not c.isspace()]
    bad = sum(1 for c in visible if _JUNK.match(c))
    return bad / len(visible) if visible else 0.0


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.casefold().split()))


def drop_running_lines(pages: Sequence[RawPage]) -> list[list[RawLine]]:
    """Page lines (text normalised) without repeated edge lines and page numbers."""
    seen = Counter(k for p in pages for k in {_key(ln.text) for ln in p.lines if ln.edge})
    need = max(2, math.ceil(len(pages) / 2))
    repeated = {k for k, n in seen.items() if n >= need}
    out: list[list[RawLine]] = []
    for page in pages:
        kept = []
        for ln in page.lines:
            text = normalise(ln.text).strip()
            running = ln.edge and (_key(ln.text) in repeated or _PAGE_NUMBER.match(text))
            if text and not running:
                kept.append(replace(ln, text=text))
        out.append(kept)
    return out


def drop_references(pages: list[list[RawLine]]) -> list[list[RawLine]]:
    """Lines from the last references heading up to an appendix heading (or the end) removed."""
    at = [(p, i) for p, lines in enumerate(pages) for i in range(len(lines))]
    refs = [(p, i) for p, i in at if _REFS_HEADING.match(pages[p][i].text)]
    if not refs:
        return pages
    start = refs[-1]
    after = [(p, i) for p, i in at if (p, i) > start and _is_appendix(pages[p][i].text)]
    stop = after[0] if after else (len(pages), 0)
    return [
        [ln for i, ln in enumerate(lines) if not start <= (p, i) < stop]
        for p, lines in enumerate(pages)
    ]


def _is_appendix(line: str) -> bool:
    return len(line) < 80 and bool(_APPENDIX_HEADING.match(line))


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Words and hyphenated compounds the document uses away from line-end hyphens."""
    words: set[str] = set()
    for text in texts:
        words.update(_WORD.findall(_LINE_BREAK_HYPHEN.sub(" ", text).casefold()))
    return frozenset(words)


def keeps_hyphen(left: str, right: str, vocab: frozenset[str]) -> bool:
    """Is "left-" + line break + "right" a real hyphen (True) or hyphenation (False)?"""
    if "-" in left or right[:1].isupper():
        return True
    head = left.rsplit("-", 1)[-1].casefold()
    tail = right.casefold()
    if head + tail in vocab:
        return False
    if f"{head}-{tail}" in vocab:
        return True
    return head in vocab and tail in vocab


def dehyphenate(text: str, vocab: frozenset[str]) -> str:
    def join(m: re.Match[str]) -> str:
        left, mark, right = m.group(1), m.group(2), m.group(3)
        if mark != "\u00ad" and keeps_hyphen(left, right, vocab):
            return f"{left}-{right}"
        return left + right

    return _LINE_BREAK_HYPHEN.sub(join, text).replace("\u00ad", "")


@dataclass(frozen=True)
class CleanText:
    lines: tuple[tuple[RawLine, ...], ...]  # per page, running lines and references removed
    pages: tuple[PageText, ...]  # the pages with text left, one line each
    vocab: frozenset[str]


def clean_pages(pages: Sequence[RawPage]) -> CleanText:
    lines = drop_references(drop_running_lines(pages))
    joined = ["\n".join(ln.text for ln in page) for page in lines]
    vocab = vocabulary(joined)
    texts = [
        PageText(page.number, clean(dehyphenate(text, vocab)))
        for page, text in zip(pages, joined, strict=True)
    ]
    kept = tuple(p for p in texts if p.text)
    return CleanText(tuple(tuple(page) for page in lines), kept, vocab)
