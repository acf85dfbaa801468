"""Parse paper listings (text dumps or JSONL) into unique papers. Pure: no store, no model.

Listing dumps come in two layouts: lines separated by blank lines, or no blank lines with
`Subscribe` glued to the first title. Both reduce to the same thing once blank lines are
dropped: header lines, then title / abstract alternating. Lines are classified by shape
(titles are short, abstracts long) so one missing line costs one record, not the rest of the
file. Every rejected line is reported with file, line and reason; good records still count.

Non-UTF-8 bytes are replaced (U+FFFD) and reported as a warning naming the file and the byte
offset of the first bad byte: the rest of the file is still worth ingesting.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import CorpusError

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
ABSTRACT_MIN_CHARS = 100
LINE_MAX_CHARS = 20_000
# Line ends as an editor counts them. str.splitlines() also splits at \x0b, \x0c, \x1c-\x1e,
# \x85, U+2028 and U+2029, which shifts every reported line number and cuts JSON strings apart.
NEWLINE = re.compile(r"\r\n|\r|\n")
SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    sources: tuple[str, ...]
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    message: str
    severity: str = "error"  # "error" = a record was rejected; "warning" = kept, but look

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    files: int = 0
    entries: int = 0
    merged_duplicates: int = 0

    @property
    def rejected(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    def summary(self) -> str:
        return (
            f"{self.files} files, {self.entries} entries, {len(self.papers)} unique papers, "
            f"{self.merged_duplicates} merged duplicates, {self.rejected} rejected records, "
            f"{sum(1 for i in self.issues if i.severity == 'warning')} warnings"
        )


@dataclass(frozen=True)
class _Entry:
    title: str
    abstract: str
    source: str
    line: int
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    given_id: str | None = None


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def paper_id(title: str) -> str:
    """Stable id from the normalised title: case, punctuation and spacing do not matter."""
    return "p" + hashlib.sha256(normalise_title(title).encode()).hexdigest()[:15]


def _clean(text: str) -> str:
    return " ".join(text.split())


def _is_header(line: str) -> bool:
    low = line.strip().casefold()
    return low in HEADER_LINES or bool(DATE_LINE.match(low))


def decode(data: bytes, name: str) -> tuple[str, list[Issue]]:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), []
    except UnicodeDecodeError as e:
        at = bom + e.start  # offsets count from the start of the file, BOM included
        msg = f"non-UTF-8 byte 0x{data[at]:02x} at byte offset {at}; replaced with U+FFFD"
        return data[bom:].decode("utf-8", errors="replace"), [Issue(name, 0, msg, "warning")]


def _content_lines(text: str) -> list[tuple[int, str]]:
    # Cleaned before any length rule, so the rules judge the text that is stored.
    lines = [(n, _clean(ln)) for n, ln in enumerate(NEWLINE.split(text), start=1)]
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


def parse_listing(text: str, name: str) -> tuple[list[_Entry], list[Issue]]:
    """Title / abstract pairs from one listing dump, with an issue per rejected line."""
    lines = _content_lines(text)
    entries: list[_Entry] = []
    issues: list[Issue] = []
    i = 0
    while i < len(lines):
        n, line = lines[i]
        problem = _title_problem(line)
        if problem:
            issues.append(Issue(name, n, problem))
            i += 1
            continue
        i, entry, issue = _read_abstract(lines, i, name)
        if entry:
            entries.append(entry)
        if issue:
            issues.append(issue)
    return entries, issues


def _title_problem(line: str) -> str | None:
    if _is_header(line):
        return f"header-like line {line!r} where a title should be; skipped"
    if len(line) > LINE_MAX_CHARS:
        return f"line of {len(line):,} characters (limit {LINE_MAX_CHARS:,}); skipped"
    if _looks_like_abstract(line):
        return f"abstract-like line ({len(line)} chars) with no title before it; skipped"
    return None


def _read_abstract(
    lines: list[tuple[int, str]], i: int, name: str
) -> tuple[int, _Entry | None, Issue | None]:
    """lines[i] is a title; returns (next index, entry or None, issue or None)."""
    n, title = lines[i]
    if i + 1 >= len(lines):
        return i + 1, None, Issue(name, n, f"title {title[:60]!r} has no abstract (end of file)")
    m, abstract = lines[i + 1]
    if _is_header(abstract):
        return i + 2, None, Issue(name, n, f"title {title[:60]!r} is followed by a header line")
    if len(abstract) > LINE_MAX_CHARS:
        msg = (
            f"abstract of {title[:60]!r} has {len(abstract):,} characters "
            f"(limit {LINE_MAX_CHARS:,}); rejected"
        )
        return i + 2, None, Issue(name, m, msg)
    if not _looks_like_abstract(abstract):
        next_is_abstract = i + 2 < len(lines) and _looks_like_abstract(lines[i + 2][1])
        if next_is_abstract:  # the abstract of `title` is missing; this line is the next title
            return i + 1, None, Issue(name, n, f"title {title[:60]!r} has no abstract")
        if len(abstract) < ABSTRACT_MIN_CHARS:
            msg = f"abstract of {title[:60]!r} is only {len(abstract)} characters; rejected"
            return i + 2, None, Issue(name, m, msg)
    return i + 2, _Entry(_clean(title), _clean(abstract), name, n), None


def parse_jsonl(text: str, name: str) -> tuple[list[_Entry], list[Issue]]:
    entries: list[_Entry] = []
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


def _jsonl_entry(obj: object, name: str, n: int) -> _Entry:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    title, abstract = obj.get("title"), obj.get("abstract")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing or empty 'title'")
    if not isinstance(abstract, str) or len(_clean(abstract)) < ABSTRACT_MIN_CHARS:
        raise ValueError(f"'abstract' missing or shorter than {ABSTRACT_MIN_CHARS} characters")
    if not _is_utf8(title + abstract):
        raise ValueError("'title' or 'abstract' has a lone surrogate escape (\\ud800-\\udfff)")
    authors = obj.get("authors") or ()
    if isinstance(authors, str):
        authors = (authors,)
    year = obj.get("year")
    return _Entry(
        _clean(title),
        _clean(abstract),
        name,
        n,
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        authors=tuple(str(a) for a in authors),
        year=int(year) if year is not None else None,
        given_id=str(obj["id"]) if obj.get("id") else None,
    )


def _is_utf8(text: str) -> bool:
    """JSON can escape lone surrogates; the store and the embedder cannot encode them."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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


def parse_file(path: Path) -> tuple[list[_Entry], list[Issue]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}") from e
    text, issues = decode(data, path.name)
    if not text.strip():
        return [], [*issues, Issue(path.name, 0, "empty file; nothing to ingest", "warning")]
    parse = parse_jsonl if path.suffix == ".jsonl" else parse_listing
    entries, more = parse(text, path.name)
    return entries, issues + more


def load_corpus(paths: Iterable[Path]) -> ParseResult:
    result = ParseResult()
    for path in expand_paths(paths):
        entries, issues = parse_file(path)
        result.files += 1
        result.entries += len(entries)
        result.issues.extend(issues)
        merge(result, entries)
    return result


def merge(result: ParseResult, entries: Iterable[_Entry]) -> None:
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


def _paper(pid: str, e: _Entry) -> Paper:
    return Paper(pid, e.title, e.abstract, (e.source,), e.url, e.authors, e.year)
