"""HTML and Markdown for the chat page, built here and only here.

Every untrusted string (paper titles, passages, listing file names, the question, the model's
answer, error messages) passes through `esc` before it reaches the page; the only tags and
attributes in the output are ours, and the only links are our own in-page anchors (`#src-…`
source cards, `#turn-…` answers, `#sources-col`) and a paper's own http(s) URL or DOI when its
record has one (checked, escaped, opened in a new tab without a referrer).
Pure functions: no gradio, no I/O, so they are unit-tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

from rag.ui.records import paper_meta

from rag.answer.citations import CITATION, Sentence, Support, expand, with_markers
from rag.answer.events import Answer, Source
from rag.answer.evidence import Extract

FLAGGED = {
    Support.UNSUPPORTED: "The cited source does not support this sentence; check it before relying on it.",
    Support.UNCITED: "No source supports this sentence; it may come from the model, not the papers.",
}
ABSTAIN_REASONS = {
    "retrieval": "No paper in the store matches the question closely enough.",
    "figure": (
        "The question asks for a figure that none of the closest papers states; the closest "
        "evidence is below."
    ),
    "model": "The model found no answer in the retrieved sources.",
    "unsupported": "Nothing the model wrote was backed by the retrieved sources.",
    "followup": (
        "This follow-up refers to something earlier, but no paper from the previous answer "
        "matches it and the closest other paper is only a weak match. Name the method or "
        "paper to search for it."
    ),
}
# Relevance words from the dense cosine of a paper's best chunk. Over eval/questions.jsonl's
# top-4 papers: half the gold papers but 10 % of the others reach 0.55, no unanswerable
# question's papers do; 0.42 keeps ~88 % of gold papers and ~3 % of unanswerable ones' papers.
STRONG_MATCH, MODERATE_MATCH = 0.55, 0.42
_LISTING = re.compile(r"^(\d{3})_[0-9a-f]{16}\.txt$")
_DOI = re.compile(r"^10\.\d{4,9}/[^\s\"<>]+$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s\"<>]*)?$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]+")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "al", "e", "s")
_STOPWORDS_TEXT = """a about above after again all also an and any are as at be been being both but by can
    could did do does doing done each few for from had has have having how i if in into is it
    its itself just me more most my no nor not now of off on once only or other our out over
    own paper papers same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your use used using method methods approach model models
    show shows new one two does make makes way ways work works tell explain describe"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def safe_id(raw: str) -> str:
    """Only characters that need no escaping in an id or a URL fragment."""
    return re.sub(r"[^A-Za-z0-9_-]", "", raw) or "x"


def card_id(rid: str, n: int) -> str:
    return f"src-{safe_id(rid)}-{int(n)}"


def sentence_id(rid: str, n: int, index: int) -> str:
    """The anchor of evidence sentence `index` of source `n`, inside its card."""
    return f"ev-{safe_id(rid)}-{int(n)}-{int(index)}"


Marks = dict[int, set[int]]  # source n → indices of the sentences that support the answer


def evidence_marks(answer: Answer | None = None, extract: Extract | None = None) -> Marks:
    """The evidence sentences the answer (its provenance) and the instant answer quote."""
    marks: Marks = {}
    for s in answer.sentences if answer else ():
        for ref in s.evidence:
            marks.setdefault(ref.n, set()).add(ref.index)
    for n, e in extract.sentences if extract else ():
        marks.setdefault(n, set()).add(e.index)
    return marks


# -- highlighting ---------------------------------------------------------------------------


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def query_terms(question: str, common: Callable[[str], bool] | None = None) -> list[str]:
    """Stems of the question's distinctive words, longest first (so the longest match wins):
    no stop words, and none the corpus is full of when `common` says so (the retriever's BM25
    document frequencies, see Retriever.is_common)."""
    words = [w for w in _WORD.findall(question) if len(w) >= 3 or w.isupper()]
    words = [w for w in words if w.lower() not in _STOPWORDS]
    if common is not None:
        words = [w for w in words if not common(w)]
    stems = {_stem(w.lower()) for w in words}
    return sorted(stems, key=lambda s: (-len(s), s))


