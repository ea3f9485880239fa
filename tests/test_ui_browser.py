"""The chat UI in a real browser: Debian's Chromium driven by Playwright, against
`ragkit ui` on a free loopback port, with the real models. Screenshots are saved in
tests/output/ui/ (and the test's tmp folder)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit import RAG, Document

from .test_chroma_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "output" / "ui"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.slow,
    # skipped only outside CI: in CI (CI=true) a missing browser is a failure
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                       reason="needs Debian's chromium (scripts/bootstrap dev installs it)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, samples: Path, embedder) -> Iterator[
        tuple[str, Path]]:
    kb = tmp_path_factory.mktemp("browser") / "kb"
    rag = RAG(kb, embedder=embedder)
    assert rag.ingest(samples).ok
    rag.add_documents([Document.from_text(
        "notes/alpaca.txt", "Alpaca care. <script>document.title='PWNED'</script> "
        "<img src=x onerror=\"document.title='PWNED'\"> Alpacas are shorn once a year, in "
        "spring.", title="Alpaca care")])
    port = free_port()
    log = (kb.parent / "ui.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ragkit"), "ui", "--kb", str(kb),
                             "--port", str(port)], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                assert proc.poll() is None, (kb.parent / "ui.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("ragkit ui did not answer /_stcore/health in 120 s")
        yield url, kb
    finally:
        proc.terminate()  # `ragkit ui` execs Streamlit: this stops the server itself
        proc.wait(timeout=30)
        log.close()
    with pytest.raises(OSError):  # nothing left serving: no orphaned Streamlit process
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)


@pytest.fixture
def page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(180_000)
        yield pg
        browser.close()


def shot(page, tmp_path: Path, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1000)  # let expanders finish opening
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    shutil.copy2(OUTPUT / f"{name}.png", tmp_path / f"{name}.png")


def ask(page, question: str) -> None:
    box = page.get_by_placeholder("Ask about your documents")
    box.fill(question)
    box.press("Enter")
    page.get_by_text(question, exact=True).last.wait_for()
    # the answer is finished when its timings caption appears
    page.locator("[data-testid='stChatMessage']").last.get_by_text("first token").wait_for()


def test_chat_sources_injection_chinese_upload(server, page, tmp_path: Path) -> None:
    url, kb = server
    page.goto(url)
    page.get_by_placeholder("Ask about your documents").wait_for()

    ask(page, "How many moons does Jupiter have?")
    answer = page.locator("[data-testid='stChatMessage']").last
    source = answer.get_by_text("solar_system.html").first
    source.wait_for()
    source.click()  # expand the source: its passage text shows
    answer.get_by_text("Jupiter").first.wait_for()
    assert answer.get_by_text("Download file").first.is_visible()
    shot(page, tmp_path, "chat-answer-sources")

    # feedback: thumbs up on the answer is stored with the logged ask
    answer.locator("[data-testid='stFeedback'] button").first.click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(kb / "chat.sqlite3") as db:
            rows = db.execute("SELECT feedback FROM asks WHERE feedback IS NOT NULL").fetchall()
        if rows:
            break
        time.sleep(0.5)
    assert rows == [(1,)]

    # a document holding HTML: shown as text, never run
    ask(page, "How often are alpacas shorn?")
    answer = page.locator("[data-testid='stChatMessage']").last
    answer.get_by_text("alpaca.txt").first.click()
    answer.get_by_text("<script>document.title='PWNED'</script>", exact=False).first.wait_for()
    assert page.title() != "PWNED"
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    shot(page, tmp_path, "html-as-text")

    # Chinese question and answer
    ask(page, "大熊猫每天花多少时间吃竹子？")
    answer = page.locator("[data-testid='stChatMessage']").last
    answer.get_by_text("giant_panda_zh.md").first.wait_for()
    shot(page, tmp_path, "chat-chinese")

    # upload a file and see it ingested and listed
    note = tmp_path / "okapi_notes.md"
    note.write_text("# Okapi\n\nThe okapi lives in the Ituri rainforest of Congo.\n")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not really a PDF\n")
    page.get_by_text("Documents", exact=True).first.click()
    page.locator("input[type='file']").set_input_files([str(note), str(broken)])
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("Ingested 1 file(s)").wait_for()
    page.get_by_text("broken.pdf:", exact=False).first.wait_for()  # the failure, with reason
    page.get_by_text("okapi_notes.md", exact=True).first.wait_for()
    assert (kb / "documents" / "okapi_notes.md").read_text().startswith("# Okapi")
    shot(page, tmp_path, "documents-upload")
