"""Property-based fuzzing of the corpus parser: whatever the bytes, nothing raises and nothing is
dropped silently.

"Nothing dropped silently", made checkable from the parser's rules. Lines are what an editor shows
(split at \\n, \\r\\n or \\r), cleaned (whitespace runs collapsed), blank ones ignored, with
`Subscribe` unglued from the first non-header line. Each such line that is not a header is
- the title of an accepted record (issue-free, `entry.line`) or its abstract (the next line), or
- named by an issue (same file, that line number), or
- the title just before a line named by an issue whose message quotes it (a rejected pair:
  "abstract of 'T' is only 42 characters" points at the abstract and quotes the title).
Header lines (HEADER_LINES, DATE_LINE) are exempt: leading ones are skipped by design.

`bench/fuzz_counts.py` reruns every property in PROPERTIES with a larger budget.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import CorpusError
from rag.index.ingest import batches, chunk_all
from rag.settings import DEFAULT_MAX_RECORD_CHARS as LINE_MAX_CHARS
from rag.settings import ChunkSettings
from rag.sources.identity import paper_id
from rag.sources.jsonl import parse_jsonl
from rag.sources.listing import DATE_LINE, HEADER_LINES, parse_listing
from rag.sources.loader import load_corpus, parse_file
from rag.sources.records import Entry, Issue, Paper, ParseResult
from rag.sources.text import ABSTRACT_MIN_CHARS, binary_reason, decode, looks_like_pdf

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NEWLINE = re.compile(r"\r\n|\r|\n")
BOM = b"\xef\xbb\xbf"
HEADERS = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
    "Mar 11",
]
Listing = tuple[str, list[tuple[str, str]], list[int]]  # text, (title, abstract)s, record ends
CorpusCase = tuple[list[str], list[str], list[tuple[str, list[tuple[int, int, int]], bytes]], bool]
COUNTS: Counter[str] = Counter()  # examples run per property; printed at the end (-s)
ISSUES: Counter[str] = Counter()  # parser issues raised per property, for bench/fuzz_counts.py

# ---------------------------------------------------------------- the parser's rules, restated


def clean(line: str) -> str:
    return " ".join(line.split())


def is_header(line: str) -> bool:
    low = clean(line).casefold()
    return low in HEADER_LINES or bool(DATE_LINE.match(low))


def parser_view(text: str) -> dict[int, str]:
    """Line number → the line as the parser reads it (non-blank lines only)."""
    view = {n: clean(raw) for n, raw in enumerate(NEWLINE.split(text), start=1) if clean(raw)}
    first = next((n for n, line in view.items() if not is_header(line)), None)
    if first is not None and view[first].startswith("Subscribe") and len(view[first]) > 9:
        view[first] = view[first][len("Subscribe") :].strip()
    return view


def check_accepted(entries: list[Entry]) -> None:
    for e in entries:
        assert e.title.strip(), e
        assert len(e.abstract) >= ABSTRACT_MIN_CHARS, e
        (e.title + e.abstract).encode()  # the store and the embedder need valid UTF-8


def check_file_issues(issues: list[Issue], name: str) -> None:
    for i in issues:
        assert i.file == name, i
        assert i.line > 0 or i.severity == "warning", f"a rejected record must name a line: {i}"


def record_lines(view: dict[int, str], entries: list[Entry]) -> set[int]:
    """Title and abstract lines of accepted records; each line feeds one record at most."""
    order = list(view)
    after = dict(zip(order, order[1:], strict=False))
    used: set[int] = set()
    for e in entries:
        pair = {e.line, after.get(e.line, -1)}
        assert (e.title, e.abstract) == (view.get(e.line), view.get(after.get(e.line, -1))), e
        assert not used & pair, f"line used by two records: {e}"
        used |= pair
    return used


def issue_lines(view: dict[int, str], issues: list[Issue]) -> set[int]:
    """Lines named by an issue, plus the title just before one when the message quotes it."""
    order = list(view)
    before = dict(zip(order[1:], order, strict=False))
    named: set[int] = set()
    for i in (i for i in issues if i.line):
        assert i.line in view, f"issue names a blank or missing line: {i}"
        named.add(i.line)
        title = before.get(i.line)
        if title is not None and repr(view[title][:60]) in i.message:
            named.add(title)
    return named


def silently_dropped(text: str, entries: list[Entry], issues: list[Issue]) -> list[int]:
    """Lines of a listing that are in no accepted record and named by no issue."""
    view = parser_view(text)
    covered = record_lines(view, entries) | issue_lines(view, issues)
    return [n for n, line in view.items() if n not in covered and not is_header(line)]


def check_listing(text: str, name: str, entries: list[Entry], issues: list[Issue]) -> None:
    check_accepted(entries)
    check_file_issues(issues, name)
    dropped = silently_dropped(text, entries, issues)
    assert not dropped, f"lines {dropped} dropped silently; issues: {[str(i) for i in issues]}"


def check_jsonl(text: str, name: str, entries: list[Entry], issues: list[Issue]) -> None:
    """Every non-blank physical line is exactly one accepted record or one issue."""
    check_accepted(entries)
    check_file_issues(issues, name)
    wanted = [n for n, raw in enumerate(NEWLINE.split(text), start=1) if raw.strip()]
    got = sorted([e.line for e in entries] + [i.line for i in issues if i.line])
    assert got == wanted, f"lines {sorted(set(wanted) ^ set(got))} unaccounted or doubled"


def check_decode(data: bytes, name: str) -> str:
    """Valid UTF-8 (BOM or not) decodes silently and exactly; otherwise one warning names the
    first bad byte and the rest is decoded with U+FFFD. A BOM never reaches the text."""
    text, issues = decode(data, name)
    start = len(BOM) if data.startswith(BOM) else 0
    try:
        expected = data[start:].decode("utf-8")
    except UnicodeDecodeError:
        assert len(issues) == 1 and issues[0].severity == "warning", issues
        check_first_bad_byte(data, start, issues[0].message)
        assert text == data[start:].decode("utf-8", errors="replace"), "BOM or bytes mishandled"
        return text
    assert issues == [] and text == expected
    return text


def check_first_bad_byte(data: bytes, start: int, message: str) -> None:
    """The offset named is the first bad byte: all before it is valid, no character starts there."""
    m = re.search(r"byte 0x([0-9a-f]{2}) at byte offset (\d+);", message)
    assert m, message
    at = int(m[2])
    assert at >= start and int(m[1], 16) == data[at], message
    data[start:at].decode("utf-8")
    with pytest.raises(UnicodeDecodeError) as bad:
        data[at:].decode("utf-8")
    assert bad.value.start == 0, f"byte {at} is not the first bad one"


# ---------------------------------------------------------------- strategies

word = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1, max_size=12
)
titles = (
    st.lists(word, min_size=1, max_size=12)
    .map(" ".join)
    .filter(lambda t: not is_header(t) and not t.startswith("Subscribe"))
)


def sized_text(lo: int, hi: int) -> st.SearchStrategy[str]:
    """Sentences repeated to a length in [lo, hi]: long lines without slow generation."""

    def repeat(words: list[str], k: int) -> str:
        base = " ".join(words) + ". "
        return (base * (k // len(base) + 1))[:k]

    return st.builds(repeat, st.lists(word, min_size=1, max_size=8), st.integers(lo, hi))


abstracts = st.one_of(sized_text(ABSTRACT_MIN_CHARS + 2, 300), sized_text(301, 900))
header_variants = st.sampled_from(HEADERS).flatmap(
    lambda h: st.sampled_from([h, h.upper(), f"  {h}  ", h.replace(" ", "   ")])
)
odd_lines = st.one_of(
    titles,
    abstracts,
    sized_text(1, ABSTRACT_MIN_CHARS + 5),  # too short to be an abstract
    sized_text(LINE_MAX_CHARS - 5, LINE_MAX_CHARS + 500),  # huge
    header_variants,
    titles.map(lambda t: "Subscribe" + t),
    st.text(max_size=60),  # anything, control characters and line separators included
    st.sampled_from(["", "   ", "\t", "\u00a0", "\x0c", "\u2028", "\x85"]),
    sized_text(301, 400).map(lambda a: a.replace(" ", "      ")),  # long only before cleaning
)
separators = st.sampled_from(["\n", "\n\n", "\r\n", "\r\n\r\n", "\n \n", "\r", "\n\t\n"])


@st.composite
def listings(draw: st.DrawFn) -> Listing:
    """A well-formed dump, blank-line and glued `Subscribe<title>` layouts mixed in one file;
    `ends` holds the character offset where each record's abstract line (and its break) ends."""
    glued = draw(st.booleans())
    heads = draw(st.lists(st.sampled_from(HEADERS), max_size=6))
    records = draw(st.lists(st.tuples(titles, abstracts), max_size=6))
    parts = [h + draw(separators) for h in heads if not (glued and h == "Subscribe")]
    ends = []
    for k, (title, abstract) in enumerate(records):
        glue = "Subscribe" if glued and k == 0 else ""
        parts.append(glue + title + draw(separators) + abstract + draw(separators))
        ends.append(len("".join(parts)))
    return "".join(parts), records, ends


