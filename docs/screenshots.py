"""The README's screenshots: the chat served on a store ($RAG_DATA_DIR, ingested), a two-turn
conversation with a definite-reference follow-up asked in headless Chromium, then the desktop
(1440×960) and phone (390×844) layouts saved as docs/screenshot-desktop.png and
docs/screenshot-phone.png. The local model is started as `rag ui` would.

    RAG_DATA_DIR=… .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

FIRST = "How can transformers be changed so their activations have no strong outliers?"
FOLLOW = "How does the gated variant work?"
OUT = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answered(page, turns: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.turn .actions').length >= n", arg=turns, timeout=900_000
    )


def main() -> int:
    from playwright.sync_api import sync_playwright
    from rag.ui.app import build_app, launch
    from rag.ui.runtime import build_deps

    from rag.settings import Settings, UISettings

    base = Settings()
    settings = base.model_copy(update={"ui": UISettings(host="127.0.0.1", port=_port())})
    deps = build_deps(settings)
    app = build_app(deps)
    deps.start()
    launch(app, settings, block=False)
    url = f"http://127.0.0.1:{settings.ui.port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            desktop = browser.new_context(viewport={"width": 1440, "height": 960})
            page = desktop.new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea")
            page.wait_for_function(
                "() => document.querySelector('#ready').innerText.startsWith('Ready')",
                timeout=900_000,
            )
            for n, q in enumerate((FIRST, FOLLOW), start=1):
                page.fill("#question textarea", q)
                page.click("#ask-btn")
                _answered(page, n)
            page.screenshot(path=str(OUT / "screenshot-desktop.png"))
            # A phone opening the same chat (the browser's storage reopens it), as loaded there.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
                storage_state=desktop.storage_state(),
            ).new_page()
            phone.goto(url)
            phone.wait_for_function("() => document.querySelectorAll('.turn').length >= 2")
            phone.wait_for_timeout(1000)
            phone.screenshot(path=str(OUT / "screenshot-phone.png"))
            browser.close()
    finally:
        app.close()
        deps.close()
    print(f"wrote {OUT / 'screenshot-desktop.png'} and {OUT / 'screenshot-phone.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