def highlight(text: str, terms: Sequence[str]) -> str:
    """`text` escaped, with words that start with a term wrapped in <mark>. The text is split
    on the matches and each piece escaped on its own, so a term can never match inside an
    entity such as `&amp;` or add anything but our own <mark> tags."""
    if not terms:
        return esc(text)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")[\w-]*", re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out += [esc(text[pos : m.start()]), f"<mark>{esc(m.group(0))}</mark>"]
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


# -- sources panel -------------------------------------------------------------------------


# Closes the phone's sources drawer (CSS shows it only there).
_CLOSE = '<a class="drawer-close" href="#chat">Back to the chat</a>'


def source_label(name: str) -> str:
    """Where a paper came from, for a person: the bundled listing dumps (`000_<hash>.txt`,
    Hugging Face Daily Papers pages) by number, anything else by its file name (never a
    folder: records may hold a path)."""
    base = re.split(r"[\\/]", name)[-1]
    m = _LISTING.match(base)
    return f"Daily Papers listing (file {m.group(1)})" if m else base


def relevance(source: Source) -> tuple[str, str]:
    """(level, words) for a person: strong / moderate / weak match, from the dense cosine (the
    share of the question's terms found when only BM25 ran)."""
    sim = source.hit.dense_similarity
    if sim is None:
        share = source.hit.term_overlap
        level = "strong" if share >= 0.75 else "moderate" if share >= 0.5 else "weak"
    else:
        level = "strong" if sim >= STRONG_MATCH else "moderate" if sim >= MODERATE_MATCH else "weak"
    return level, f"{level} match"


def _score_line(source: Source) -> str:
    hit = source.hit
    parts = [f"rank {hit.rank}", f"fused score {hit.score:.4f}"]
    if hit.dense_similarity is not None:
        parts.append(f"cosine similarity {hit.dense_similarity:.2f}")
    parts.append(f"{hit.term_overlap:.0%} of the question's terms")
    return " · ".join(parts)


def passage_html(
    source: Source, terms: Sequence[str], rid: str, marked: frozenset[int] | set[int]
) -> str:
    """The card's text: its evidence sentences (gaps as "…"), each an anchor, those that
    support the answer in <mark>; without evidence (legacy) the passage, terms highlighted."""
    if not source.shown:
        return highlight(source.passage, terms)
    parts: list[str] = []
    prev: int | None = None
    page: int | None = None
    for s in source.shown:
        if prev is not None and s.index != prev + 1:
            parts.append("…")
        if s.page is not None and s.page != page:
            parts.append(f'<span class="pg">p.&nbsp;{int(s.page)}</span>')
            page = s.page
        anchor = sentence_id(rid, source.n, s.index)
        if s.index in marked:
            parts.append(f'<mark class="support" id="{anchor}">{esc(s.text)}</mark>')
        else:
            parts.append(f'<span class="ev" id="{anchor}">{highlight(s.text, terms)}</span>')
        prev = s.index
    return " ".join(parts)


def _relevance_html(source: Source) -> str:
    level, words = relevance(source)
    bar = '<span class="rel-bar" aria-hidden="true"><i></i><i></i><i></i></span>'
    return (
        f'<span class="src-rel rel-{level}" title="{esc(_score_line(source))}">'
        f"{bar}{esc(words)}</span>"
    )


def paper_link(url: str | None, doi: str | None) -> str | None:
    """The paper's own page: its DOI resolver or an http(s) URL; anything else is no link."""
    if doi and _DOI.match(doi):
        return "https://doi.org/" + doi
    if url and _URL.match(url):
        return url
    return None


