"""The app as a user meets it: a real server process on a loopback port, over a real index of
the sample archive, driven by Debian's headless Chromium through Selenium.

Each test loads the page afresh, does what a user would and saves a screenshot of what it saw
under ``test-artifacts/`` (read them: layout, legibility, nothing cut off). The app answers
with the extractive backend here, for speed; the local model is tested in test_llm.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE, Settings
from index.store import IndexStore
from rag.answer import ABSTAIN
from rag.watch import Watchlist
from tests.conftest import NPG_QUESTION, ingest_settled, make_settings
from tests.servers import WAIT, free_port, wait_until_serving
from tests.test_markings import assert_nothing_of
from web.auth import MIN_ITERATIONS, hash_password

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
]
UNANSWERABLE = "How much did the force spend on police helicopters?"
SAMPLE_DATES = ["2024-09-02", "2024-09-20", "2025-01-28"]
# Generous: the first answer loads the embedder and BM25 in the server. Waits, not assertions.


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:
    """A fresh index of the sample archive that this module's server may write to."""
    settings = make_settings(tmp_path_factory.mktemp("app"))
    ingest_settled(settings, embedder, [SAMPLE_ARCHIVE])
    return settings


@pytest.fixture(scope="module")
def server(app_settings: Settings) -> Iterator[str]:
    with running_app(app_settings) as url:
        yield url


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, server: str) -> WebDriver:
    """The app freshly loaded, once the archive summary shows it has read the index."""
    browser.get(server)
    until(browser, lambda d: "meetings" in d.find_element(By.ID, "archive-summary").text)
    return browser


def test_ask_shows_the_answer_and_its_28_january_2025_citation(page: WebDriver):
    ask(page, NPG_QUESTION)
    answer = page.find_element(By.ID, "answer").text
    screenshot(page, "01-ask-npg-answer")
    assert ABSTAIN not in answer
    assert "[1]" in answer
    labels = [label.text for label in source_labels(page)]
    assert any(
        "2025-01-28" in text and "7. Neighbourhood Policing Guarantee" in text for text in labels
    ), labels


def test_opening_a_citation_highlights_the_quote_in_its_item(page: WebDriver):
    ask(page, NPG_QUESTION)
    npg = next(
        label
        for label in source_labels(page)
        if "7. Neighbourhood Policing Guarantee" in label.text
    )
    npg.click()
    mark = until(page, lambda d: d.find_element(By.CSS_SELECTOR, "#citation mark"))
    heading = page.find_element(By.CSS_SELECTOR, "#citation h4").text
    screenshot(page, "02-citation-highlighted")
    assert "2025-01-28" in heading and "7. Neighbourhood Policing Guarantee" in heading
    quote = " ".join(mark.text.split())
    assert len(quote) > 20
    assert quote in " ".join(sample_text("002_38b18e688a9d200f.txt").split())
    assert (
        "Neighbourhood Policing Guarantee" in page.find_element(By.CSS_SELECTOR, "#citation").text
    )


def test_unanswerable_question_abstains_and_lists_the_meetings_searched(page: WebDriver):
    ask(page, UNANSWERABLE)
    answer = page.find_element(By.ID, "answer")
    searched = [item.text for item in answer.find_elements(By.CSS_SELECTOR, "li")]
    screenshot(page, "03-abstention")
    assert ABSTAIN in answer.text
    assert "Meetings searched" in answer.text
    assert [date for date in SAMPLE_DATES if any(date in line for line in searched)] == SAMPLE_DATES
    assert not [e for e in page.find_elements(By.ID, "sources") if e.is_displayed()]


def test_empty_upload_is_named_in_the_error_and_the_archive_is_unchanged(
    page: WebDriver, tmp_path: Path, app_settings: Settings
):
    empty = tmp_path / "empty-minutes.txt"
    empty.write_bytes(b"")
    open_tab(page, "Upload")
    page.find_element(By.CSS_SELECTOR, "#upload-files input[type=file]").send_keys(str(empty))
    until(page, lambda d: "empty-minutes" in d.find_element(By.ID, "upload-files").text)
    page.find_element(By.ID, "upload-button").click()
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-report li"))
    report = page.find_element(By.ID, "upload-report").text
    screenshot(page, "04-upload-empty-file-error")
    assert "failed" in report and "empty-minutes.txt" in report
    assert not (app_settings.data_dir / "uploads" / "empty-minutes.txt").exists()

    open_tab(page, "Meetings")
    rows = until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#meeting-table div[role=row]"))
    screenshot(page, "05-meetings-after-failed-upload")
    assert [row.text[:10] for row in rows] == SAMPLE_DATES
    assert "3 meetings" in page.find_element(By.ID, "archive-summary").text