line_soups = st.lists(st.tuples(odd_lines, separators), max_size=24).map(
    lambda pairs: "".join(line + sep for line, sep in pairs)
)

lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2).map(
    "T ".__add__
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
jsonl_records = st.fixed_dictionaries(
    {
        "title": st.one_of(titles, st.just(""), st.just("  "), json_scalars, lone_surrogates),
        "abstract": st.one_of(
            abstracts,
            abstracts.map(lambda a: a.replace(". ", ".\u2028", 1)),  # legal raw in JSON strings
            sized_text(1, ABSTRACT_MIN_CHARS + 5),
            sized_text(ABSTRACT_MIN_CHARS, 200).map(lambda a: a.replace(" ", "    ")),
            json_scalars,
        ),
    },
    optional={
        "year": st.one_of(json_scalars, st.floats(), st.lists(st.integers(), max_size=2)),
        "authors": st.one_of(st.lists(st.text(max_size=10), max_size=3), json_scalars),
        "id": st.one_of(st.text(max_size=10), st.integers()),
        "url": json_scalars,
    },
)
jsonl_lines = st.one_of(
    st.tuples(jsonl_records, st.booleans()).map(lambda r: json.dumps(r[0], ensure_ascii=r[1])),
    st.text(max_size=60),
    st.integers(1, 3000).map(lambda k: "[" * k + "]" * k),  # deep nesting
    st.sampled_from(["[]", "{}", "null", '"x"', "{not json", "Infinity"]),
)
jsonl_texts = st.lists(st.tuples(jsonl_lines, separators), max_size=12).map(
    lambda pairs: "".join(line + sep for line, sep in pairs)
)

# ---------------------------------------------------------------- properties (one example each)


def _count(prop: str, issues: list[Issue]) -> None:
    COUNTS[prop] += 1
    ISSUES[prop] += len(issues)


def parse_bytes(data: bytes, suffix: str) -> tuple[str, list[Entry], list[Issue]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        entries, issues = parse_file(path)
    return decode(data, path.name)[0], entries, issues


def check_refused(name: str, entries: list[Entry], issues: list[Issue], pdf: bool) -> None:
    """A binary file is refused whole: no entry, one error for the file, nothing else. Bytes
    with a %PDF- header go to the PDF reader (#13), which names what is wrong with them."""
    assert entries == [] and len(issues) == 1, issues
    assert (issues[0].file, issues[0].line, issues[0].severity) == (name, 0, "error")
    assert pdf or issues[0].message.startswith("binary file (")


def prop_random_bytes(data: bytes) -> None:
    check_decode(data, "fuzz")
    found: list[Issue] = []
    for suffix, check in ((".txt", check_listing), (".jsonl", check_jsonl)):
        text, entries, issues = parse_bytes(data, suffix)
        if binary_reason(data):
            check_refused(f"fuzz{suffix}", entries, issues, looks_like_pdf(data))
        else:
            check(text, f"fuzz{suffix}", entries, issues)
        found += issues
    _count("random_bytes", found)


def prop_valid_listing(case: Listing) -> None:
    text, records, _ = case
    entries, issues = parse_listing(text, "ok.txt")
    assert [(e.title, e.abstract) for e in entries] == [(clean(t), clean(a)) for t, a in records]
    assert issues == []
    _count("valid_listing", issues)


def prop_truncated_listing(case: tuple[Listing, int]) -> None:
    (text, records, ends), cut_at = case
    data = text.encode()
    cut = min(cut_at, len(data))
    whole = sum(1 for end in ends if len(text[:end].encode()) <= cut)
    cut_text, entries, issues = parse_bytes(data[:cut], ".txt")
    check_listing(cut_text, "fuzz.txt", entries, issues)
    expected = [(clean(t), clean(a)) for t, a in records[:whole]]
    assert [(e.title, e.abstract) for e in entries[:whole]] == expected
    assert len(entries) <= whole + 1  # at most the record the cut went through, cut short
    _count("truncated_listing", issues)


def prop_line_soup(text: str) -> None:
    entries, issues = parse_listing(text, "soup.txt")
    check_listing(text, "soup.txt", entries, issues)
    _count("line_soup", issues)


def prop_non_utf8(case: tuple[Listing, list[tuple[int, bytes]], bool]) -> None:
    (text, _, _), inserts, bom = case
    data = bytearray(text.encode())
    for at, bad in inserts:
        data[at % (len(data) + 1) : at % (len(data) + 1)] = bad
    data = (BOM if bom else b"") + bytes(data)
    decoded = check_decode(data, "bad.txt")
    assert inserts or decoded == text
    _, entries, issues = parse_bytes(data, ".txt")
    if binary_reason(data):  # a few bad bytes and (next to) nothing else
        assert not case[0][1], "a listing with a record and a few bad bytes is text"
        check_refused("fuzz.txt", entries, issues, looks_like_pdf(data))
    else:
        check_listing(decoded, "fuzz.txt", entries, issues)
    _count("non_utf8", issues)


def prop_jsonl(text: str) -> None:
    entries, issues = parse_jsonl(text, "fuzz.jsonl")
    check_jsonl(text, "fuzz.jsonl", entries, issues)
    _count("jsonl", issues)


# Invisible characters a title picks up when copied from a PDF or a web page.
FORMAT_CHARS = [
    "\u200b",
    "\u00ad",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u202a",
    "\ufe0f",
]
VARIANTS: list[Callable[[str], str]] = [
    lambda t: t,
    str.upper,
    lambda t: f"{t} !",
    lambda t: t.replace(" ", "   "),
    lambda t: t[:1] + "\u200b" + t[1:] + "\u00ad",  # zero-width space, soft hyphen
    lambda t: "\ufeff" + t.replace(" ", "\u2060 ", 1),  # byte-order mark, word joiner
]
# A corpus folder: files of (kind, records) where a record is
# (title no., variant, abstract no., id no. or None).
corpus_files = st.lists(
    st.tuples(
        st.sampled_from(["txt", "jsonl", "empty", "junk"]),
        st.lists(
            st.tuples(
                st.integers(0, 2),
                st.integers(0, len(VARIANTS) - 1),
                st.integers(0, 2),
                st.one_of(st.none(), st.integers(0, 1)),  # a JSONL `id`, shared across papers
            ),
            max_size=5,
        ),
        st.binary(max_size=200),
    ),
    min_size=1,
    max_size=4,
)
corpus_cases = st.tuples(
    st.lists(titles, min_size=3, max_size=3, unique_by=paper_id),
    st.lists(abstracts, min_size=3, max_size=3, unique_by=clean),
    corpus_files,
    st.booleans(),
)


def variant(title: str, k: int) -> str:
    """Spellings that normalise to the same paper id (mostly: some letters upper-case oddly)."""
    return VARIANTS[k](title)


def render(kind: str, records: list[tuple[str, str, int | None]], junk: bytes) -> bytes:
    if kind == "txt":
        return "\n\n".join(f"{t}\n\n{a}" for t, a, _ in records).encode()
    if kind == "jsonl":
        rows = [
            {"title": t, "abstract": a} | ({} if i is None else {"id": f"id{i}"})
            for t, a, i in records
        ]
        return "\n".join(json.dumps(r) for r in rows).encode()
    return b"" if kind == "empty" else junk


def write_corpus(folder: Path, case: CorpusCase) -> list[Path]:
    pool_t, pool_a, files, _ = case
    paths = []
    for k, (kind, recs, junk) in enumerate(files):
        records = [(variant(pool_t[t], v), pool_a[a], i) for t, v, a, i in recs]
        path = folder / f"{k:02d}.{'jsonl' if kind == 'jsonl' else 'txt'}"
        path.write_bytes(render(kind, records, junk))
        paths.append(path)
    return paths


def check_duplicates(result: ParseResult, entries: list[Entry]) -> None:
    """Same paper id → one paper, first record wins; a different abstract is a warning there."""
    papers = {p.id: p for p in result.papers}
    first: dict[str, Entry] = {}
    conflicts = 0
    for e in entries:
        pid = paper_id(e.title)  # no DOIs here; an `id` never decides (identity.py)
        assert e.source in papers[pid].sources
        if pid in first and first[pid].abstract != e.abstract:
            conflicts += 1
            assert any(
                (i.file, i.line, i.severity) == (e.source, e.line, "warning")
                and "different abstract" in i.message
                for i in result.issues
            ), f"conflicting duplicate {e} not reported"
        first.setdefault(pid, e)
    assert all(papers[pid].abstract == e.abstract for pid, e in first.items())  # first wins
    assert sum(i.message.startswith("same title as") for i in result.issues) == conflicts


def prop_load_corpus(case: CorpusCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_corpus(Path(tmp), case)
        if case[3]:
            with pytest.raises(CorpusError, match="does not exist"):
                load_corpus([Path(tmp), Path(tmp) / "missing.txt"])
        result = load_corpus([Path(tmp)])
        parsed = [parse_file(p) for p in paths]
    entries = [e for es, _ in parsed for e in es]
    assert result.files == len(paths)
    assert result.entries == len(entries) == sum(len(es) for es, _ in parsed)
    assert len(result.papers) + result.merged_duplicates == result.entries
    assert len({p.id for p in result.papers}) == len(result.papers)
    assert all(i in result.issues for _, issues in parsed for i in issues)
    check_duplicates(result, entries)
    _count("load_corpus", result.issues)


def prop_huge_lines(case: tuple[int, bool, str]) -> None:
    """A huge line as title or as abstract costs its record and is named, nothing more."""
    size, where, title = case
    huge = "x" * size
    lines = (
        ["Good Title", "Good abstract. " * 10, title, huge] if where else [huge, title, "A. " * 40]
    )
    entries, issues = parse_listing("\n".join(lines), "huge.txt")
    check_listing("\n".join(lines), "huge.txt", entries, issues)
    assert any(f"{size:,} characters" in i.message for i in issues)
    _count("huge_lines", issues)


def prop_identity_ignores_format_characters(case: tuple[str, list[tuple[int, str]]]) -> None:
    """A title is the same paper whatever invisible characters it picked up, and keeps the
    symbols that tell papers apart."""
    title, inserts = case
    spelled = title
    for at, ch in inserts:
        spelled = spelled[: at % (len(spelled) + 1)] + ch + spelled[at % (len(spelled) + 1) :]
    assert paper_id(spelled) == paper_id(title), (title, spelled)
    assert len({paper_id(f"{title} C++"), paper_id(f"{title} C#"), paper_id(f"{title} C")}) == 3
    _count("identity", [])


def prop_jsonl_lines_do_not_depend_on_each_other(text: str) -> None:
    """No record is lost (or changed) because of another line of its file."""
    whole, _ = parse_jsonl(text, "f.jsonl")
    alone = []
    for n, line in enumerate(NEWLINE.split(text), start=1):
        alone += [replace(e, line=n) for e in parse_jsonl(line, "f.jsonl")[0]]
    assert whole == alone
    _count("jsonl_independent", [])


_TOKENS: list[Any] = []


def count_tokens(text: str) -> int:
    if not _TOKENS:
        from rag.index.embed import TokenCounter, packaged_model_dir

        _TOKENS.append(TokenCounter(packaged_model_dir()))
    return int(_TOKENS[0](text))


def prop_every_paper_keeps_its_chunks(case: list[tuple[str, str, int]]) -> None:
    """However papers repeat themselves or each other, each gets its chunks, every chunk id is
    unique (Chroma refuses a batch with a duplicate) and each paper sits in one batch."""
    papers = [
        Paper(paper_id(t), t, a * k, ("f.jsonl",)) for t, a, k in case
    ]  # a paper given twice (same id) is chunked once
    chunks = chunk_all(papers, ChunkSettings(max_tokens=64), count_tokens)
    assert len({c.id for c in chunks}) == len(chunks)
    assert {c.paper_id for c in chunks} == {p.id for p in papers}
    grouped = [[c.paper_id for c in paper] for batch in batches(chunks, 8) for paper in batch]
    assert all(len(set(g)) == 1 for g in grouped) and len(grouped) == len({p.id for p in papers})
    assert sorted(c.id for b in batches(chunks, 8) for p in b for c in p) == sorted(
        c.id for c in chunks
    )
    _count("chunks", [])


def prop_text_is_not_binary(text: str) -> None:
    """Text (any script, emoji, tabs and line ends; no C0 controls) is never refused as binary."""
    assert binary_reason(text.encode()) is None, text[:80]
    _count("text_not_binary", [])


prose = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), st.sampled_from("\t\n\r")
    ),
    max_size=400,
).filter(lambda t: "%PDF-" not in t and not t.startswith(("GIF8", "7z", "SQLite")))


