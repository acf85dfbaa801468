"""Bytes to text, and the line rules every text format shares.

A PDF (by its header, whatever its name) goes to the PDF reader. Any other binary file (a known
magic number, NUL bytes, many control characters or mostly invalid UTF-8) is refused whole: read
as text it would become hundreds of junk "papers". Otherwise non-UTF-8 bytes are replaced
(U+FFFD) and reported as a warning naming the file and the byte offset of the first bad byte:
the rest of the file is still worth ingesting."""

from __future__ import annotations

import codecs
import re

from rag.sources.records import Entry, Issue

ABSTRACT_MIN_CHARS = 100
# Line ends as an editor counts them. str.splitlines() also splits at \x0b, \x0c, \x1c-\x1e,
# \x85, U+2028 and U+2029, which shifts every reported line number and cuts JSON strings apart.
NEWLINE = re.compile(r"\r\n|\r|\n")


# Magic numbers of the binary formats a paper folder holds; %PDF- may follow a little junk.
MAGIC = (
    (b"PK\x03\x04", "a zip archive: docx, xlsx, epub, …"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "an executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
PDF_NOTE = "a PDF"  # the loader gives PDFs to the PDF reader before this rule is asked
SNIFF_BYTES = 65_536
MAX_CONTROL_SHARE = 0.05  # C0 controls other than tab, line ends and form feed
MAX_INVALID_SHARE = 0.25  # of the characters: Latin-1 prose stays far below, random bytes above
MIN_INVALID = 8  # a few bad bytes in a tiny file (a cut-off character) are text with a warning
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r")


def looks_like_pdf(data: bytes) -> bool:
    """A %PDF- header in the first 1024 bytes (where PDF readers look for it), whatever the
    file is called."""
    return b"%PDF-" in data[:1024]


def binary_reason(data: bytes) -> str | None:
    """Why `data` is not text (what it looks like), or None for text."""
    head = data[:SNIFF_BYTES]
    if looks_like_pdf(head):
        return PDF_NOTE
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "NUL bytes"
    controls = len(head) - len(head.translate(None, _CONTROL))
    if head and controls / len(head) > MAX_CONTROL_SHARE:
        return f"{controls / len(head):.0%} control characters"
    text = head.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - head.decode("utf-8", errors="ignore").count("\ufffd")
    if invalid >= MIN_INVALID and invalid / len(text) > MAX_INVALID_SHARE:
        return f"{invalid / len(text):.0%} of it not UTF-8"
    return None


def decode(data: bytes, name: str) -> tuple[str, list[Issue]]:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), []
    except UnicodeDecodeError as e:
        at = bom + e.start  # offsets count from the start of the file, BOM included
        msg = f"non-UTF-8 byte 0x{data[at]:02x} at byte offset {at}; replaced with U+FFFD"
        return data[bom:].decode("utf-8", errors="replace"), [Issue(name, 0, msg, "warning")]


def oversized(entry: Entry, max_chars: int) -> Issue | None:
    """The rejection of a record whose title or abstract is over the one size limit
    (SourceSettings.max_record_chars), whatever format it came from."""
    for part, text in (("title", entry.title), ("abstract", entry.abstract)):
        if len(text) > max_chars:
            msg = (
                f"{part} of {entry.title[:60]!r} has {len(text):,} characters (limit "
                f"{max_chars:,}: RAG_SOURCES_MAX_RECORD_CHARS); rejected"
            )
            return Issue(entry.source, entry.line, msg)
    return None


def admit(entries: list[Entry], max_chars: int) -> tuple[list[Entry], list[Issue]]:
    """Entries within the size limit, and an Issue for each one over it."""
    kept: list[Entry] = []
    issues: list[Issue] = []
    for e in entries:
        problem = oversized(e, max_chars)
        if problem:
            issues.append(problem)
        else:
            kept.append(e)
    return kept, issues