def test_meeting_briefing_previews_and_downloads(page: WebDriver, downloads: Path):
    open_tab(page, "Briefings")
    page.find_element(By.CSS_SELECTOR, "#brief-meeting input").click()
    until(
        page,
        lambda d: d.find_element(By.XPATH, "//ul[@role='listbox']/li[contains(., '2025-01-28')]"),
    ).click()
    page.find_element(By.ID, "brief-button").click()
    title = until(page, lambda d: d.find_element(By.CSS_SELECTOR, "#brief-preview h3"))
    screenshot(page, "06-meeting-briefing-preview")
    assert "2025-01-28" in title.text
    assert "[1]" in page.find_element(By.ID, "brief-preview").text

    page.find_element(By.ID, "brief-md").click()
    markdown = until(page, lambda d: finished_downloads(downloads, ".md"))[0]
    lines = markdown.read_text(encoding="utf-8").splitlines()
    assert lines[0] == lines[-1] == "**OFFICIAL SENSITIVE - OPERATIONAL**"  # item 7 is quoted
    assert lines[2].startswith("# Briefing: 1:1 PCC")

    page.find_element(By.ID, "brief-docx").click()
    word = until(page, lambda d: finished_downloads(downloads, ".docx"))[0]
    text = "\n".join(p.text for p in docx.Document(str(word)).paragraphs)
    assert "2025-01-28" in text and "7. Neighbourhood Policing Guarantee" in text


def test_an_auth_file_puts_the_app_behind_a_login(
    browser: WebDriver, app_settings: Settings, tmp_path: Path
):
    auth = tmp_path / "users.txt"
    auth.write_text(f"alice:{hash_password('a-secret', iterations=MIN_ITERATIONS)}\n")
    with running_app(app_settings, "--auth", str(auth)) as url:
        browser.get(url)
        log_in(browser, "alice", "not-the-password")
        until(browser, lambda d: "incorrect" in d.find_element(By.TAG_NAME, "body").text.lower())
        screenshot(browser, "00-login-refused")
        assert not browser.find_elements(By.ID, "archive-summary")
        log_in(browser, "alice", "a-secret")
        summary = until(browser, lambda d: d.find_element(By.ID, "archive-summary").text)
        assert "3 meetings" in summary


def test_a_user_without_clearance_sees_no_text_of_the_marked_item_anywhere(
    browser: WebDriver, app_settings: Settings, tmp_path: Path
):
    """bob (OFFICIAL, the default) asks about item 7 of 28 January 2025, which is marked
    Official Sensitive: nothing of it in the answer, sources, searched list, briefing,
    register or meetings view; carol, cleared OFFICIAL-SENSITIVE, sees it cited."""
    meeting = next(m for m in IndexStore(app_settings).catalog.meetings() if m.date == "2025-01-28")
    secret = hash_password("pw", iterations=MIN_ITERATIONS)
    auth = tmp_path / "users.txt"
    auth.write_text(f"bob:{secret}\ncarol:{secret}:OFFICIAL-SENSITIVE\n")
    with running_app(app_settings, "--auth", str(auth)) as url:
        browser.get(url)
        log_in(browser, "bob", "pw")
        until(browser, lambda d: "meetings" in d.find_element(By.ID, "archive-summary").text)
        ask(browser, NPG_QUESTION)
        seen = [browser.find_element(By.ID, "answer").text]
        seen += [label.text for label in source_labels(browser)]
        screenshot(browser, "08-uncleared-ask")

        open_tab(browser, "Briefings")
        browser.find_element(By.CSS_SELECTOR, "#brief-meeting input").click()
        until(
            browser,
            lambda d: d.find_element(
                By.XPATH, "//ul[@role='listbox']/li[contains(., '2025-01-28')]"
            ),
        ).click()
        browser.find_element(By.ID, "brief-button").click()
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#brief-preview h3"))
        seen.append(browser.find_element(By.ID, "brief-preview").text)

        open_tab(browser, "Register")
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#register-table div[role=row]"))
        seen.append(browser.find_element(By.ID, "register-table").text)

        open_tab(browser, "Meetings")
        browser.find_element(By.CSS_SELECTOR, "#meeting-pick input").click()
        until(
            browser,
            lambda d: d.find_element(
                By.XPATH, "//ul[@role='listbox']/li[contains(., '2025-01-28')]"
            ),
        ).click()
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#meeting-view h3"))
        for summary in browser.find_elements(By.CSS_SELECTOR, "#meeting-view summary"):
            summary.click()
        seen.append(browser.find_element(By.ID, "meeting-view").text)
        screenshot(browser, "09-uncleared-meeting-view")
        seen.append(browser.page_source)
        everything = "\n".join(seen)
        assert "8. Responding to the Public" in everything  # the rest is there
        assert_nothing_of(meeting.item("7"), everything)

        browser.delete_all_cookies()
        browser.get(url)
        log_in(browser, "carol", "pw")
        until(browser, lambda d: "meetings" in d.find_element(By.ID, "archive-summary").text)
        ask(browser, NPG_QUESTION)
        labels = [label.text for label in source_labels(browser)]
        assert any("7. Neighbourhood Policing Guarantee" in text for text in labels), labels


