"""Files and folders to unique papers: each file read by the parser of its format (listing dumps,
JSONL, PDFs, BibTeX, RIS, CSL-JSON), entries of the same paper merged. Pure: no store, no model;
the papers already stored come in as `known` identities so ids hold across runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from rag.errors import CorpusError
from rag.settings import SourceSettings
from rag.sources.identity import KnownPaper, normalise_doi, normalise_title, paper_id
from rag.sources.jsonl import parse_jsonl
from rag.sources.library import EXPORT_PARSERS, read_export
from rag.sources.listing import parse_listing
from rag.sources.pdf import read_pdf
from rag.sources.records import Entry, Issue, Paper, ParseResult, SourceFile
from rag.sources.text import admit, binary_reason, decode, looks_like_pdf

SUFFIXES = (".txt", ".jsonl", ".pdf", *EXPORT_PARSERS)  # in any case: .JSONL, .Txt, .PDF
_HEAD_BYTES = 65_536


def expand_paths(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[Issue]]:
    """(file, source name) pairs and notices. Files named are read whatever their suffix;
    folders are walked (subfolders too, sorted) for the SUFFIXES, named by their path in the
    folder, and one warning per folder counts what was not read."""
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
    allowed = ", ".join(SUFFIXES)
    msg = f"{len(skipped)} entries not read ({kinds}): only {allowed} files are ingested"
    return Issue(f"{folder.name}/", 0, msg, "warning")


def parse_file(
    path: Path, cfg: SourceSettings | None = None, name: str | None = None
) -> tuple[list[Entry], list[Issue]]:
    """One file's entries, each within the size limits, and its issues (a refused file: one).
    `name` (default: the file name) is how sources and issues refer to the file. A PDF goes to
    the PDF reader by its header whatever its suffix; other binary files are refused."""
    cfg = cfg or SourceSettings()
    name = name or path.name
    head = _head(path, cfg, name)
    if isinstance(head, Issue):
        return [], [head]
    suffix = path.suffix.casefold()
    if suffix == ".pdf" or looks_like_pdf(head):
        entries, issues = read_pdf(path, cfg, name)
        kept, too_long = admit(entries, cfg.max_record_chars)
        return kept, issues + too_long
    reason = binary_reason(head)
    if reason:
        return [], [Issue(name, 0, f"binary file ({reason}); not a text listing — skipped")]
    if suffix in EXPORT_PARSERS:
        return read_export(path, cfg, name)
    return _parse_text(path, cfg.max_record_chars, name)


def _head(path: Path, cfg: SourceSettings, name: str) -> bytes | Issue:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}") from e
    if size > cfg.max_file_mb * 2**20:
        msg = (
            f"file is {size / 2**20:.1f} MB, over the {cfg.max_file_mb:g} MB limit; skipped "
            "(raise RAG_SOURCES_MAX_FILE_MB to read it)"
        )
        return Issue(name, 0, msg)
    return head


def _parse_text(path: Path, max_chars: int, name: str) -> tuple[list[Entry], list[Issue]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror}") from e
    text, issues = decode(data, name)
    if not text.strip():
        return [], [*issues, Issue(name, 0, "empty file; nothing to ingest", "warning")]
    if path.suffix.casefold() == ".jsonl":
        entries, more = parse_jsonl(text, name)
    else:
        entries, more = parse_listing(text, name, max_chars)
    entries, too_long = admit(entries, max_chars)
    return entries, sorted(issues + more + too_long, key=lambda i: i.line)


def load_corpus(
    paths: Iterable[Path],
    cfg: SourceSettings | None = None,
    known: Sequence[KnownPaper] = (),
) -> ParseResult:
    """Every file's entries merged into unique papers. `known`: the papers already stored, so a
    paper keeps its id across runs (and a second paper with a stored title gets its own)."""
    cfg = cfg or SourceSettings()
    files, notices = expand_paths(paths)
    result = ParseResult(issues=notices)
    index = _Index(result.papers, known)
    for path, name in files:
        entries, issues = parse_file(path, cfg, name)
        where = str(path.resolve())
        result.files += 1
        result.entries += len(entries)
        result.issues.extend(issues)
        if entries or not any(i.severity == "error" for i in issues):
            result.read.append(SourceFile(name, where))  # read whole: what it holds is current
        merge(result, [replace(e, path=where) for e in entries], index)
    return result


def merge(result: ParseResult, entries: Iterable[Entry], index: _Index | None = None) -> None:
    """Fold entries into unique papers by the rule in identity.py: same DOI, else the same PDF
    file, else (a DOI missing on either side) the same normalised title → one paper with
    several sources."""
    index = index or _Index(result.papers)
    for e in entries:
        e = replace(e, doi=normalise_doi(e.doi))
        k = index.find(e)
        pid = index.new_id(e) if k is None else ""
        k = index.by_id.get(pid, k)  # a stored paper this run already has under that id
        if k is None:
            index.add(_paper(pid, e), result, e)
        else:
            _fold(result, k, e, index)


class _Index:
    """Where the papers of a run are, by DOI, PDF hash and normalised title; and the papers
    already stored (`known`), whose ids a paper of this run takes when it is one of them."""

    def __init__(self, papers: list[Paper], known: Sequence[KnownPaper] = ()) -> None:
        self.papers = papers
        self.by_doi: dict[str, int] = {}
        self.by_sha: dict[str, int] = {}
        self.by_title: dict[str, list[int]] = {}
        self.by_label: dict[str, int] = {}
        self.by_id: dict[str, int] = {}
        self.known = list(known)
        self.known_doi = {k.doi: k for k in self.known if k.doi}
        self.known_sha = {sha: k for k in self.known for sha in k.file_sha256}
        self.known_title: dict[str, list[KnownPaper]] = {}
        for k in self.known:
            self.known_title.setdefault(normalise_title(k.title), []).append(k)
        for i, p in enumerate(papers):
            self._register(i, p)

    def _register(self, k: int, p: Paper) -> None:
        self.by_id.setdefault(p.id, k)
        if p.doi:
            self.by_doi.setdefault(p.doi, k)
        if p.file_sha256:
            self.by_sha.setdefault(p.file_sha256, k)
        self.by_title.setdefault(normalise_title(p.title), []).append(k)
        if p.external_id:
            self.by_label.setdefault(p.external_id, k)

    def find(self, e: Entry) -> int | None:
        if e.doi and e.doi in self.by_doi:
            return self.by_doi[e.doi]
        sha = self.by_sha.get(e.file_sha256 or "")
        if sha is not None and not _two_dois(e.doi, self.papers[sha].doi):
            return sha
        for k in self.by_title.get(normalise_title(e.title), []):
            if not _two_dois(e.doi, self.papers[k].doi):
                return k
        return None

    def find_known(self, e: Entry) -> KnownPaper | None:
        """The stored paper `e` is (same rule as `find`), if any."""
        if e.doi and e.doi in self.known_doi:
            return self.known_doi[e.doi]
        sha = self.known_sha.get(e.file_sha256 or "")
        if sha is not None and not _two_dois(e.doi, sha.doi):
            return sha
        titled = self.known_title.get(normalise_title(e.title), [])
        return next((k for k in titled if not _two_dois(e.doi, k.doi)), None)

    def new_id(self, e: Entry) -> str:
        """A stored paper's id when `e` is that paper; else the title's id, unless a paper with
        that title (and another DOI) already has it, in this run or in the store."""
        known = self.find_known(e)
        if known is not None:
            return known.paper_id
        key = normalise_title(e.title)
        taken = bool(self.by_title.get(key) or self.known_title.get(key))
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

    def update(self, k: int, paper: Paper, e: Entry) -> None:
        """Paper k with a new source, perhaps a DOI, a PDF or a label it lacked; the entry's
        title is registered too, so a third record titled like the second one finds it."""
        self.papers[k] = paper
        if paper.doi:
            self.by_doi.setdefault(paper.doi, k)
        if paper.file_sha256:
            self.by_sha.setdefault(paper.file_sha256, k)
        if paper.external_id:
            self.by_label.setdefault(paper.external_id, k)
        titled = self.by_title.setdefault(normalise_title(e.title), [])
        if k not in titled:
            titled.append(k)


def _two_dois(a: str | None, b: str | None) -> bool:
    """Two different DOIs: two papers, whatever else they share."""
    return bool(a and b and a != b)


def _fold(result: ParseResult, k: int, e: Entry, index: _Index) -> None:
    """Entry `e` is paper k seen again: a new source, and what the paper was missing. A record
    from an export (curated) wins over what was guessed from a bare PDF; otherwise the first
    record's fields stay and the later one only fills gaps."""
    old = result.papers[k]
    result.merged_duplicates += 1
    curated = old.from_pdf and not e.from_pdf
    if old.abstract != e.abstract and not (old.from_pdf or e.from_pdf):
        same = "DOI" if e.doi and e.doi == old.doi else "title"
        msg = f"same {same} as {old.title[:60]!r} but a different abstract; kept the first"
        result.issues.append(Issue(e.source, e.line, msg, "warning"))
    new = _paper(old.id, e)
    first, then = (new, old) if curated else (old, new)
    pages = first.pages or then.pages
    sha = first.file_sha256 if first.pages else then.file_sha256
    index.update(
        k,
        replace(
            first,
            sources=tuple(dict.fromkeys((*old.sources, e.source))),
            files=tuple(dict.fromkeys((*old.files, *_files(e)))),
            url=first.url or then.url,
            authors=first.authors or then.authors,
            year=first.year or then.year,
            doi=first.doi or then.doi,
            venue=first.venue or then.venue,
            keywords=first.keywords or then.keywords,
            pages=pages,
            file_sha256=sha or first.file_sha256 or then.file_sha256,
            external_id=old.external_id or e.given_id,
            from_pdf=old.from_pdf and e.from_pdf,
            abstract_files=_holding(first.abstract, (old, new), "abstract"),
            pages_files=_holding(sha, (old, new), "file_sha256") if pages else (),
        ),
        e,
    )


def _holding(value: str | None, papers: tuple[Paper, Paper], field: str) -> tuple[SourceFile, ...]:
    """The files (of the two records folded) whose text is `value` (an abstract, a PDF hash)."""
    files = [
        f
        for p in papers
        if value and getattr(p, field) == value
        for f in (p.abstract_files if field == "abstract" else p.pages_files)
    ]
    return tuple(dict.fromkeys(files))


def _files(e: Entry) -> tuple[SourceFile, ...]:
    return (SourceFile(e.source, e.path),) if e.path else ()


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
        files=_files(e),
        file_sha256=e.file_sha256,
        from_pdf=e.from_pdf,
        abstract_files=_files(e) if e.abstract else (),
        pages_files=_files(e) if e.pages else (),
    )
