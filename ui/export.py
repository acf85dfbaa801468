"""A whole conversation as files a researcher keeps: Markdown (every turn, its answer, a numbered
reference list per turn with titles and where each paper came from) and BibTeX (one entry per
cited paper). Named after the chat's title and time; always written from the current records
(after a Stop or a regenerate too). Pure text builders plus one writer; no gradio."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.ui.records import DONE, STOPPED, TurnRecord, paper_meta
from rag.ui.render import ABSTAIN_REASONS, FLAGGED, md_answer, md_text, source_label

from rag.answer.events import Source

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_STOP_TITLE_WORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "is", "are"}


def slug(text: str, max_chars: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    out = "-".join(words)[:max_chars].strip("-")
    return out or "chat"


def file_stem(title: str, at: float) -> str:
    """`<title-slug>-<YYYYmmdd-HHMM>`: safe on every file system."""
    return f"{slug(title)}-{time.strftime('%Y%m%d-%H%M', time.localtime(at))}"


# -- BibTeX ---------------------------------------------------------------------------------


def bib_escape(text: str) -> str:
    """Text as a BibTeX value: LaTeX specials escaped, so braces always balance."""
    flat = " ".join(text.split())
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in flat)


def _key_word(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [
        w for w in re.findall(r"[A-Za-z0-9]+", ascii_text) if w.lower() not in _STOP_TITLE_WORDS
    ]
    return words[0].lower() if words else ""


def bib_key(source: Source) -> str:
    """first author's family name + year + first title word when known, else a stable id."""
    meta = paper_meta(source.hit)
    author = _key_word(meta.authors[0].split(",")[0].split()[-1]) if meta.authors else ""
    if author and meta.year:
        return f"{author}{meta.year}{_key_word(source.hit.title)}"
    return re.sub(r"[^A-Za-z0-9]", "", source.hit.paper_id) or "paper"


def cited_papers(records: Sequence[TurnRecord]) -> list[Source]:
    """Each cited paper once, in order of first citation."""
    seen: dict[str, Source] = {}
    for r in records:
        for s in r.cited:
            seen.setdefault(s.hit.paper_id, s)
    return list(seen.values())


def bib_keys(papers: Sequence[Source]) -> dict[str, str]:
    """paper id → a key unique in this file (a, b, … appended on a clash)."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for s in papers:
        base = key = bib_key(s)
        n = 0
        while key in used:
            n += 1
            key = f"{base}{chr(ord('a') + n - 1) if n <= 26 else n}"
        used.add(key)
        keys[s.hit.paper_id] = key
    return keys


def bib_entry(source: Source, key: str) -> str:
    meta = paper_meta(source.hit)
    fields = [("title", "{" + bib_escape(source.hit.title) + "}")]
    if meta.authors:
        fields.append(("author", " and ".join(bib_escape(a) for a in meta.authors)))
    if meta.year:
        fields.append(("year", str(meta.year)))
    if meta.venue:
        fields.append(("howpublished", bib_escape(meta.venue)))
    if meta.doi:
        fields.append(("doi", bib_escape(meta.doi)))
    if meta.url:
        fields.append(("url", bib_escape(meta.url)))
    labels = ", ".join(source_label(f) for f in source.hit.sources)
    if labels:
        fields.append(("note", bib_escape(f"Abstract from: {labels}")))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def bibtex(records: Sequence[TurnRecord]) -> str:
    papers = cited_papers(records)
    keys = bib_keys(papers)
    return "\n".join(bib_entry(s, keys[s.hit.paper_id]) for s in papers)


# -- Markdown -------------------------------------------------------------------------------


def _reference(s: Source, key: str | None) -> str:
    meta = paper_meta(s.hit)
    parts = [f"[{s.n}] {md_text(s.hit.title)}"]
    who = ", ".join(meta.authors[:3]) + (" et al." if len(meta.authors) > 3 else "")
    when = f" ({meta.year})" if meta.year else ""
    if who or when:
        parts.append(md_text(who + when).strip())
    for value in (meta.venue, f"doi:{meta.doi}" if meta.doi else None, meta.url):
        if value:
            parts.append(md_text(value))
    labels = ", ".join(source_label(f) for f in s.hit.sources)
    if labels:
        parts.append(f"from {md_text(labels)}")
    if key:
        parts.append(f"\\[@{key}\\]")
    return " — ".join(parts) + "  "


def _answer_lines(r: TurnRecord) -> list[str]:
    a = r.answer
    if r.status == DONE and a is not None:
        lines = [md_answer(a.text).strip(), ""]
        if a.abstained and ABSTAIN_REASONS.get(a.abstain_reason or ""):
            lines += [f"_{md_text(ABSTAIN_REASONS[a.abstain_reason or ''])}_", ""]
        flagged = [s for s in a.sentences if s.support in FLAGGED]
        if flagged:
            lines += ["Not supported by the cited sources:", ""]
            lines += [f"- {md_answer(s.text).strip()}" for s in flagged] + [""]
        return lines
    kept = [md_answer(r.partial).strip(), ""] if r.partial.strip() else []
    what = "Stopped: this answer is incomplete." if r.status == STOPPED else f"Failed: {r.message}"
    return [*kept, f"_{md_text(what)}_", ""]


def _references(r: TurnRecord, keys: dict[str, str]) -> list[str]:
    a = r.answer
    if a is not None and a.cited:
        heading, refs = "References:", a.cited
    elif a is not None and a.abstained:
        heading, refs = "Closest papers (none answers the question):", r.sources
    else:
        heading, refs = "Sources given to the model:", r.sources
    if not refs:
        return []
    return [heading, "", *(_reference(s, keys.get(s.hit.paper_id)) for s in refs), ""]


def conversation_markdown(title: str, records: Sequence[TurnRecord], model: str = "") -> str:
    keys = bib_keys(cited_papers(records))
    lines = [f"# {md_text(title).strip()}", ""]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(records[-1].at)) if records else ""
    by = f" by {md_text(model)}" if model else ""
    lines += [f"_{len(records)} questions, answered{by} from paper abstracts; {when}._", ""]
    for i, r in enumerate(records, start=1):
        lines += [f"## {i}. {md_text(r.question).strip()}", ""]
        lines += _answer_lines(r) + _references(r, keys)
    return "\n".join(lines).rstrip() + "\n"


def write_exports(
    folder: Path, title: str, records: Sequence[TurnRecord], model: str = ""
) -> tuple[Path, Path]:
    """The conversation's .md and .bib in `folder` (older exports there are removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.md"), *folder.glob("*.bib")]:
        old.unlink(missing_ok=True)
    stem = file_stem(title, records[-1].at if records else time.time())
    md, bib = folder / f"{stem}.md", folder / f"{stem}.bib"
    md.write_text(conversation_markdown(title, records, model), encoding="utf-8")
    bib.write_text(bibtex(records), encoding="utf-8")
    return md, bib