def _biblio_html(source: Source) -> str:
    m = paper_meta(source.hit)
    who = ", ".join(m.authors[:3]) + (" et al." if len(m.authors) > 3 else "")
    bits = [b for b in (who, str(m.year) if m.year else "", m.venue or "") if b]
    if m.doi:
        bits.append(f"doi:{m.doi}")
    text = f'<span class="src-bib">{esc(" · ".join(bits))}</span>' if bits else ""
    link = paper_link(m.url, m.doi)
    if link:
        text += (
            f'<a class="src-link" href="{esc(link)}" target="_blank" '
            'rel="noopener noreferrer nofollow">paper page</a>'
        )
    return f'<div class="src-biblio">{text}</div>' if text else ""


def pages_of(source: Source) -> list[int]:
    """The PDF pages the card's text comes from (none for an abstract)."""
    pages = {s.page for s in source.shown if s.page is not None}
    if not pages and source.hit.page is not None:
        pages = {source.hit.page}
    return sorted(pages)


def _pages_html(source: Source) -> str:
    pages = pages_of(source)
    if not pages:
        return ""
    label = "p." if len(pages) == 1 else "pp."
    return f' <span class="src-pages">· {label} {esc(", ".join(map(str, pages)))}</span>'


def source_card(
    source: Source,
    terms: Sequence[str],
    rid: str,
    cited: bool = False,
    marked: frozenset[int] | set[int] = frozenset(),
) -> str:
    files = [re.split(r"[\\/]", f)[-1] for f in source.hit.sources]
    labels = ", ".join(source_label(f) for f in files) or "unknown source"
    badge = '<span class="src-badge">cited</span>' if cited else ""
    return (
        f'<article class="src-card{" cited" if cited else ""}" id="{card_id(rid, source.n)}">'
        f'<div class="src-head"><span class="src-n">{int(source.n)}</span>'
        f'<span class="src-title">{esc(source.hit.title)}</span>{badge}</div>'
        f"{_biblio_html(source)}"
        f'<div class="src-meta"><span class="src-files" title="{esc(", ".join(files))}">'
        f"{esc(labels)}{_pages_html(source)}</span>{_relevance_html(source)}</div>"
        f'<p class="src-passage">{passage_html(source, terms, rid, marked)}</p>'
        f'<a class="src-back" href="#turn-{safe_id(rid)}">Back to the answer</a></article>'
    )


def _cards(
    sources: Sequence[Source],
    terms: Sequence[str],
    rid: str,
    cited: Iterable[int],
    marks: Marks | None = None,
) -> str:
    marked, m = set(cited), marks or {}
    return "".join(source_card(s, terms, rid, s.n in marked, m.get(s.n, set())) for s in sources)


def sources_panel(
    sources: Sequence[Source],
    question: str,
    rid: str,
    cited: Iterable[int] = (),
    marks: Marks | None = None,
    *,
    abstained: bool = False,
    common: Callable[[str], bool] | None = None,
) -> str:
    """The current turn's cards. When the answer abstained they are not its sources: they are
    shown folded, as the closest papers, none of which answers the question."""
    if not sources:
        return sources_placeholder("No paper matched this question.")
    cards = _cards(sources, query_terms(question, common), rid, cited, marks)
    if abstained:
        summary = (
            '<summary class="panel-head">Closest papers <span class="count">'
            f'{len(sources)}</span> <span class="none">none answers the question</span></summary>'
        )
        return f'<section class="sources">{_CLOSE}<details class="closest">{summary}{cards}</details></section>'
    head = f'<div class="panel-head">Sources <span class="count">{len(sources)}</span></div>'
    return f'<section class="sources">{_CLOSE}{head}{cards}</section>'


def earlier_sources(
    sources: Sequence[Source],
    question: str,
    rid: str,
    cited: Iterable[int] = (),
    query: str = "",
    marks: Marks | None = None,
    *,
    common: Callable[[str], bool] | None = None,
) -> str:
    """A finished turn's cards, folded: its answer's [n] links still land on them (browsers
    open a closed <details> when a fragment link targets an element inside it)."""
    cards = _cards(sources, query_terms(query or question, common), rid, cited, marks)
    summary = f'<summary>Earlier: <span class="q">{esc(question)}</span></summary>'
    return f'<details class="earlier">{summary}{cards}</details>'


