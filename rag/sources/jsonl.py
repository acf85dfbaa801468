"""JSONL: one paper per line (`title`, `abstract`; optional `id`, `doi`, `url`, `authors`,
`year`). An `id` is the record's own label (see identity.py): kept, never its identity."""

from __future__ import annotations

import json

from rag.sources.identity import normalise_doi
from rag.sources.records import Entry, Issue, clean
from rag.sources.text import ABSTRACT_MIN_CHARS, NEWLINE


def parse_jsonl(text: str, name: str) -> tuple[list[Entry], list[Issue]]:
    entries: list[Entry] = []
    issues: list[Issue] = []
    for n, line in enumerate(NEWLINE.split(text), start=1):
        if not line.strip():
            continue
        try:
            entries.append(_jsonl_entry(json.loads(line), name, n))
        # OverflowError: "year": Infinity; RecursionError: a line of deeply nested brackets
        except (ValueError, TypeError, OverflowError, RecursionError) as e:
            issues.append(Issue(name, n, f"bad JSONL record: {e}"))
    return entries, issues


def _jsonl_entry(obj: object, name: str, n: int) -> Entry:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    title, abstract = obj.get("title"), obj.get("abstract")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing or empty 'title'")
    if not isinstance(abstract, str) or len(clean(abstract)) < ABSTRACT_MIN_CHARS:
        raise ValueError(f"'abstract' missing or shorter than {ABSTRACT_MIN_CHARS} characters")
    if not _is_utf8(title + abstract):
        raise ValueError("'title' or 'abstract' has a lone surrogate escape (\\ud800-\\udfff)")
    authors = obj.get("authors") or ()
    if isinstance(authors, str):
        authors = (authors,)
    year = obj.get("year")
    return Entry(
        clean(title),
        clean(abstract),
        name,
        n,
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        authors=tuple(str(a) for a in authors),
        year=int(year) if year is not None else None,
        given_id=str(obj["id"]) if obj.get("id") else None,
        doi=normalise_doi(obj["doi"]) if isinstance(obj.get("doi"), str) else None,
    )


def _is_utf8(text: str) -> bool:
    """JSON can escape lone surrogates; the store and the embedder cannot encode them."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
