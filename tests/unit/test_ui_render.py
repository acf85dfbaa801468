"""The chat page's HTML and Markdown, built from crafted sources and answers (no gradio, no model).
Paper text, titles, file names and the question are untrusted: nothing in them may become
markup, an attribute or a link."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from rag.ui import render
from rag.ui.health import Health, LLMState, display_url, problems

from rag.answer import citations as cit
from rag.answer.events import Answer, Source
from rag.answer.prompts import ABSTAIN_PHRASE
from rag.index.retrieve import PaperHit, Retrieval

EVIL_TITLE = '<img src=x onerror="window.__pwned=1">'
EVIL_PASSAGE = "Attention <script>window.__pwned=2</script> is all you need & more."
EVIL_QUESTION = "<script>alert(1)</script> what about attention?"
EVIL_LINK = "[click me](javascript:alert(1)) and <a href='javascript:alert(2)'>x</a>"


# Our own in-page anchors, and a paper's checked http(s) page (never javascript: or data:).
OUR_LINKS = ("#src-", "#ev-", "#turn-", "#sources-col", "#chat", "https://", "http://")


class Tags(HTMLParser):
    """Every element and attribute an HTML string really creates."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self.feed(html)

    def handle_data(self, data: str) -> None:
        self.data.append(data)

    def text(self) -> str:
        """What the page shows (entities decoded)."""
        return "".join(self.data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def attrs(self) -> set[str]:
        return {a for _, attrs in self.tags for a in attrs}

    def hrefs(self) -> list[str]:
        return [a["href"] or "" for _, a in self.tags if "href" in a]


def hit(n: int, title: str = "QLoRA", chunk: str = "", files: tuple[str, ...] = ("000.txt",)):
    return PaperHit(n, f"p{n}", title, 0.03 / n, chunk or f"passage {n}", f"c{n}", files, 0.6)


def source(n: int, title: str = "QLoRA", passage: str = "", files=("000.txt",)) -> Source:
    h = hit(n, title, passage, files)
    return Source(n, h, h.chunk)


def answer(sentences: list[cit.Sentence], sources: list[Source], **kw) -> Answer:
    text = " ".join(s.text for s in sentences)
    retrieval = Retrieval("q", [s.hit for s in sources], "hybrid", 5.0)
    fields = dict(
        question="What is QLoRA?",
        standalone_question="What is QLoRA?",
        text=text,
        abstained=False,
        abstain_reason=None,
        sources=sources,
        sentences=sentences,
        retrieval=retrieval,
        timings={"ttft_ms": 12000.0, "total_ms": 20000.0},
        raw_text=text,
    )
    return Answer(**{**fields, **kw})


def assert_inert(html: str) -> None:
    tags = Tags(html)
    assert "<script" not in html.lower()
    assert not tags.names() & {"script", "img", "iframe", "svg", "object", "style"}
    assert not {a for a in tags.attrs() if a.startswith("on")}, "an event handler attribute"
    assert all(h.startswith(OUR_LINKS) for h in tags.hrefs()), tags.hrefs()


# -- injection ------------------------------------------------------------------------------


def test_a_hostile_title_and_passage_render_as_text_in_the_card() -> None:
    html = render.sources_panel([source(1, EVIL_TITLE, EVIL_PASSAGE)], EVIL_QUESTION, "r1")
    assert_inert(html)
    shown = Tags(html).text()
    assert EVIL_TITLE in shown and "<script>window.__pwned=2</script>" in shown


def test_a_hostile_listing_file_name_renders_as_text() -> None:
    html = render.source_card(source(1, files=('"><img src=x onerror=alert(1)>',)), [], "r")
    assert_inert(html)
    assert "&quot;&gt;&lt;img" in html


def test_hostile_paper_metadata_renders_as_text_and_links_nowhere_else() -> None:
    @dataclass(frozen=True)
    class LibraryHit(PaperHit):  # the fields the library work adds to hits
        authors: tuple[str, ...] = ()
        year: int | None = None
        venue: str | None = None
        doi: str | None = None
        url: str | None = None

    base = hit(1)
    evil = LibraryHit(**{**base.__dict__, "authors": (EVIL_TITLE,), "url": "javascript:alert(1)",
                         "venue": "<b>NeurIPS</b>", "year": 2023})  # fmt: skip
    html = render.source_card(Source(1, evil, "p"), [], "r")
    assert_inert(html)
    assert "javascript:" not in html and EVIL_TITLE in Tags(html).text() and "2023" in html
    doi = LibraryHit(**{**base.__dict__, "doi": "10.48550/arXiv.2305.14314"})
    assert Tags(render.source_card(Source(1, doi, "p"), [], "r")).hrefs()[0] == (
        "https://doi.org/10.48550/arXiv.2305.14314"
    )


def test_a_hostile_question_renders_as_text_in_the_chat() -> None:
    html = render.chat_html([render.turn_html(EVIL_QUESTION, render.streaming_body("", "r", 0))])
    assert_inert(html)
    assert EVIL_QUESTION in Tags(html).text()


@pytest.mark.parametrize("text", [EVIL_LINK, EVIL_PASSAGE, EVIL_TITLE + " [1]"])
def test_model_text_cannot_add_markup_or_links(text: str) -> None:
    streamed = render.streaming_body(text, "r", 2)
    final = render.answer_body(
        answer([cit.Sentence(text, (1,), cit.Support.SUPPORTED, 0.9)], [source(1)]), "r"
    )
    for html in (streamed, final):
        assert_inert(html)
        assert "javascript:" not in "".join(Tags(html).hrefs())


def test_render_ids_cannot_break_out_of_the_attribute() -> None:
    html = render.source_card(source(1), [], 'x" onmouseover="alert(1)')
    assert_inert(html)
    assert 'id="src-xonmouseoveralert1-1"' in html


def test_errors_and_banners_are_escaped() -> None:
    assert_inert(render.error_body("<img src=x onerror=alert(1)>", "<b>partial</b>", "r", 1))
    banner = render.banner_html([render.Problem("<script>x</script>", "<img src=x onerror=y>")])
    assert_inert(banner)
    assert_inert(render.info_html([("<b>k</b>", "<script>v</script>")]))


# -- highlighting ---------------------------------------------------------------------------


def test_question_terms_are_highlighted_in_the_passage() -> None:
    html = render.highlight(
        "Retrieval-augmented models retrieve passages.", render.query_terms("retrieval")
    )
    assert html.count("<mark>") == 2
    assert "<mark>Retrieval-augmented</mark>" in html and "<mark>retrieve</mark>" in html


def test_stopwords_are_not_highlighted() -> None:
    terms = render.query_terms("What is the method that the paper uses for quantization?")
    assert "the" not in terms and "what" not in terms
    assert "<mark>quantization</mark>" in render.highlight("the quantization of the", terms)


def test_highlighting_never_matches_inside_an_entity() -> None:
    html = render.highlight("a & b <amp>", ["amp", "lt"])
    assert "&amp;" in html and "&lt;<mark>amp</mark>&gt;" in html
    assert "&<mark>" not in html


def test_short_uppercase_acronyms_count_as_terms() -> None:
    assert "rl" in render.query_terms("Which RL method?")


# -- citations and support ------------------------------------------------------------------


def test_each_citation_links_to_its_card() -> None:
    html = render.streaming_body("Claim [1][2]. Range [1-2]. In [2023]. Mixed [2, 9].", "abct1", 2)
    assert Tags(html).hrefs() == ["#src-abct1-1", "#src-abct1-2"] * 2 + ["#src-abct1-2"]
    assert "In [2023]." in html  # no source has that number: left as written
    assert "Claim [1][2]. Range [1, 2]." in Tags(html).text()  # copying keeps the markers
    cards = render.sources_panel([source(1), source(2)], "q", "abct1")
    ids = [a["id"] for t, a in Tags(cards).tags if t == "article"]
    assert ids == ["src-abct1-1", "src-abct1-2"]


def test_unsupported_and_uncited_sentences_are_marked_with_a_legend() -> None:
    sentences = [
        cit.Sentence("QLoRA uses 4-bit weights [1].", (1,), cit.Support.SUPPORTED, 0.8),
        cit.Sentence("It was invented in 1850 [1].", (1,), cit.Support.UNSUPPORTED, 0.1),
        cit.Sentence("Everyone uses it.", (), cit.Support.UNCITED, 0.1),
    ]
    html = render.answer_body(answer(sentences, [source(1)]), "r")
    flagged = [a for t, a in Tags(html).tags if "flagged" in (a.get("class") or "").split()]
    assert len(flagged) == 3  # two sentences and the legend's sample
    assert 'class="legend"' in html


def test_a_fully_supported_answer_has_no_legend() -> None:
    s = cit.Sentence("QLoRA uses 4-bit weights [1].", (1,), cit.Support.SUPPORTED, 0.8)
    html = render.answer_body(answer([s], [source(1)]), "r")
    assert "legend" not in html and "flagged" not in html


def test_an_abstention_shows_the_phrase_and_why() -> None:
    s = cit.Sentence(ABSTAIN_PHRASE, (), cit.Support.ABSTENTION, None)
    a = answer([s], [source(1)], abstained=True, abstain_reason="retrieval", text=ABSTAIN_PHRASE)
    html = render.answer_body(a, "r")
    assert ABSTAIN_PHRASE in html and render.ABSTAIN_REASONS["retrieval"] in html


def test_cited_cards_are_marked() -> None:
    html = render.sources_panel([source(1), source(2)], "q", "r", cited=[2])
    cited = [a["id"] for t, a in Tags(html).tags if "cited" in (a.get("class") or "").split()]
    assert cited == ["src-r-2"]


# -- export ---------------------------------------------------------------------------------


def test_markdown_export_has_the_answer_and_a_numbered_reference_list() -> None:
    sentences = [
        cit.Sentence("QLoRA finetunes 4-bit models [1].", (1,), cit.Support.SUPPORTED, 0.8),
        cit.Sentence("It adds paged optimizers [2].", (2,), cit.Support.SUPPORTED, 0.7),
    ]
    sources = [source(1, "QLoRA", files=("000.txt",)), source(2, "Paged", files=("001.txt",))]
    md = render.export_markdown(answer(sentences, sources), model="qwen")
    assert md.startswith("# What is QLoRA?")
    assert "QLoRA finetunes 4-bit models [1]. It adds paged optimizers [2]." in md
    refs = md.split("## References", 1)[1]
    assert "[1] QLoRA — 000.txt" in refs and "[2] Paged — 001.txt" in refs


def test_markdown_export_neutralises_hostile_text() -> None:
    s = cit.Sentence(EVIL_LINK + " [1].", (1,), cit.Support.UNSUPPORTED, 0.1)
    md = render.export_markdown(answer([s], [source(1, EVIL_TITLE)], question=EVIL_QUESTION))
    assert "<script" not in md and "<img" not in md and "<a " not in md
    assert "](javascript:" not in md
    assert "[1]" in md and "Not supported by the cited sources" in md


# -- health ---------------------------------------------------------------------------------


def health(**kw) -> Health:
    base = dict(
        store_error=None,
        llm=LLMState.READY,
        llm_detail=None,
        endpoint="http://127.0.0.1:8765/v1",
        model="qwen",
        local=True,
    )
    return Health(**{**base, **kw})


def test_a_healthy_app_shows_no_banner() -> None:
    assert problems(health()) == [] and problems(health(llm=LLMState.BUSY)) == []


@pytest.mark.parametrize(
    ("kw", "says", "fix"),
    [
        ({"store_error": "collection papers-x does not exist"}, "No papers", "rag ingest"),
        ({"llm": LLMState.STARTING, "waiting_s": 12}, "loading", "Wait"),
        ({"llm": LLMState.DOWN, "local": False}, "does not answer", "RAG_LLM_BASE_URL"),
        ({"llm": LLMState.REFUSED}, "refused", "RAG_LLM_API_KEY"),
        ({"llm": LLMState.WRONG_MODEL}, "lacks the model", "RAG_LLM_MODEL"),
        ({"llm": LLMState.FAILED, "llm_detail": "port taken"}, "port taken", "restart"),
    ],
)
def test_each_problem_says_what_and_how_to_fix_it(kw: dict, says: str, fix: str) -> None:
    (p,) = problems(health(**kw))
    assert says in p.what and fix in p.fix


def test_the_endpoint_is_shown_without_credentials() -> None:
    assert display_url("https://user:sk-secret@api.example.com:8443/v1?key=sk-2") == (
        "https://api.example.com:8443/v1"
    )


# -- evidence: the instant answer and the supporting sentence in its card ---------------------

EV = "It routes tokens <b>early</b> & cheaply."


def evidence_source(n: int = 1) -> Source:
    from rag.answer.evidence import EvidenceSentence

    h = hit(n, EVIL_TITLE)
    sents = (
        EvidenceSentence(h.paper_id, h.title, 0, "Background sentence.", 0.2, 0.2, 0.2),
        EvidenceSentence(h.paper_id, h.title, 2, EV, 0.8, 0.8, 0.8),
    )
    return Source(n, h, " ".join(x.text for x in sents), sents)


def test_the_instant_evidence_answer_shows_before_any_token_and_links_its_sentence() -> None:
    from rag.answer.evidence import Extract

    src = evidence_source()
    extract = Extract(((1, src.sentences[1]),))
    body = render.streaming_body("", "r1", 1, render.evidence_block(extract, "r1", 1))
    assert_inert(body)
    tags = Tags(body)
    assert render.EVIDENCE_LABEL in tags.text() and EV[:-1] in tags.text()
    assert tags.hrefs() == [f"#{render.sentence_id('r1', 1, 2)}"]
    assert body.index("evidence-answer") < body.index("answer pending")


def test_a_citation_lands_on_the_supporting_sentence_marked_in_its_card() -> None:
    src = evidence_source()
    ref = cit.EvidenceRef(1, src.hit.paper_id, 2, EV, 0.8)
    a = answer(
        [cit.Sentence("Tokens are routed early [1].", (1,), cit.Support.SUPPORTED, 0.8, (ref,))],
        [src],
    )
    body, panel = (
        render.answer_body(a, "r1"),
        render.sources_panel([src], "routing", "r1", [1], render.evidence_marks(a)),
    )
    target = render.sentence_id("r1", 1, 2)
    assert Tags(body).hrefs() == [f"#{target}"]
    marks = [
        attrs
        for tag, attrs in Tags(panel).tags
        if tag == "mark" and attrs.get("class") == "support"
    ]
    assert [m["id"] for m in marks] == [target]
    assert_inert(panel)
    assert "<b>" not in panel and "&lt;b&gt;early&lt;/b&gt;" in panel  # the sentence is escaped
    assert "…" in Tags(panel).text()  # sentence 1 was skipped


# -- cards a researcher can cite -------------------------------------------------------------


def test_a_listing_dump_gets_a_human_label_and_paths_lose_their_folders() -> None:
    assert render.source_label("000_30f78c25dce070b4.txt") == "Daily Papers listing (file 000)"
    assert render.source_label("/home/me/papers/mine.jsonl") == "mine.jsonl"
    html = render.source_card(source(1, files=("/home/me/secret/zotero.bib",)), [], "r")
    assert "/home/me" not in html and "zotero.bib" in html


def test_relevance_is_words_with_the_numbers_in_a_tooltip() -> None:
    html = render.source_card(source(1), [], "r")  # cosine 0.6, fused score 0.03
    assert "strong match" in Tags(html).text() and "0.0300" not in Tags(html).text()
    assert 'title="rank 1 · fused score 0.0300 · cosine similarity 0.60' in html
    weak = Source(1, PaperHit(1, "p", "T", 0.01, "c", "c1", (), 0.3), "c")
    assert render.relevance(weak) == ("weak", "weak match")


def test_an_abstention_shows_the_closest_papers_folded_not_as_sources() -> None:
    html = render.sources_panel([source(1), source(2)], "q", "r", abstained=True)
    assert "<details" in html and "Closest papers" in html and "none answers" in html
    assert ">Sources <" not in html


def test_only_distinctive_question_terms_are_highlighted() -> None:
    def common(word: str) -> bool:
        return word.lower() in {"language", "models", "large"}

    terms = render.query_terms("How do large language models use paged attention?", common)
    assert "paged" in terms and "attention" in terms and not {"large", "language"} & set(terms)


def test_a_card_links_back_to_its_answer() -> None:
    html = render.source_card(source(1), [], "k1t2")
    assert "#turn-k1t2" in Tags(html).hrefs()
    assert 'id="turn-k1t2"' in render.turn_html("q", "a", rid="k1t2")


def test_message_actions_and_the_example_are_buttons_not_links() -> None:
    html = render.turn_html("q", "a", rid="r", actions=render.turn_actions(2, regenerate=True))
    assert_inert(html)
    acts = [a.get("data-act") for t, a in Tags(html).tags if t == "button"]
    assert acts == ["copy", "edit", "regen"]
    welcome = render.chat_html([], EVIL_QUESTION)
    assert_inert(welcome)
    assert 'data-act="example"' in welcome and EVIL_QUESTION in Tags(welcome).text()


def test_readiness_is_escaped_and_classed() -> None:
    html = render.readiness_html("<b>Ready</b>", "nonsense", "<i>tip</i>")
    assert_inert(html)
    assert 'class="readiness busy"' in html and "&lt;b&gt;Ready" in html


# -- readiness and the model picker -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "phase", "text", "level"),
    [
        ({}, "embedder", "Loading the embedder", "busy"),
        ({"llm": LLMState.STARTING, "waiting_s": 9}, "model", "Loading the model… 9 s", "busy"),
        ({}, "model", "Warming the model", "busy"),
        ({}, "ready", "Ready", "ready"),
        ({"llm": LLMState.BUSY}, "ready", "Ready · answering", "ready"),
        ({"llm": LLMState.DOWN, "local": False}, "ready", "Model down — Start the server", "error"),
        ({"store_error": "no collection"}, "ready", "No papers to search", "error"),
    ],
)
def test_readiness_says_loading_ready_or_down_with_the_fix(kw, phase, text, level) -> None:
    from rag.ui.health import readiness

    shown, got_level, _ = readiness(health(**kw), phase)
    assert shown.startswith(text) and got_level == level


def test_the_model_picker_shows_only_for_several_models() -> None:
    from rag.ui.health import model_choices

    assert model_choices(["qwen"], "qwen") == []
    assert model_choices(["big", "qwen"], "qwen") == ["qwen", "big"]
