"""Paper identity: which records are the same paper."""

from __future__ import annotations

import hashlib
import re
import unicodedata


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def paper_id(title: str) -> str:
    """Stable id from the normalised title: case, punctuation and spacing do not matter."""
    return "p" + hashlib.sha256(normalise_title(title).encode()).hexdigest()[:15]
