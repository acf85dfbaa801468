"""A researcher's own library: PDFs, and BibTeX / RIS / CSL-JSON exports whose entries name PDF
attachments. The entry points the ingest path calls:

- `read_library_file(path, settings)` for any file whose suffix is in LIBRARY_SUFFIXES;
- `read_export(path, settings)` for an export: parsed, then each entry's attachments resolved
  inside the library folder (settings.library_root, default the export's folder) and the first
  readable PDF read in the sandbox: its pages become the entry's full text, and its abstract,
  authors, year, DOI and keywords fill what the export left empty. An entry that still has no
  abstract is dropped with one Issue ("no abstract and no readable attachment; skipped").

Every problem is an Issue (file, line, message that says what to do); nothing here raises for a
bad file except CorpusError when the file itself cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rag.errors import ConfigError, CorpusError
from rag.settings import SourceSettings
from rag.sources.attachments import resolve_attachment
from rag.sources.bibtex import parse_bibtex
from rag.sources.csljson import parse_csljson
from rag.sources.pdf import read_pdf
from rag.sources.records import Entry, Issue
from rag.sources.ris import parse_ris
from rag.sources.text import admit, decode

__all__ = ["LIBRARY_SUFFIXES", "read_export", "read_library_file", "read_pdf", "with_attachment"]

Parser = Callable[[str, str], tuple[list[Entry], list[Issue]]]
EXPORT_PARSERS: dict[str, Parser] = {
    ".bib": parse_bibtex,
    ".bibtex": parse_bibtex,
    ".ris": parse_ris,
    ".json": parse_csljson,
}
LIBRARY_SUFFIXES = (".pdf", *EXPORT_PARSERS)


def read_library_file(
    path: Path, settings: SourceSettings, name: str | None = None
) -> tuple[list[Entry], list[Issue]]:
    """`name` (default: the file name) is how sources and issues refer to the file."""
    suffix = path.suffix.casefold()
    if suffix == ".pdf":
        entries, issues = read_pdf(path, settings, name)
        kept, too_long = admit(entries, settings.max_record_chars)
        return kept, issues + too_long
    if suffix in EXPORT_PARSERS:
        return read_export(path, settings, name)
    raise ConfigError(f"{path.name}: not a library file; use one of {', '.join(LIBRARY_SUFFIXES)}")


def read_export(
    path: Path, settings: SourceSettings, name: str | None = None
) -> tuple[list[Entry], list[Issue]]:
    name = name or path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read export file {path}: {e.strerror}") from e
    text, issues = decode(data, name)
    if not text.strip():
        return [], [*issues, Issue(name, 0, "empty file; nothing to ingest", "warning")]
    entries, more = EXPORT_PARSERS[path.suffix.casefold()](text, name)
    issues += more
    root = settings.library_root or path.parent
    kept: list[Entry] = []
    for entry in entries:
        done, found = with_attachment(entry, path, root, settings, name)
        issues += found
        if done:
            kept.append(done)
    kept, too_long = admit(kept, settings.max_record_chars)
    return kept, sorted(issues + too_long, key=lambda i: i.line)


def with_attachment(
    entry: Entry,
    export_file: Path,
    root: Path,
    settings: SourceSettings,
    name: str | None = None,
) -> tuple[Entry | None, list[Issue]]:
    """The entry with its first readable PDF attachment's text; None if it then has no abstract."""
    name = name or export_file.name
    issues: list[Issue] = []
    pdf: Entry | None = None
    for raw in entry.attachments:
        found = resolve_attachment(raw, export_file, root, entry.line)
        if isinstance(found, Issue):
            issues.append(replace(found, file=name))
        elif pdf is not None:
            msg = f"attachment {raw} not read: the entry's first readable PDF is used"
            issues.append(Issue(name, entry.line, msg, "warning"))
        else:
            pdf, problems = _read_attachment(found, raw, name, entry.line, settings)
            issues += problems
    merged = _merge(entry, pdf) if pdf else entry
    if not merged.abstract:
        msg = f"{entry.title[:60]!r} has no abstract and no readable attachment; skipped"
        return None, [*issues, Issue(name, entry.line, msg)]
    return merged, issues


def _read_attachment(
    path: Path, raw: str, export_name: str, line: int, settings: SourceSettings
) -> tuple[Entry | None, list[Issue]]:
    entries, issues = read_pdf(path, settings)
    located = [
        Issue(export_name, line, f"attachment {raw}: {i.message}", i.severity) for i in issues
    ]
    return (entries[0] if entries else None), located


def _merge(entry: Entry, pdf: Entry) -> Entry:
    """The export's fields win (a reference manager's metadata is curated); the PDF fills gaps."""
    return replace(
        entry,
        abstract=entry.abstract or pdf.abstract,
        authors=entry.authors or pdf.authors,
        year=entry.year or pdf.year,
        doi=entry.doi or pdf.doi,
        keywords=entry.keywords or pdf.keywords,
        pages=pdf.pages,
        file_sha256=pdf.file_sha256,
        from_pdf=False,  # the export's record is curated; the PDF only filled its gaps
    )