def sources_placeholder(text: str = "Ask a question: the papers it draws on appear here.") -> str:
    head = '<div class="panel-head">Sources</div>'
    return (
        f'<section class="sources">{_CLOSE}{head}<p class="placeholder">{esc(text)}</p></section>'
    )


# -- answer text ----------------------------------------------------------------------------


Targets = dict[int, int]  # source n → the evidence sentence a citation of it points at


def _target(rid: str, n: int, targets: Targets) -> str:
    return sentence_id(rid, n, targets[n]) if n in targets else card_id(rid, n)


def _citation_link(numbers: list[int], rid: str, n_sources: int, targets: Targets) -> str:
    parts = [
        f'<a class="cite" href="#{_target(rid, n, targets)}">{n}</a>'
        if 1 <= n <= n_sources
        else f'<span class="cite-bad" title="no such source">{n}</span>'
        for n in numbers
    ]
    # The brackets stay in the text (copying keeps "[1]") but are drawn as chips.
    inner = '<span class="br">, </span>'.join(parts)
    return f'<span class="cites"><span class="br">[</span>{inner}<span class="br">]</span></span>'


def link_citations(escaped: str, rid: str, n_sources: int, targets: Targets | None = None) -> str:
    """[n] markers in already-escaped text become links to their source cards (to the
    supporting sentence in it, when `targets` names one); a bracket with no given source number
    (e.g. a year) stays as written. Safe on escaped text: the marker pattern holds only digits,
    spaces and separators."""

    def link(m: re.Match[str]) -> str:
        numbers = expand(m.group(1))
        if not any(1 <= n <= n_sources for n in numbers):
            return m.group(0)
        return _citation_link(numbers, rid, n_sources, targets or {})

    return CITATION.sub(link, escaped)


def inline_markup(text: str, rid: str, n_sources: int, targets: Targets | None = None) -> str:
    """Escape first, then add only our own tags: bold, inline code, citation links, breaks."""
    html = esc(text.strip())
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = link_citations(html, rid, n_sources, targets)
    return html.replace("\n\n", "<br><br>").replace("\n", "<br>")


EVIDENCE_LABEL = "Evidence (instant, extractive)"
KIND_LABELS = {
    "extractive": "Evidence answer (sentences quoted from the papers; no model)",
    "evidence": "Evidence answer (sentences quoted from the papers: the model gave no "
    "supported answer)",
}


def evidence_block(extract: Extract | None, rid: str, n_sources: int) -> str:
    """The instant extractive answer, labelled, each sentence linked to itself in its card."""
    if extract is None or not extract.sentences:
        return ""
    items = "".join(
        f"<li>{inline_markup(with_markers(s.text, [n]), rid, n_sources, {n: s.index})}</li>"
        for n, s in extract.sentences
    )
    label = f'<div class="ev-label">{esc(EVIDENCE_LABEL)}</div>'
    return f'<div class="evidence-answer">{label}<ul>{items}</ul></div>'


def streaming_body(text: str, rid: str, n_sources: int, evidence: str = "") -> str:
    if not text.strip():
        dots = '<span class="dots"><i></i><i></i><i></i></span>'
        return f'{evidence}<div class="answer pending">{dots}</div>'
    return f'{evidence}<div class="answer streaming">{inline_markup(text, rid, n_sources)}</div>'


def _sentence(s: Sentence, rid: str, n_sources: int) -> str:
    targets = {r.n: r.index for r in reversed(s.evidence)}  # a number's first supporting sentence
    inner = inline_markup(s.text, rid, n_sources, targets)
    if s.support in FLAGGED:
        why = s.note or FLAGGED[s.support]
        return f'<span class="sent flagged" title="{esc(why)}">{inner}</span>'
    return f'<span class="sent">{inner}</span>'


def legend() -> str:
    return (
        '<div class="legend"><span class="flagged">dotted underline</span> = not supported by '
        "the cited sources; check it before relying on it.</div>"
    )


