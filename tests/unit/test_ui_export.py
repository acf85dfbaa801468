"""The conversation export: every turn and its references in Markdown, one BibTeX entry per
cited paper with balanced braces, safe file names, and the current state (a stopped turn, an
abstention) rather than the last complete answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.ui.export import (
    bib_escape,
    bib_key,
    bibtex,
    conversation_markdown,
    file_stem,
    write_exports,
)
from rag.ui.records import DONE, STOPPED, TurnRecord

from rag.answer import citations as cit
from rag.answer.events import Source
from rag.answer.prompts import ABSTAIN_PHRASE
from rag.index.retrieve import PaperHit
from tests.unit.test_ui_render import EVIL_TITLE, answer, source


@dataclass(frozen=True)
class LibraryHit(PaperHit):  # the fields the library work adds to hits
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    url: str | None = None


def done(rid: str, question: str, sources: list[Source], cites: list[int]) -> TurnRecord:
    sentences = [cit.Sentence(f"Claim {n} [{n}].", (n,), cit.Support.SUPPORTED, 0.8) for n in cites]
    return TurnRecord(
        rid, question, question, DONE, sources, answer(sentences, sources, question=question)
    )


def conversation() -> list[TurnRecord]:
    qlora = source(1, "QLoRA: Efficient Finetuning", files=("000_30f78c25dce070b4.txt",))
    lora = source(2, "LoRA {low-rank} adaptation")
    first = done("a", "What is QLoRA?", [qlora, lora], [1, 2])
    second = done("b", "And the paged optimizer?", [qlora], [1])  # QLoRA again
    stopped = TurnRecord("c", "Why 4 bits?", "Why 4 bits?", STOPPED, [qlora], partial="Because")
    return [first, second, stopped]


def test_the_markdown_holds_every_turn_with_its_references() -> None:
    md = conversation_markdown("QLoRA chat", conversation())
    assert md.startswith("# QLoRA chat")
    for i, q in enumerate(["What is QLoRA?", "And the paged optimizer?", "Why 4 bits?"], 1):
        assert f"## {i}. {q}" in md
    assert md.count("References:") == 2 and "Daily Papers listing \\(file 000\\)" in md
    assert "Because" in md and "Stopped: this answer is incomplete." in md


def test_an_abstention_lists_the_closest_papers_not_references() -> None:
    s = cit.Sentence(ABSTAIN_PHRASE, (), cit.Support.ABSTENTION, None)
    a = answer([s], [source(1)], abstained=True, abstain_reason="retrieval", text=ABSTAIN_PHRASE)
    md = conversation_markdown("t", [TurnRecord("a", "q", "q", DONE, [source(1)], a)])
    assert "Closest papers (none answers the question):" in md and "References:" not in md


def test_bibtex_has_one_entry_per_cited_paper_with_balanced_braces() -> None:
    bib = bibtex(conversation())
    keys = re.findall(r"^@misc\{(\w+),", bib, re.MULTILINE)
    assert len(keys) == 2 == len(set(keys))  # QLoRA cited twice, LoRA once
    assert "LoRA \\{low-rank\\} adaptation" in bib
    assert bib.count("{") - bib.count("\\{") == bib.count("}") - bib.count("\\}")


def test_a_known_author_and_year_make_the_key() -> None:
    base = source(1, "The QLoRA method").hit
    hit = LibraryHit(**{**base.__dict__, "authors": ("Tim Dettmers", "Artidoro Pagnoni"), "year": 2023,
                        "doi": "10.48550/arXiv.2305.14314"})  # fmt: skip
    s = Source(1, hit, "p")
    assert bib_key(s) == "dettmers2023qlora"
    entry = bibtex([done("a", "q", [s], [1])])
    assert "author = {Tim Dettmers and Artidoro Pagnoni}" in entry and "year = {2023}" in entry
    assert "doi = {10.48550/arXiv.2305.14314}" in entry


def test_latex_specials_cannot_break_the_entry() -> None:
    assert (
        bib_escape("50% of {x} & y_1 \\cite") == "50\\% of \\{x\\} \\& y\\_1 \\textbackslash{}cite"
    )
    entry = bibtex([done("a", "q", [source(1, EVIL_TITLE + " }@misc{x,")], [1])])
    assert entry.count("@misc{") == 1


def test_file_names_are_safe_and_carry_the_chat_and_time(tmp_path: Path) -> None:
    stem = file_stem("../../etc/passwd: Ünïcode «title»", 0.0)
    assert re.fullmatch(r"etc-passwd-unicode-title-\d{8}-\d{4}", stem), stem
    md, bib = write_exports(tmp_path, "QLoRA chat", conversation())
    assert md.parent == tmp_path and md.name.startswith("qlora-chat-") and bib.suffix == ".bib"
    write_exports(tmp_path, "Renamed", conversation())
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["renamed", "renamed"]
