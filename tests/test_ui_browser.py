"""The web UI end to end in a real browser: the app as `docscout ui` serves it, the real CPU
engine (`cpu`, the default CPU model, on vLLM), Debian's chromium driven by Playwright. Upload a
PDF, ask, watch the answer stream in, open a citation's page preview, see it in the history; a follow-up answered
with the earlier turn, a chat reopened after a reload; two sessions at once (the second waits in
line, the first is stopped, the second is answered); hostile collection names and questions on
every page (nothing renders, nothing is fetched).

Screenshots of every page go to test-artifacts/screenshots/ (the test prints the folder).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLE_DOCS

pytestmark = [pytest.mark.vllm, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
SHOTS = ROOT / "test-artifacts" / "screenshots"
ENGINE_LOAD_S = 300
ANSWER_S = 300


# Every text the newest chat answer shows, as the DOM changes: proof that it streamed in.
RECORD_ANSWER_TEXTS = """() => {
  window.answerTexts = [];
  new MutationObserver(() => {
    const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
    const last = messages[messages.length - 1];
    // The answer's text: not the Stop button's label, a caption or a notice.
    const bodies = last ? Array.from(last.querySelectorAll('[data-testid="stMarkdownContainer"]'))
      .filter(e => !e.closest('button, [data-testid="stCaptionContainer"], [data-testid="stAlert"]'))
      : [];
    const text = bodies.length ? bodies[0].innerText.trim() : "";
    const seen = window.answerTexts;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the UI exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the UI did not answer {url} in {timeout_s} s")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, shared_models_dir):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}); scripts/test.sh installs it")
    pytest.importorskip("playwright", reason="playwright is installed by the test extra")
    port = _free_port()
    env = {**os.environ,
           "DOCSCOUT_DATA_DIR": str(tmp_path_factory.mktemp("ui-data")),
           "DOCSCOUT_MODEL_PROFILE": "cpu",
           "DOCSCOUT_MODELS_DIR": str(shared_models_dir),
           "DOCSCOUT_REQUEST_TIMEOUT_S": "240"}
    log = tmp_path_factory.mktemp("ui-log") / "streamlit.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "ui", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        print(f"\nUI log: {log}")


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(60_000)
        yield tab
        browser.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the last delta paint
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _chat_input_enabled(page, timeout_s: float):
    box = page.get_by_placeholder("Ask about")
    deadline = time.monotonic() + timeout_s
    while box.is_disabled():
        if time.monotonic() > deadline:
            raise TimeoutError(page.locator('[data-testid="stSidebar"]').inner_text())
        page.wait_for_timeout(1000)
    return box


def test_upload_ask_stream_cite_preview_and_history(page, app_url):
    print(f"\nscreenshots: {SHOTS}")
    page.goto(f"{app_url}/library")
    page.get_by_text("New collection").click()
    page.get_by_label("Name").fill("Deal Room")
    page.get_by_role("button", name="Create").click()
    page.locator('input[type="file"]').set_input_files(str(SAMPLE_DOCS / "contract.pdf"))
    page.get_by_role("button", name="Ingest 1 file(s)").click()
    page.get_by_text("Done: 1 document, 0 failed").wait_for()
    page.locator('[data-testid="stDataFrame"]').wait_for()  # the documents table
    _shot(page, "1-library")

    page.get_by_role("link", name="Ask").click()
    box = _chat_input_enabled(page, ENGINE_LOAD_S)
    page.evaluate(RECORD_ANSWER_TEXTS)
    # A question whose answer runs to a few dozen tokens, so that it visibly streams.
    box.fill("What is the monthly fee, and what happens when a payment is late?")
    box.press("Enter")
    page.get_by_text("mode · cpu ·").wait_for(timeout=ANSWER_S * 1000)
    answer = page.locator('[data-testid="stChatMessage"]').last
    final = answer.locator('[data-testid="stMarkdownContainer"]').first.inner_text()
    assert "18,750" in final  # the contract's fee
    # What the page showed while the answer came in: it streamed, in visible pieces.
    shown = page.evaluate("window.answerTexts")
    print(f"answer displayed in {len(shown)} pieces, first {shown[0]!r}")
    assert len(shown) >= 2 and len(shown[0]) < len(shown[-1])
    chip = answer.locator('[data-testid="stButtonGroup"] button', has_text="p.1").first
    chip.click()  # the contract's page 1: where the fee is
    preview = page.locator('[data-testid="stImage"] img').first
    preview.wait_for()
    assert preview.evaluate("img => img.naturalWidth") >= 600  # the page, rendered
    assert page.get_by_text("contract.pdf p.1").count() >= 1
    _shot(page, "2-ask")

    page.get_by_role("link", name="History").click()
    page.get_by_text("what happens when a payment is late?").first.wait_for()
    page.locator('[data-testid="stButtonGroup"] button', has_text="p.1").first.wait_for()
    _shot(page, "3-history")

    page.get_by_role("link", name="Reports").click()
    page.get_by_text("Stored reports").wait_for()
    page.get_by_role("button", name="Run report").click()  # the page's starting spec
    page.get_by_text("questions answered").first.wait_for(timeout=ANSWER_S * 1000)
    page.get_by_text("Key facts").first.wait_for()  # the report itself, shown in the page
    _shot(page, "4-reports")


def _ask(page, question: str) -> None:
    box = _chat_input_enabled(page, ENGINE_LOAD_S)
    box.fill(question)
    box.press("Enter")


def _wait_turns(page, count: int) -> None:
    """Until `count` answers (or errors) show their usage footer."""
    footers = page.locator('[data-testid="stCaptionContainer"]', has_text="mode · cpu ·")
    deadline = time.monotonic() + ANSWER_S
    while footers.count() < count:
        assert time.monotonic() < deadline, "no answer in time"
        page.wait_for_timeout(500)


def test_follow_up_reload_and_two_sessions_with_stop_and_queue(page, app_url):
    # The first test made "Deal Room" with the contract; a new session picks it (only one).
    page.goto(app_url)
    _ask(page, "What is the monthly fee?")
    page.get_by_text("mode · cpu ·").wait_for(timeout=ANSWER_S * 1000)
    _ask(page, "By how much may it be increased, and how often?")
    _wait_turns(page, 2)
    follow_up = page.locator('[data-testid="stChatMessage"]').last.inner_text()
    assert "4" in follow_up and ("%" in follow_up or "percent" in follow_up)
    _shot(page, "5-follow-up")
    address = page.url
    assert "chat=" in address
    page.reload()  # the chat survives: both turns come back from the database
    page.get_by_text("By how much may it be increased").wait_for()
    assert page.get_by_text("What is the monthly fee?").count() >= 1

    # Two sessions: A asks for a long answer, B asks meanwhile and waits in line; A stops.
    context_b = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    other = context_b.new_page()
    other.set_default_timeout(60_000)
    page.get_by_role("button", name="New chat").click()
    page.wait_for_function("() => !location.search.includes('chat=') && "
                           "!document.querySelector('[data-testid=\"stChatMessage\"]')")
    _ask(page, "Summarise every clause of the agreement in detail, one paragraph per clause.")
    stop = page.locator('[data-testid="stChatMessage"]').last.get_by_role("button", name="Stop")
    stop.wait_for()  # A's question is being answered
    other.goto(app_url)
    _ask(other, "What is the one-time onboarding fee?")
    try:
        other.get_by_text("Waiting for 1 question ahead").wait_for(timeout=30_000)
    finally:
        _shot(other, "6-waiting")
    started = time.monotonic()
    stop.click()
    page.get_by_text("stopped by the user").wait_for(timeout=60_000)
    _shot(page, "7-stopped")
    other.get_by_text("waited").wait_for(timeout=ANSWER_S * 1000)
    freed_s = time.monotonic() - started
    answer = other.locator('[data-testid="stChatMessage"]').last.inner_text()
    print(f"second session answered {freed_s:.1f} s after Stop: {answer[:200]!r}")
    assert "6,400" in answer
    _shot(other, "8-second-session")
    context_b.close()


HOSTILE = "Evil ![x](http://127.0.0.1:9/track.png) [link](http://127.0.0.1:9/l) <b>bold</b> " \
          ":red[red] $x^2$"


def test_hostile_names_render_as_text_and_fetch_nothing(page, app_url):
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{app_url}/library")
    page.get_by_text("New collection").click()
    page.get_by_label("Name").fill(HOSTILE)
    page.get_by_role("button", name="Create").click()
    page.get_by_text("Add documents to").wait_for()
    question = "What is <b>this</b> ![q](http://127.0.0.1:9/q.png) :red[now]?"
    for name in ("Library", "Ask", "History", "Reports"):
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=name, exact=True).wait_for()
        if name == "Ask":
            _ask(page, question)  # an empty collection: an error answer, titled chat
            _wait_turns(page, 1)
        page.wait_for_timeout(1000)
        _shot(page, f"9-hostile-{name.lower()}")
        body = page.locator("body")
        shown = body.inner_text().replace("\u200b", "")  # literal() breaks bare URLs with it
        if name == "Library":  # its heading names the collection, shown as text
            assert "Evil ![x](http://127.0.0.1:9/track.png)" in shown
        assert page.locator('img[src*="127.0.0.1:9"], a[href*="127.0.0.1:9"]').count() == 0
        assert page.locator("b", has_text="bold").count() == 0, name
        assert page.locator(".katex").count() == 0, name
        red = page.locator('[data-testid="stMarkdownContainer"] span', has_text="red")
        assert all("color" not in (red.nth(i).get_attribute("style") or "")
                   for i in range(red.count())), name
    assert not [url for url in fetched if ":9/" in url], fetched
