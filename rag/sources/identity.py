"""Paper identity: which records are the same paper, and the id that paper gets.

The rule (README, "Your own papers"):
1. Records with the same DOI are one paper; records with different DOIs are different papers.
2. Otherwise records whose text comes from the same PDF file (SHA-256: a PDF given directly and
   the same file attached to an export entry) are one paper.
3. Otherwise (a DOI missing on either side) records with the same normalised title are one paper.
4. A record's own `id` is a label kept with the paper (`external_id`); it never merges or splits.

The paper id comes from the normalised title of its first record, so it is the same in every
run and every format (a listing has no DOI, a BibTeX export may); only a second paper with the
same title and another DOI gets an id from title and DOI. Across runs the store's papers are
`KnownPaper`s: a record that is one of them (same DOI, same PDF file by SHA-256, or same title
with no two different DOIs) takes its id, and a new paper whose title a stored paper with
another DOI holds gets the title-and-DOI id, so it never takes (and replaces) that paper's id.

Normalising a title: NFKC, format characters dropped (zero-width space, soft hyphen, joiners,
byte-order marks, variation selectors), case folded; letters, digits, marks and symbols kept
(`C++` and `C#` differ, so do emoji) as well as `#`; other punctuation and
whitespace runs become one space. A title with nothing left (punctuation only) keys on its
NFKC text, so two such titles never collide with each other or with a real one."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownPaper:
    """A paper already in the store, as identity needs it: a record of this run that is this
    paper (same DOI, same PDF file, or same title without two different DOIs) takes its id."""

    paper_id: str
    title: str
    doi: str | None = None
    file_sha256: tuple[str, ...] = ()


_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_KEPT_PUNCTUATION = frozenset("#")  # C# is not C; other punctuation (: - , . & %) separates
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))


def _invisible(ch: str) -> bool:
    """Characters that change the bytes of a title but not how it reads."""
    code = ord(ch)
    return unicodedata.category(ch) == "Cf" or any(code in r for r in _VARIATION_SELECTORS)


def _meaningful(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNMS" or ch == "_" or ch in _KEPT_PUNCTUATION


def visible_text(text: str) -> str:
    """NFKC, format characters dropped, case folded (NFKC again: folding can denormalise)."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _invisible(ch))
    return unicodedata.normalize("NFKC", text.casefold())


def normalise_title(title: str) -> str:
    text = visible_text(title)
    key = " ".join("".join(ch if _meaningful(ch) else " " for ch in text).split())
    # ':' never survives in a key, so a fallback cannot equal a real title's key
    return key or "raw:" + " ".join(text.split())


def paper_id(title: str, doi: str | None = None) -> str:
    """Stable id from the normalised title (and the DOI, for a second paper with that title)."""
    key = normalise_title(title) + (f"\x00doi:{doi}" if doi else "")
    return "p" + hashlib.sha256(key.encode()).hexdigest()[:15]


def normalise_doi(raw: str | None) -> str | None:
    """'https://doi.org/10.1/X' and 'doi:10.1/X' → '10.1/x' (DOIs ignore case); else None."""
    text = _DOI_PREFIX.sub("", " ".join((raw or "").split()))
    return text.rstrip(".,;").casefold() if _DOI.fullmatch(text) else None
