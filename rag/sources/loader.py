"""Files and folders to unique papers: each file read by the parser of its format, entries of
the same paper merged. Pure: no store, no model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from rag.errors import CorpusError
from rag.settings import DEFAULT_MAX_RECORD_CHARS, SourceSettings
from rag.sources.identity import normalise_doi, normalise_title, paper_id
from rag.sources.jsonl import parse_jsonl
from rag.sources.listing import parse_listing
from rag.sources.records import Entry, Issue, Paper, ParseResult
from rag.sources.text import PDF_NOTE, admit, binary_reason, decode

SUFFIXES = (".txt", ".jsonl")  # in any case: .JSONL, .Txt
JSON_NOTE = (
    "a .json file is not read (CSL-JSON comes with the library import); write one object per "
    "line as .jsonl"
)


def expand_paths(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[Issue]]:
    """(file, source name) pairs and notices. Files named are read whatever their suffix;
    folders are walked (subfolders too, sorted) for *.txt and *.jsonl, named by their path in
    the folder, and one warning per folder counts what was not read."""
    out: list[tuple[Path, str]] = []
    notices: list[Issue] = []
    for p in paths:
        if p.is_dir():
            found, skipped = _walk(p)
            out += [(f, f.relative_to(p).as_posix()) for f in found]
            if skipped:
                notices.append(_skipped_notice(p, skipped))
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise CorpusError(f"corpus path {p} does not exist; give a file or a folder")
    return out, notices


def _walk(folder: Path) -> tuple[list[Path], list[str]]:
    """Readable files under `folder`, and the kinds of what is skipped (hidden entries too)."""
    found: list[Path] = []
    skipped: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            skipped.append("hidden")
        elif entry.is_dir():
            more, also = _walk(entry)
            found += more
            skipped += also
        elif entry.is_file() and entry.suffix.casefold() in SUFFIXES:
            found.append(entry)
        else:
            skipped.append(entry.suffix.casefold() or "no suffix")
    return found, skipped


def _skipped_notice(folder: Path, skipped: list[str]) -> Issue:
    kinds = ", ".join(f"{k} ×{skipped.count(k)}" for k in dict.fromkeys(skipped))
    msg = f"{len(skipped)} entries not read ({kinds}): only .txt and .jsonl files are ingested"
    return Issue(f"{folder.name}/", 0, msg, "warning")


def parse_file(
    path: Path, max_chars: int = DEFAULT_MAX_RECORD_CHARS, name: str | None = None
) -> tuple[list[Entry], list[Issue]]:
    """One file's entries, each within the size limit, and its issues (a binary file: one).
    `name` (default: the file name) is how sources and issues refer to the file."""
    name = name or path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}") from e
    suffix = path.suffix.casefold()
    if suffix == ".json":
        return [], [Issue(name, 0, JSON_NOTE)]
    reason = PDF_NOTE if suffix == ".pdf" else binary_reason(data)
    if reason:
        return [], [Issue(name, 0, f"binary file ({reason}); not a text listing — skipped")]
    text, issues = decode(data, name)
    if not text.strip():
        return [], [*issues, Issue(name, 0, "empty file; nothing to ingest", "warning")]
    if suffix == ".jsonl":
        entries, more = parse_jsonl(text, name)
    else:
        entries, more = parse_listing(text, name, max_chars)
    entries, too_long = admit(entries, max_chars)
    return entries, sorted(issues + more + too_long, key=lambda i: i.line)


def load_corpus(paths: Iterable[Path], cfg: SourceSettings | None = None) -> ParseResult:
    max_chars = cfg.max_record_chars if cfg else DEFAULT_MAX_RECORD_CHARS
    files, notices = expand_paths(paths)
    result = ParseResult(issues=notices)
    for path, name in files:
        entries, issues = parse_file(path, max_chars, name)
        result.files += 1
        result.entries += len(entries)
        result.issues.extend(issues)
        merge(result, entries)
    return result


def merge(result: ParseResult, entries: Iterable[Entry]) -> None:
    """Fold entries into unique papers by the rule in identity.py: same DOI, else (a DOI
    missing on either side) same normalised title → one paper with several sources."""
    index = _Index(result.papers)
    for e in entries:
        e = replace(e, doi=normalise_doi(e.doi))
        k = index.find(e)
        if k is None:
            index.add(_paper(index.new_id(e), e), result, e)
        else:
            _fold(result, k, e, index)


class _Index:
    """Where the papers of a run are, by DOI and by normalised title."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers
        self.by_doi: dict[str, int] = {}
        self.by_title: dict[str, list[int]] = {}
        self.by_label: dict[str, int] = {}
        for k, p in enumerate(papers):
            self._register(k, p)

    def _register(self, k: int, p: Paper) -> None:
        if p.doi:
            self.by_doi.setdefault(p.doi, k)
        self.by_title.setdefault(normalise_title(p.title), []).append(k)
        if p.external_id:
            self.by_label.setdefault(p.external_id, k)

    def find(self, e: Entry) -> int | None:
        if e.doi and e.doi in self.by_doi:
            return self.by_doi[e.doi]
        for k in self.by_title.get(normalise_title(e.title), []):
            if not (e.doi and self.papers[k].doi):  # two different DOIs: two papers
                return k
        return None

    def new_id(self, e: Entry) -> str:
        """The title's id, unless a paper with that title (and another DOI) already has it."""
        taken = bool(self.by_title.get(normalise_title(e.title)))
        return paper_id(e.title, e.doi if taken else None)

    def add(self, paper: Paper, result: ParseResult, e: Entry) -> None:
        other = self.by_label.get(e.given_id or "")
        if other is not None:
            msg = (
                f"id {e.given_id!r} is also given to {self.papers[other].title[:60]!r}; an id is "
                "a label and does not merge papers: both kept"
            )
            result.issues.append(Issue(e.source, e.line, msg, "warning"))
        self.papers.append(paper)
        self._register(len(self.papers) - 1, paper)

    def update(self, k: int, paper: Paper) -> None:
        """Paper k with a new source, perhaps a DOI or a label it lacked (its title is known)."""
        self.papers[k] = paper
        if paper.doi:
            self.by_doi.setdefault(paper.doi, k)
        if paper.external_id:
            self.by_label.setdefault(paper.external_id, k)


def _fold(result: ParseResult, k: int, e: Entry, index: _Index) -> None:
    """Entry `e` is paper k seen again: a new source, and what the paper was missing."""
    old = result.papers[k]
    result.merged_duplicates += 1
    if old.abstract != e.abstract:
        same = "DOI" if e.doi and e.doi == old.doi else "title"
        msg = f"same {same} as {old.title[:60]!r} but a different abstract; kept the first"
        result.issues.append(Issue(e.source, e.line, msg, "warning"))
    index.update(
        k,
        replace(
            old,
            sources=tuple(dict.fromkeys((*old.sources, e.source))),
            doi=old.doi or e.doi,
            external_id=old.external_id or e.given_id,
        ),
    )


def _paper(pid: str, e: Entry) -> Paper:
    return Paper(
        pid,
        e.title,
        e.abstract,
        (e.source,),
        e.url,
        e.authors,
        e.year,
        doi=e.doi,
        venue=e.venue,
        keywords=e.keywords,
        pages=e.pages,
        external_id=e.given_id,
    )
