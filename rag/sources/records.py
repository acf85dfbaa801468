"""What every parser produces: an Entry per record read from a file, an Issue for each record
rejected (or kept with a warning), and Papers (entries merged by identity) in a ParseResult."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageText:
    """The cleaned text of one PDF page; `number` is the page as the PDF counts it (1-based)."""

    number: int
    text: str


@dataclass(frozen=True)
class SourceFile:
    """A file a paper was read from: `label` is what `sources` shows (the file's name, or its
    path inside a folder given to ingest); `path` the resolved absolute path that tells two files
    with one name apart (None for chunks stored before paths were kept)."""

    label: str
    path: str | None = None


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    sources: tuple[str, ...]
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    venue: str | None = None
    keywords: tuple[str, ...] = ()
    pages: tuple[PageText, ...] = ()  # full text by page, when a PDF was read
    external_id: str | None = None  # the record's own `id`: a label, never its identity
    files: tuple[SourceFile, ...] = ()  # the files behind `sources`, with their paths
    file_sha256: str | None = None  # of the PDF whose text `pages` holds
    from_pdf: bool = False  # title, authors, year, abstract guessed from a bare PDF
    # Which of `files` hold this very abstract, and these very pages (the PDF, or an export
    # entry with it attached): re-reading one of them replaces exactly the text it gave.
    abstract_files: tuple[SourceFile, ...] = ()
    pages_files: tuple[SourceFile, ...] = ()

    def source_files(self) -> tuple[SourceFile, ...]:
        """`files`, or (a paper built without paths) one path-less SourceFile per source."""
        return self.files or tuple(SourceFile(s) for s in self.sources)

    def origins(self, page: bool) -> tuple[SourceFile, ...]:
        """The files a chunk of the abstract (page=False) or of the pages was read from: those
        that hold that text, and those that hold the paper but gave none of its text."""
        files = self.source_files()
        textual = {*self.abstract_files, *self.pages_files}
        given = set(self.pages_files if page else self.abstract_files) or set(files)
        return tuple(f for f in files if f in given or f not in textual)


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    message: str
    severity: str = "error"  # "error" = a record was rejected; "warning" = kept, but look

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Entry:
    """One record as one file gives it, before entries of the same paper are merged."""

    title: str
    abstract: str
    source: str
    line: int
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    given_id: str | None = None
    doi: str | None = None
    venue: str | None = None
    keywords: tuple[str, ...] = ()
    pages: tuple[PageText, ...] = ()  # full text by page, when a PDF was read
    # File paths an export's `file` field names, as written (unresolved, possibly hostile).
    attachments: tuple[str, ...] = ()
    path: str | None = None  # the resolved path of the file read (set by the loader)
    file_sha256: str | None = None  # of the PDF whose text `pages` holds
    from_pdf: bool = False  # a bare PDF: its metadata is guessed, an export's is curated


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    files: int = 0
    entries: int = 0
    merged_duplicates: int = 0
    # Files read whole in this run (not refused): their papers are exactly what they hold now,
    # so a paper stored from one of them and no longer in it loses it as a source.
    read: list[SourceFile] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    def summary(self) -> str:
        return (
            f"{self.files} files, {self.entries} entries, {len(self.papers)} unique papers, "
            f"{self.merged_duplicates} merged duplicates, {self.rejected} rejected records, "
            f"{sum(1 for i in self.issues if i.severity == 'warning')} warnings"
        )


def clean(text: str) -> str:
    """Whitespace collapsed: what is stored, and what the length rules judge."""
    return " ".join(text.split())
