"""Take the README's screenshot of the chat: a question, its cited answer and one source opened.

    .venv/bin/python docs/screenshot.py [--home DIR] [--out docs/chat.png]

Serves the app (MiniLM over the bundled corpus, in a throwaway data folder unless --home is given) on a
free 127.0.0.1 port and drives Debian's Chromium (/usr/bin/chromium) through Playwright, as the browser
tests do.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTION = "Which papers here study state-space models?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="RAG_HOME to use (default: a new temporary folder)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "chat.png")
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    from rag import Assistant, Settings
    from ui.app import launch

    home = args.home or Path(tempfile.mkdtemp(prefix="rag-screenshot-"))
    assistant = Assistant(Settings(home=home, llm={"base_url": "", "api_key": ""}))
    assistant.ensure_ready(progress=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(assistant, "127.0.0.1", port, block=False, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
                headless=True,
            )
            page = browser.new_page(viewport={"width": 1360, "height": 1020}, device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator("#rag-question textarea")
            box.fill(QUESTION)
            box.press("Enter")
            answer = page.locator(".rag-answer:not(.rag-streaming)").last
            expect(answer.locator(".rag-sources")).to_be_visible(timeout=60_000)
            answer.locator("a.rag-cite").first.click()
            page.wait_for_timeout(800)  # the smooth scroll to the opened source
            # Then scroll back so the picture starts at the question: question, answer, opened source.
            page.locator(".rag-user").last.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            page.mouse.move(0, 0)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        demo.close()
        assistant.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