def answer_body(answer: Answer, rid: str) -> str:
    if answer.abstained:
        reason = ABSTAIN_REASONS.get(answer.abstain_reason or "", "")
        note = f'<div class="note">{esc(reason)}</div>' if reason else ""
        return f'<div class="answer abstained"><p>{esc(answer.text)}</p>{note}</div>'
    n = len(answer.sources)
    shown = [s for s in answer.sentences if s.support != Support.ABSTENTION] or answer.sentences
    written = [s for s in shown if s.support != Support.EVIDENCE]
    quoted = [s for s in shown if s.support == Support.EVIDENCE]
    body = " ".join(_sentence(s, rid, n) for s in written)
    flagged = any(s.support in FLAGGED for s in shown)
    return (
        _instant(answer, rid)
        + f'<div class="answer final">{body}{_quoted(answer, quoted, rid, n)}</div>'
        + (legend() if flagged else "")
    )


def _instant(answer: Answer, rid: str) -> str:
    """The instant evidence answer stays above a written answer (it is the answer otherwise)."""
    if answer.kind in KIND_LABELS:
        return ""
    return evidence_block(answer.evidence, rid, len(answer.sources))


def _quoted(answer: Answer, quoted: list[Sentence], rid: str, n: int) -> str:
    """Quoted evidence sentences as a labelled list (a survey's papers, hybrid's evidence)."""
    if not quoted:
        return ""
    label = KIND_LABELS.get(answer.kind) or (
        "Papers" if answer.mode is not None and answer.mode.survey else "Evidence"
    )
    items = "".join(f"<li>{_sentence(s, rid, n)}</li>" for s in quoted)
    return f'<div class="ev-label">{esc(label)}</div><ul class="ev-list">{items}</ul>'


def error_body(message: str, partial: str = "", rid: str = "", n_sources: int = 0) -> str:
    kept = f'<div class="answer">{inline_markup(partial, rid, n_sources)}</div>' if partial else ""
    return f'{kept}<div class="error-box">{esc(message)}</div>'


def stopped_body(partial: str, rid: str, n_sources: int) -> str:
    kept = f'<div class="answer">{inline_markup(partial, rid, n_sources)}</div>' if partial else ""
    return f'{kept}<div class="note stopped">Stopped. This answer is incomplete.</div>'


def answer_meta(answer: Answer) -> str:
    parts = [f"{len(answer.cited)} of {len(answer.sources)} sources cited"]
    for key, label in (("ttft_ms", "first token"), ("total_ms", "total")):
        ms = answer.timings.get(key)
        if ms:
            parts.append(f"{label} {float(ms) / 1000:.1f} s")
    return " · ".join(parts)


# -- chat -----------------------------------------------------------------------------------


def turn_html(question: str, body: str, meta: str = "", *, rid: str = "", actions: str = "") -> str:
    """One question and its answer; `rid` gives it the `#turn-…` anchor a card links back to,
    `actions` is `turn_actions(…)`."""
    meta_html = f'<div class="meta">{esc(meta)}</div>' if meta else ""
    anchor = f' id="turn-{safe_id(rid)}"' if rid else ""
    return (
        f'<div class="turn"{anchor}>'
        f'<div class="msg user"><div class="bubble">{esc(question)}</div></div>'
        f'<div class="msg bot"><div class="bubble">{body}{meta_html}{actions}</div></div>'
        "</div>"
    )


def turn_actions(
    index: int, *, copy: bool = True, edit: bool = True, regenerate: bool = False
) -> str:
    """Buttons under an answer, handled by the page script (ui/script.py) by their data-act;
    `index` (1-based) names the turn. Phone layouts also get the way to the sources."""
    n = int(index)
    buttons = [
        ("copy", "Copy", "Copy the answer", copy),
        ("edit", "Edit", "Edit this question and ask again (later turns are replaced)", edit),
        ("regen", "Regenerate", "Another answer on the same sources", regenerate),
    ]
    html = "".join(
        f'<button type="button" class="act" data-act="{act}" data-turn="{n}" title="{esc(tip)}">'
        f"{esc(label)}</button>"
        for act, label, tip, shown in buttons
        if shown
    )
    drawer = '<a class="act to-sources" href="#sources-col">Sources</a>'
    return f'<div class="actions">{html}{drawer}</div>'


