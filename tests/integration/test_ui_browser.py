"""The chat page in a real headless Chromium (Debian's, driven by Playwright): sources and the
instant evidence answer before the first token, a citation that highlights its supporting
sentence in its card, health banners, and hostile paper text and questions shown as text,
never run."""

from __future__ import annotations

import json
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
        assert (
            "Evidence (instant, extractive)" in page.locator(".evidence-answer").first.inner_text()
        )
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
        ARTIFACTS.mkdir(exist_ok=True)  # git-ignored; docs/screenshot-answer.png is a copy
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
            "() => document.querySelector('#banner').innerText.includes('does not answer')"
        )
        text = banner.inner_text()
        assert "No papers to search" in text and "rag ingest" in text
        assert "RAG_LLM_BASE_URL" in text  # the endpoint is down: how to point it elsewhere
        ask(page, "What is attention?")
        page.wait_for_selector(".error-box")
        assert "rag ingest" in page.locator(".error-box").inner_text()
