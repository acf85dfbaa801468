"""Search filters: a year range, an author, a source file. One `Filters` value, applied in two
places that must agree: as a Chroma `where` on the dense side and as a predicate on the chunks
BM25 ranks (tests/integration/test_library.py checks that both select the same chunks).

- year: `2023-2024`, `2023`, `2023-` or `-2024`; papers without a year never match a range;
- author: every word of NAME (two letters or more, case and accents ignored) is a word of one
  of the paper's author names: `--author lindqvist` or `--author "Mara Lindqvist"`. Chroma
  cannot match substrings of metadata, so the words are stored as an array (`author_keys`)
  and matched with `$contains`;
- source: a file as `rag list` shows it (name or path; a folder: every file under it),
  resolved to the stored files' keys first (catalog.match_sources), then matched with
  `$contains` on `source_keys`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rag.errors import ConfigError
from rag.index.catalog import name_words

_YEARS = re.compile(r"^\s*(\d{4})?\s*(-)?\s*(\d{4})?\s*$")


@dataclass(frozen=True)
class Filters:
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    source: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.year_from, self.year_to, self.author, self.source))

    def record(self) -> dict[str, Any]:
        """As the JSON output records them: {"year": [from, to], "author": …, "source": …}."""
        out: dict[str, Any] = {}
        if self.year_from is not None or self.year_to is not None:
            out["year"] = [self.year_from, self.year_to]
        if self.author is not None:
            out["author"] = self.author
        if self.source is not None:
            out["source"] = self.source
        return out


def parse_years(text: str) -> tuple[int | None, int | None]:
    m = _YEARS.match(text or "")
    if not m or not (m.group(1) or m.group(3)):
        raise ConfigError(f"--year {text!r}: give a year or a range, e.g. 2023, 2023-2024, 2023-")
    low = int(m.group(1)) if m.group(1) else None
    high = int(m.group(3)) if m.group(3) else None
    if not m.group(2):
        high = low
    if low is not None and high is not None and low > high:
        raise ConfigError(f"--year {text!r}: the first year is after the second")
    return low, high


def make_filters(
    year: str | None = None, author: str | None = None, source: str | None = None
) -> Filters:
    """From the command line's (or the UI's) strings; a bad one is a ConfigError."""
    low, high = parse_years(year) if year else (None, None)
    if author is not None and not name_words(author):
        raise ConfigError(f"--author {author!r}: give a name (words of two or more letters)")
    if source is not None and not source.strip():
        raise ConfigError("--source: give a file name or path, as `rag list` shows it")
    return Filters(low, high, author, source)


def where(f: Filters, source_keys: Iterable[str] | None = None) -> dict[str, Any] | None:
    """The Chroma `where` for `f`; `source_keys`: what f.source resolved to (None: no source
    filter). An empty key set matches nothing: no chunk has an empty key."""
    clauses: list[dict[str, Any]] = []
    if f.year_from is not None:
        clauses.append({"year": {"$gte": f.year_from}})
    if f.year_to is not None:
        clauses.append({"year": {"$lte": f.year_to}})
    clauses += [{"author_keys": {"$contains": w}} for w in name_words(f.author or "")]
    if source_keys is not None:
        keys = sorted(source_keys) or [""]
        ors = [{"source_keys": {"$contains": k}} for k in keys]
        clauses.append(ors[0] if len(ors) == 1 else {"$or": ors})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(
    f: Filters,
    year: int | None,
    author_keys: Iterable[str],
    chunk_source_keys: Iterable[str],
    source_keys: Iterable[str] | None = None,
) -> bool:
    """The same rule as `where`, on one chunk's fields (for BM25)."""
    if (f.year_from is not None or f.year_to is not None) and year is None:
        return False
    if f.year_from is not None and year is not None and year < f.year_from:
        return False
    if f.year_to is not None and year is not None and year > f.year_to:
        return False
    if not set(name_words(f.author or "")) <= set(author_keys):
        return False
    return source_keys is None or bool(set(source_keys) & set(chunk_source_keys))
