"""The chat page in a real headless Chromium (Debian's, driven by Playwright): sources and the
instant evidence answer before the first token, a citation that highlights its supporting
sentence in its card, health banners, and hostile paper text and questions shown as text,
never run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings
from tests.integration.test_ui_app import QUESTION, app_settings, free_port, make_deps, serving

pytestmark = [pytest.mark.slow, pytest.mark.llm, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
EVIL_TITLE = '<img src=x onerror="window.__pwned=1">'
EVIL_ABSTRACT = (
    "<script>window.__pwned=2</script> Attention routing for sparse transformers: we study how "
    "attention heads route tokens between experts and show that routing is learned early."
)
EVIL_QUESTION = "<script>window.__pwned=3</script> How do attention heads route tokens?"
# Records when the first source card, the evidence answer and the first answer text appear.
WATCH = """
window.__seen = {};
new MutationObserver(() => {
  const now = performance.now();
  if (!window.__seen.cards && document.querySelector('.src-card')) window.__seen.cards = now;
  if (!window.__seen.evidence && document.querySelector('.evidence-answer li'))
    window.__seen.evidence = now;
  if (!window.__seen.token && document.querySelector('.answer.streaming, .answer.final'))
    window.__seen.token = now;
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("install Debian's chromium: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    yield context.new_page()
    context.close()


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#question textarea")


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask-btn")


def test_evidence_comes_first_and_a_citation_highlights_its_sentence(
    page, corpus_settings: Settings, retriever, llm_server
) -> None:
    settings = app_settings(corpus_settings, llm_server.base_url, max_answer_tokens=64)
    with serving(make_deps(settings, retriever)) as url:
        open_chat(page, url)
        page.evaluate(WATCH)
        ask(page, QUESTION)
        page.wait_for_selector(".src-card", timeout=60_000)
        page.wait_for_selector(".evidence-answer li", timeout=60_000)
        label = page.locator(".evidence-answer").first.text_content() or ""  # CSS upper-cases
        assert "Evidence (instant, extractive)" in label
        page.wait_for_selector(".answer.final", timeout=600_000)
        seen = page.evaluate("window.__seen")
        assert seen["cards"] <= seen["evidence"] < seen["token"], seen
        page.mouse.wheel(0, 2000)  # scroll away, so landing on the sentence is visible
        link = page.locator(".answer.final a.cite").first
        target = link.get_attribute("href")
        assert target and target.startswith("#ev-"), target  # the sentence, not just the card
        link.click()
        page.wait_for_function("h => location.hash === h", arg=target)
        mark = page.locator(f"mark{target}")
        assert mark.evaluate("e => e.matches(':target') && e.classList.contains('support')")
        assert mark.evaluate("e => e.closest('article.src-card') !== null")
        assert mark.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"  # highlighted
        box, height = mark.bounding_box(), page.viewport_size["height"]
        assert box and 0 <= box["y"] < height, "the supporting sentence is not in view"
        page.evaluate(
            "window.scrollTo(0, 0); document.querySelector('#sources-col').scrollTo(0, 0)"
        )
        ARTIFACTS.mkdir(exist_ok=True)  # git-ignored
        page.screenshot(path=str(ARTIFACTS / "ui-answer.png"))


@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store holding one paper whose title and abstract are HTML attacks, and an LLM
    endpoint nothing listens on (the cards render before the model is asked)."""
    from rag.wiring import run_ingest

    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "evil.jsonl"
    corpus.write_text(json.dumps({"title": EVIL_TITLE, "abstract": EVIL_ABSTRACT}) + "\n")
    settings = app_settings(Settings(data_dir=root / "data"), f"http://127.0.0.1:{free_port()}/v1")
    run_ingest(settings, [corpus], progress=False)
    return settings


def test_hostile_titles_passages_and_questions_show_as_text(page, hostile_settings) -> None:
    from rag.wiring import open_retriever

    with serving(make_deps(hostile_settings, open_retriever(hostile_settings))) as url:
        open_chat(page, url)
        ask(page, EVIL_QUESTION)
        page.wait_for_selector(".src-card")
        page.wait_for_selector(".error-box, .answer.abstained, .answer.final", timeout=60_000)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("[...document.scripts].every(s => !s.textContent.includes('__pwned'))")
        assert page.locator(".src-title").first.inner_text() == EVIL_TITLE
        assert (
            "<script>window.__pwned=2</script>" in page.locator(".src-passage").first.inner_text()
        )
        assert EVIL_QUESTION in page.locator(".msg.user .bubble").first.inner_text()


def test_banners_say_what_is_wrong_and_how_to_fix_it(page, hostile_settings) -> None:
    error = "no store at /nowhere/chroma; run `rag ingest` first"
    with serving(make_deps(hostile_settings, None, store_error=error)) as url:
        open_chat(page, url)
        banner = page.locator("#banner")
        page.wait_for_function(
            "() => (document.querySelector('#banner')?.innerText ?? '').includes('does not answer')"
        )
        text = banner.inner_text()
        assert "No papers to search" in text and "rag ingest" in text
        assert "RAG_LLM_BASE_URL" in text  # the endpoint is down: how to point it elsewhere
        ask(page, "What is attention?")
        page.wait_for_selector(".error-box")
        assert "rag ingest" in page.locator(".error-box").inner_text()


# -- issue #12: a first use as a new user would try it ----------------------------------------

FIRST = "How can transformers be changed so their activations have no strong outliers and quantize well to 8 bits?"
GATED = "How does the gated variant work?"
OUTLIER_PAPER = "Quantizable Transformers"
PHONE = {"width": 390, "height": 844}


def current_sources(page) -> str:
    """The current turn's cards (before the earlier turns' folded ones)."""
    return page.evaluate(
        "[...document.querySelectorAll('#sources .src-card')]"
        ".filter(c => !c.closest('details.earlier')).map(c => c.innerText).join('\\n')"
    )


def answered(page, turns: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.turn .actions').length >= n", arg=turns, timeout=600_000
    )


def test_enter_sends_shift_enter_breaks_the_line_and_the_example_is_clickable(
    page, hostile_settings
) -> None:
    from rag.wiring import open_retriever

    with serving(make_deps(hostile_settings, open_retriever(hostile_settings))) as url:
        open_chat(page, url)
        stop = page.locator("#stop-btn")
        assert stop.is_disabled()  # nothing to stop while idle
        assert page.locator("#settings .label-wrap.open").count() == 0
        box = page.locator("#question textarea")
        box.click()
        outline = box.evaluate(
            "e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth"
        )
        assert not outline.startswith("none"), outline  # a visible focus ring
        box.type("first line")
        box.press("Shift+Enter")
        box.type("second line")
        assert box.input_value() == "first line\nsecond line"
        assert page.locator(".msg.user").count() == 0  # Shift+Enter did not send
        box.fill("How do attention heads route tokens?")
        box.press("Enter")
        page.wait_for_selector(".msg.user")
        assert (
            "How do attention heads route tokens?" in page.locator(".msg.user").first.inner_text()
        )
        assert box.input_value() == ""
        page.wait_for_selector(".error-box, .answer.abstained, .answer.final", timeout=60_000)
        assert stop.is_disabled()
        page.click("#new-btn")
        page.click("button.example-q")  # "Try: …" asks its question
        page.wait_for_function("() => document.querySelectorAll('.msg.user').length === 1")
        assert "65B" in page.locator(".msg.user").first.inner_text()


def test_readiness_is_shown_in_the_header_without_opening_settings(page, hostile_settings) -> None:
    from rag.wiring import open_retriever

    with serving(make_deps(hostile_settings, open_retriever(hostile_settings))) as url:
        open_chat(page, url)
        ready = page.locator("#ready")
        page.wait_for_function(
            "() => (document.querySelector('#ready')?.innerText ?? '').includes('Model down')",
            timeout=60_000,
        )
        assert ready.is_visible() and "RAG_LLM_BASE_URL" in ready.inner_text()
        assert not page.locator("#info").is_visible()  # Settings stays folded


def download(page, button: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.click(button)
    return info.value.suggested_filename, Path(info.value.path()).read_text()


def turn_count(page) -> int:
    return page.evaluate("document.querySelectorAll('.turn').length")


@pytest.fixture(scope="module")
def two_turns(browser, corpus_settings: Settings, retriever, llm_server, tmp_path_factory):
    """A desktop page on a served app (its chats in their own file) that waits for "Ready",
    asks FIRST, then the definite-reference follow-up GATED, downloads both exports and
    reloads; the app is stopped after (the restart test serves it again)."""
    chats = tmp_path_factory.mktemp("chats") / "chats.sqlite3"
    settings = app_settings(corpus_settings, llm_server.base_url, max_answer_tokens=48)
    context = browser.new_context(viewport={"width": 1440, "height": 960}, accept_downloads=True)
    page = context.new_page()
    seen: dict = dict(page=page, settings=settings, chats=chats)
    with serving(make_deps(settings, retriever, history=chats)) as url:
        open_chat(page, url)
        page.wait_for_function(
            "() => (document.querySelector('#ready')?.innerText ?? '').startsWith('Ready')",
            timeout=600_000,
        )
        ask(page, FIRST)
        answered(page, 1)
        seen["first"] = current_sources(page)
        page.fill("#question textarea", GATED)
        page.press("#question textarea", "Enter")
        answered(page, 2)
        seen["second"] = current_sources(page)
        seen["md_name"], seen["md"] = download(page, "#download-md")
        seen["bib_name"], seen["bib"] = download(page, "#download-bib")
        page.reload()
        page.wait_for_selector("#question textarea")
        page.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
        seen["reloaded"] = page.locator(".chat").inner_text()
    yield seen
    context.close()


def test_a_definite_reference_follow_up_keeps_the_first_papers_source(two_turns) -> None:
    assert OUTLIER_PAPER in two_turns["first"]
    assert OUTLIER_PAPER in two_turns["second"]  # not an unrelated "gated" paper


def test_the_export_holds_every_turn_and_a_bibtex_entry_per_cited_paper(two_turns) -> None:
    md, bib = two_turns["md"], two_turns["bib"]
    assert f"## 1. {md_escaped(FIRST)}" in md and f"## 2. {md_escaped(GATED)}" in md
    assert two_turns["md_name"].startswith("how-can-transformers-be-changed")
    assert two_turns["md_name"].endswith(".md") and two_turns["bib_name"].endswith(".bib")
    keys_cited = set(re.findall(r"\\\[@(\w+)\\\]", md))
    assert keys_cited, md
    assert sorted(re.findall(r"^@misc\{(\w+),", bib, re.MULTILINE)) == sorted(keys_cited)


def md_escaped(text: str) -> str:
    from rag.ui.render import md_text

    return md_text(text)


def test_history_survives_a_reload_and_an_app_restart(two_turns, browser, retriever) -> None:
    assert FIRST in two_turns["reloaded"] and GATED in two_turns["reloaded"]
    page, settings, chats = two_turns["page"], two_turns["settings"], two_turns["chats"]
    # Served again on the same address (the browser keeps the open chat per address) by new
    # deps over the same history file: the app restarted.
    with serving(make_deps(settings, retriever, history=chats)) as url:
        page.goto(url)
        page.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
        fresh = browser.new_context(viewport={"width": 1440, "height": 960})
        other = fresh.new_page()
        open_chat(other, url)  # another browser: nothing open, the chat in the side panel
        other.wait_for_selector("#chats label")
        other.locator("#chats label").first.click()
        other.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
        assert FIRST in other.locator(".chat").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)  # git-ignored; docs/screenshot-*.png are copies
        other.screenshot(path=str(ARTIFACTS / "ui-desktop.png"))
        fresh.close()
        phone_checks(browser, url)


def phone_checks(browser, url: str) -> None:
    """At 390×844 the question box shows without scrolling; a citation tap opens its source in
    the drawer and "Back to the answer" closes it."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    open_chat(phone, url)
    box = phone.locator("#question textarea").bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    assert phone.evaluate("window.scrollY") == 0
    assert box["width"] > PHONE["width"] * 0.6  # full width, beside a small Ask button
    phone.wait_for_function(
        "() => !document.querySelector('#history-panel').classList.contains('open')"
    )
    phone.click("#history-panel .toggle-button")
    phone.locator("#chats label").first.click()
    phone.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
    phone.click("#history-panel .toggle-button")
    assert not phone.locator("#sources-col").is_visible()  # sources wait in their drawer
    link = phone.locator("a.cite").first
    target = link.get_attribute("href")
    link.tap()
    card = phone.locator(f"article{target}")
    phone.wait_for_function(
        "() => getComputedStyle(document.querySelector('#sources-col')).display !== 'none'"
    )
    phone.wait_for_function(
        "t => { const r = document.querySelector('article' + t).getBoundingClientRect();"
        " return r.top >= 0 && r.top < innerHeight; }",
        arg=target,
    )  # the card itself is on screen, not only its drawer
    phone.screenshot(path=str(ARTIFACTS / "ui-phone-source.png"))
    card.locator("a.src-back").tap()
    phone.wait_for_function(
        "() => getComputedStyle(document.querySelector('#sources-col')).display === 'none'"
    )
    phone.evaluate("window.scrollTo(0, 0)")
    phone.screenshot(path=str(ARTIFACTS / "ui-phone.png"))
    context.close()


# -- issue #13: the library from the page -------------------------------------------------------

SEED_PAPER = {
    "title": "Quantising Attention Without Outliers",
    "abstract": "Clipped softmax and gated attention remove the activation outliers that make "
    "transformers hard to quantise to eight bits, with no loss of accuracy.",
}
PDF_QUESTION = "How can a retriever's scores be turned into probabilities of containing the answer?"


def test_a_pdf_uploaded_while_an_answer_streams_is_then_cited(
    page, llm_server, pdf_fixtures, tmp_path: Path
) -> None:
    from rag.wiring import open_retriever, run_ingest
    from tests.fixtures.pdfs import ONE_TITLE

    seed = tmp_path / "seed.jsonl"
    seed.write_text(json.dumps(SEED_PAPER) + "\n")
    base = Settings(data_dir=tmp_path / "data")
    settings = app_settings(base, llm_server.base_url, max_answer_tokens=48)
    run_ingest(settings, [seed], progress=False)
    with serving(make_deps(settings, open_retriever(settings))) as url:
        open_chat(page, url)
        page.click("#library-panel .label-wrap")  # open the Library panel
        page.wait_for_function(
            "() => (document.querySelector('#library')?.innerText ?? '').includes('1 paper')"
        )
        ask(page, "Which attention change removes activation outliers?")
        page.wait_for_selector(".src-card")  # the answer is under way
        page.set_input_files("#upload input[type=file]", str(pdf_fixtures.one_column))
        page.click("#add-files")
        page.wait_for_selector("#upload-result .up-added", timeout=120_000)
        result = page.locator("#upload-result").inner_text()
        assert "added" in result and ONE_TITLE in result
        answered(page, 1)  # the answer in flight completed
        assert page.locator(".error-box").count() == 0
        assert "2 papers" in page.locator("#library").inner_text()
        ask(page, PDF_QUESTION)
        answered(page, 2)
        cards = current_sources(page)
        assert ONE_TITLE in cards and "p." in cards  # cited with its page
        cited = page.locator(".turn").last.locator("a.cite")
        assert cited.count() >= 1