@dataclass(frozen=True)
class Property:
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]
    share: float = 1.0  # of the example budget: huge inputs get fewer examples


bad_bytes = st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\x80", b"\xed\xa0\x80"])
PROPERTIES: dict[str, Property] = {
    "random_bytes": Property(st.binary(max_size=3000), prop_random_bytes),
    "valid_listing": Property(listings(), prop_valid_listing),
    "truncated_listing": Property(
        st.tuples(listings(), st.integers(0, 5000)), prop_truncated_listing
    ),
    "line_soup": Property(line_soups, prop_line_soup),
    "non_utf8": Property(
        st.tuples(
            listings(),
            st.lists(st.tuples(st.integers(0, 10**6), bad_bytes), max_size=3),
            st.booleans(),
        ),
        prop_non_utf8,
    ),
    "jsonl": Property(jsonl_texts, prop_jsonl),
    "text_not_binary": Property(prose, prop_text_is_not_binary),
    "identity": Property(
        st.tuples(
            titles,
            st.lists(st.tuples(st.integers(0, 400), st.sampled_from(FORMAT_CHARS)), max_size=6),
        ),
        prop_identity_ignores_format_characters,
    ),
    "jsonl_independent": Property(jsonl_texts, prop_jsonl_lines_do_not_depend_on_each_other),
    "chunks": Property(
        st.lists(
            st.tuples(titles, sized_text(ABSTRACT_MIN_CHARS, 400), st.integers(1, 4)),
            min_size=1,
            max_size=5,
        ),
        prop_every_paper_keeps_its_chunks,
        0.25,
    ),
    "load_corpus": Property(corpus_cases, prop_load_corpus),
    "huge_lines": Property(
        st.tuples(st.integers(LINE_MAX_CHARS + 1, 10**6), st.booleans(), titles),
        prop_huge_lines,
        0.15,
    ),
}

# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    total = sum(COUNTS.values())
    print(f"\ncorpus fuzzing: {total} examples run: {dict(COUNTS)}; parser issues: {dict(ISSUES)}")


@FUZZ
@given(PROPERTIES["random_bytes"].strategy)
def test_random_bytes_never_raise_and_drop_nothing(data: bytes) -> None:
    prop_random_bytes(data)


@FUZZ
@given(PROPERTIES["valid_listing"].strategy)
def test_well_formed_listing_in_either_layout_parses_exactly(case: Any) -> None:
    prop_valid_listing(case)


@FUZZ
@given(PROPERTIES["truncated_listing"].strategy)
def test_truncated_listing_keeps_every_whole_record(case: Any) -> None:
    prop_truncated_listing(case)


@FUZZ
@given(PROPERTIES["line_soup"].strategy)
def test_mixed_layouts_and_odd_lines_drop_nothing_silently(text: str) -> None:
    prop_line_soup(text)


@FUZZ
@given(PROPERTIES["non_utf8"].strategy)
def test_non_utf8_bytes_are_reported_at_the_first_bad_byte(case: Any) -> None:
    prop_non_utf8(case)


@FUZZ
@given(PROPERTIES["jsonl"].strategy)
def test_jsonl_lines_are_each_accepted_or_reported(text: str) -> None:
    prop_jsonl(text)


