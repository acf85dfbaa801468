"""Attachment paths from reference-manager exports: parse them as written, then resolve them
safely inside the library folder.

Forms seen in `file` fields:
- Zotero BibTeX: `Full Text PDF:files/12/paper.pdf:application/pdf;Snapshot:files/12/s.html:text/html`
  (description:path:type, items split by ";", with "\\:" and "\\;" escaping; Windows paths
  `C\\:\\\\Users\\\\…`);
- Better BibTeX: plain paths split by ";";
- RIS `L1  - files/12/paper.pdf` or `L1  - file:///home/me/paper.pdf` (one per line).

An export is untrusted input: a path must not lead the reader out of the library folder. A path
is resolved against the export's folder, with symlinks and ".." resolved, and refused unless the
result lies inside `library_root`; NUL bytes, other hosts and non-file links are refused too.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from rag.sources.records import Issue

__all__ = ["resolve_attachment", "split_file_field"]

_ITEM_SEP = re.compile(r"(?<!\\);")
_PART_SEP = re.compile(r"(?<!\\):")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):")
_SHOWN_MAX = 200


def _unescape(text: str) -> str:
    return text.replace("\\:", ":").replace("\\;", ";").replace("\\\\", "\\").strip()


def _item_path(item: str) -> str:
    parts = _PART_SEP.split(item)
    if len(parts) >= 3:  # description:path:type; the path may hold escaped colons
        return ":".join(parts[1:-1])
    if len(parts) == 2 and not (len(parts[0]) == 1 and parts[1][:1] in "\\/"):
        return parts[1]  # description:path (JabRef without a type)
    return item  # a plain path, or a Windows path with an unescaped drive colon


def split_file_field(value: str) -> tuple[str, ...]:
    """The paths a BibTeX `file` field names, in order, as written (not resolved)."""
    items = (i.strip() for i in _ITEM_SEP.split(value or ""))
    return tuple(p for p in (_unescape(_item_path(i)) for i in items if i) if p)


def _shown(raw: str) -> str:
    text = raw.replace("\x00", "\\x00")
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"


def _local_path(raw: str) -> str | None:
    """The file-system path a raw attachment names, or None if it is not a local file."""
    text = raw.strip()
    if text.casefold().startswith("file:"):
        url = urlparse(text)
        return unquote(url.path) if url.netloc in ("", "localhost") else None
    scheme = _SCHEME.match(text)
    if scheme and len(scheme.group(1)) > 1:  # "C:\..." is a drive, "https:" is not a file
        return None
    return text


def resolve_attachment(
    raw: str, export_file: Path, library_root: Path, line: int = 0
) -> Path | Issue:
    """The PDF `raw` names, resolved inside `library_root`; else an Issue saying why not
    (error: unsafe or missing; warning: not a PDF, so not read)."""
    name = export_file.name
    local = _local_path(raw)
    if local is None:
        return Issue(
            name, line, f"attachment {_shown(raw)} is not a local file; skipped", "warning"
        )
    if "\x00" in local:
        return Issue(name, line, f"attachment path {_shown(raw)} contains a NUL byte; skipped")
    root = library_root.resolve()
    try:
        path = (export_file.parent / local).resolve()  # an absolute `local` replaces the folder
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop
        return Issue(name, line, f"attachment path {_shown(raw)} cannot be resolved ({e}); skipped")
    if not path.is_relative_to(root):
        msg = f"attachment path {_shown(raw)} is outside the library folder {root}; skipped"
        return Issue(name, line, msg)
    if path.suffix.casefold() != ".pdf":
        msg = f"attachment {_shown(raw)} is not a PDF; skipped (only PDFs are read)"
        return Issue(name, line, msg, "warning")
    if not path.is_file():
        return Issue(name, line, f"attachment {_shown(raw)} not found at {path}; skipped")
    return path