def chat_html(turns: Sequence[str], example: str = "") -> str:
    if turns:
        return f'<div class="chat">{"".join(turns)}</div>'
    hint = (
        f'<p class="example">Try: <button type="button" class="act example-q" data-act="example" '
        f'title="Ask this question">“{esc(example)}”</button></p>'
        if example
        else ""
    )
    return (
        '<div class="chat empty"><div class="welcome">'
        "<h3>Ask about the papers</h3>"
        "<p>Answers cite the retrieved abstracts as [n]; click a number to see its source. "
        "Follow-up questions keep the context of this chat.</p>"
        f"{hint}</div></div>"
    )


def readiness_html(text: str, level: str, detail: str = "") -> str:
    """The header's readiness pill. level: busy | ready | error (a CSS class; never user
    text); `detail` is the tooltip."""
    cls = level if level in ("busy", "ready", "error") else "busy"
    spinner = '<span class="spinner"></span>' if cls == "busy" else '<span class="dot"></span>'
    title = f' title="{esc(detail)}"' if detail else ""
    return (
        f'<div class="readiness {cls}" role="status" aria-live="polite"{title}>'
        f"{spinner}{esc(text)}</div>"
    )


def status_html(text: str, kind: str = "info") -> str:
    """kind: info | busy | done | error (a CSS class; never user text)."""
    if not text:
        return ""
    cls = kind if kind in ("info", "busy", "done", "error") else "info"
    spinner = '<span class="spinner"></span>' if cls == "busy" else ""
    return f'<div class="status {cls}">{spinner}{esc(text)}</div>'


@dataclass(frozen=True)
class Problem:
    """One health issue: what is wrong, and what to do about it."""

    what: str
    fix: str
    level: str = "error"  # error | warning | info


def banner_html(problems: Sequence[Problem]) -> str:
    items = []
    for p in problems:
        level = p.level if p.level in ("error", "warning", "info") else "error"
        items.append(
            f'<div class="banner {level}" role="alert"><strong>{esc(p.what)}</strong>'
            f'<span class="fix">{esc(p.fix)}</span></div>'
        )
    return "".join(items)


def info_html(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<dl class="info">{cells}</dl>'


# -- export ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#|!])")


def md_text(text: str) -> str:
    """Untrusted text as Markdown that renders literally: no raw HTML (entities), no links or
    emphasis (backslash escapes), one line."""
    flat = re.sub(r"\s+", " ", text)
    html_safe = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", html_safe)


def md_answer(text: str) -> str:
    """The answer with its [n] markers kept as written and everything else literal."""
    out, pos = [], 0
    for m in CITATION.finditer(text):
        out += [md_text(text[pos : m.start()]), m.group(0)]
        pos = m.end()
    out.append(md_text(text[pos:]))
    return "".join(out)


def _reference(s: Source) -> str:
    files = ", ".join(s.hit.sources)
    return f"[{s.n}] {md_text(s.hit.title)}" + (f" — {md_text(files)}" if files else "")


def export_markdown(answer: Answer, model: str = "") -> str:
    refs = answer.cited or answer.sources
    lines = ["# " + md_text(answer.question).strip(), "", md_answer(answer.text).strip(), ""]
    flagged = [s for s in answer.sentences if s.support in FLAGGED]
    if flagged:
        lines += ["Not supported by the cited sources:", ""]
        lines += [f"- {md_answer(s.text).strip()}" for s in flagged] + [""]
    heading = "## References" if answer.cited else "## Sources consulted"
    lines += [heading, ""] + [_reference(s) + "  " for s in refs]
    if model:
        lines += ["", f"_Answered by {md_text(model)} from retrieved paper abstracts._"]
    return "\n".join(lines).rstrip() + "\n"