@FUZZ
@given(PROPERTIES["identity"].strategy)
def test_identity_is_stable_under_unicode_format_characters(case: Any) -> None:
    prop_identity_ignores_format_characters(case)


@FUZZ
@given(PROPERTIES["jsonl_independent"].strategy)
def test_no_jsonl_record_is_lost_because_of_another(text: str) -> None:
    prop_jsonl_lines_do_not_depend_on_each_other(text)


@settings(FUZZ, max_examples=int(200 * PROPERTIES["chunks"].share))
@given(PROPERTIES["chunks"].strategy)
def test_no_paper_loses_its_chunks_because_of_another(case: Any) -> None:
    prop_every_paper_keeps_its_chunks(case)


@FUZZ
@given(PROPERTIES["text_not_binary"].strategy)
def test_text_in_any_script_is_never_taken_for_binary(text: str) -> None:
    prop_text_is_not_binary(text)


@FUZZ
@given(PROPERTIES["load_corpus"].strategy)
def test_corpus_counts_add_up_and_conflicting_duplicates_warn(case: Any) -> None:
    prop_load_corpus(case)


@settings(FUZZ, max_examples=int(200 * PROPERTIES["huge_lines"].share))  # up to 1 MB each
@given(PROPERTIES["huge_lines"].strategy)
def test_huge_lines_cost_one_record_and_are_named(case: Any) -> None:
    prop_huge_lines(case)