def test_monitoring_is_off_and_the_servers_files_are_private(server: str, app_settings: Settings):
    for path in ("gradio_api/monitoring", "gradio_api/monitoring/summary", "monitoring"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server + path, timeout=30)
        assert refused.value.code in (403, 404), path
    index = app_settings.index_path
    assert index.stat().st_mode & 0o077 == 0
    assert (index / "catalog.sqlite").stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def running_app(settings: Settings, *args: str) -> Iterator[str]:
    """``python app.py ARGS`` on a free loopback port over ``settings``' index; yields its URL."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUORUM_")}
    env.update(
        QUORUM_DATA_DIR=str(settings.data_dir),
        QUORUM_INDEX=str(settings.index_path),
        QUORUM_LLM="extractive",
    )
    log_path = settings.data_dir / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "app.py"), "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_serving(url, process, log_path)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def until(driver: WebDriver, condition):
    """Wait for ``condition(driver)`` to be truthy (Selenium retries missing elements)."""
    return WebDriverWait(driver, WAIT).until(condition)


def open_tab(driver: WebDriver, name: str) -> None:
    driver.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{name}']").click()


def ask(driver: WebDriver, question: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, "#question textarea")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, "ask-button").click()
    until(
        driver,
        lambda d: (
            "Meetings searched" in d.find_element(By.ID, "answer").text
            or d.find_elements(By.CSS_SELECTOR, "#sources label")
        ),
    )


def log_in(driver: WebDriver, user: str, password: str) -> None:
    name = until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[type=text]"))
    secret = driver.find_element(By.CSS_SELECTOR, "input[type=password]")
    for field, value in ((name, user), (secret, password)):
        field.clear()
        field.send_keys(value)
    driver.find_element(By.XPATH, "//button[normalize-space()='Login']").click()


def source_labels(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#sources label")


def finished_downloads(folder: Path, suffix: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix == suffix and p.stat().st_size > 0]


def sample_text(name: str) -> str:
    return (SAMPLE_ARCHIVE / name).read_text(encoding="utf-8")


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page, not just the window, so nothing below the fold goes unseen."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def test_a_topic_watched_in_the_app_is_quoted_after_an_upload_that_raises_it(
    page: WebDriver, app_settings: Settings
):
    """Last in this file: it adds a meeting to the shared index."""
    open_tab(page, "Watch")
    topic = until(page, lambda d: d.find_element(By.CSS_SELECTOR, "#watch-topic textarea"))
    topic.send_keys("knife crime")
    page.find_element(By.ID, "watch-add").click()
    until(
        page,
        lambda d: (
            not d.find_element(By.CSS_SELECTOR, "#watch-topic textarea").get_attribute("value")
        ),
    )
    assert [t.topic for t in Watchlist(app_settings.index_path).topics()] == ["knife crime"]

    open_tab(page, "Upload")
    minutes = PROJECT_ROOT / "data" / "corpus" / "minutes" / "essex_pfcp_2017-06-01.txt"
    page.find_element(By.CSS_SELECTOR, "#upload-files input[type=file]").send_keys(str(minutes))
    until(page, lambda d: "essex_pfcp" in d.find_element(By.ID, "upload-files").text)
    page.find_element(By.ID, "upload-button").click()
    report = until(
        page,
        lambda d: (
            "New on watched topics" in d.find_element(By.ID, "upload-report").text
            and d.find_element(By.ID, "upload-report").text
        ),
    )
    screenshot(page, "08-upload-raises-a-watched-topic")
    assert "knife crime: " in report and "2017-06-01" in report and "[1]" in report

    open_tab(page, "Watch")
    digest = (
        until(page, lambda d: "knife crime" in d.find_element(By.ID, "watch-digest").text and d)
        .find_element(By.ID, "watch-digest")
        .text
    )
    screenshot(page, "09-watch-digest")
    assert "Watch digest" in digest and "knife" in digest.split("knife crime:", 1)[1]
