"""Bytes to text, and the line rules every text format shares.

Non-UTF-8 bytes are replaced (U+FFFD) and reported as a warning naming the file and the byte
offset of the first bad byte: the rest of the file is still worth ingesting."""

from __future__ import annotations

import codecs
import re

from rag.sources.records import Issue

LINE_MAX_CHARS = 20_000
ABSTRACT_MIN_CHARS = 100
# Line ends as an editor counts them. str.splitlines() also splits at \x0b, \x0c, \x1c-\x1e,
# \x85, U+2028 and U+2029, which shifts every reported line number and cuts JSON strings apart.
NEWLINE = re.compile(r"\r\n|\r|\n")


def decode(data: bytes, name: str) -> tuple[str, list[Issue]]:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), []
    except UnicodeDecodeError as e:
        at = bom + e.start  # offsets count from the start of the file, BOM included
        msg = f"non-UTF-8 byte 0x{data[at]:02x} at byte offset {at}; replaced with U+FFFD"
        return data[bom:].decode("utf-8", errors="replace"), [Issue(name, 0, msg, "warning")]
