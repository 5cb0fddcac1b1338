"""The report page in a real browser: Debian's chromium, headless, driven by chromedriver.

The page of six weeks of a desk (``sandbox.demo.history``) is opened from a file: no console
error, no network request at all, every chart drawn (a non-empty SVG with its title), no
sideways scrolling on a phone, and it prints. Screenshots are saved for people to look at:
tests/output/report-page.png (desktop) and report-page-phone.png.

Never skipped: without chromium or chromedriver (scripts/setup.sh installs both) it fails.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from mailer.cli.main import main
from sandbox.demo import history

OUTPUT = Path(__file__).resolve().parents[1] / "output"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
TITLES = [
    "Weekly volume: opened vs resolved",
    "SLA attainment per week",
    "Time to resolution",
    "Satisfaction",
    "Backlog at the end of each week, by age",
]


@pytest.fixture(scope="module", name="page")
def _page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("desk")
    config = history.fill(directory)
    page = directory / "report.html"
    argv = ["--config", str(config), "report", "--since", "2025-11-10", "--until", "2025-12-22"]
    assert main([*argv, "--html", str(page)]) == 0
    return page


@pytest.fixture(name="browser")
def _browser() -> Iterator[webdriver.Chrome]:
    for program in (CHROMIUM, CHROMEDRIVER):
        if not Path(program).exists():
            pytest.fail(f"{program} is missing: run scripts/setup.sh (chromium, chromium-driver)")
    profile = tempfile.mkdtemp(prefix="mailer-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requests_made(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_page_opens_offline_with_every_chart_drawn(
    browser: webdriver.Chrome, page: Path
) -> None:
    url = page.as_uri()
    browser.get("about:blank")
    requests_made(browser)  # what the browser did on its own before: not the page's
    browser.get(url)
    assert browser.title.endswith("service report")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    made = requests_made(browser)
    assert url in made and [u for u in made if u != url] == []  # nothing fetched but the page

    figures = browser.find_elements(By.CSS_SELECTOR, "figure svg")
    assert len(figures) == len(TITLES)
    for svg, title in zip(figures, TITLES, strict=True):
        assert svg.find_element(By.TAG_NAME, "title").get_attribute("textContent") == title
        assert svg.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
        assert len(svg.find_elements(By.CSS_SELECTOR, "path")) >= 10  # bars, lines, axes, ticks
        box = svg.size
        assert box["width"] > 300 and box["height"] > 120, box
        labels = browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('text')).map(t => t.textContent)", svg
        )
        assert title in labels  # the chart's own title, drawn as text
    assert browser.find_elements(By.CSS_SELECTOR, "h3")  # a table per team

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 120, 8000))
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "report-page.png"))


def test_the_page_fits_a_phone_and_prints(browser: webdriver.Chrome, page: Path) -> None:
    browser.set_window_size(390, 844)
    browser.get(page.as_uri())
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0  # wide tables scroll inside their box; the page never sideways
    for svg in browser.find_elements(By.CSS_SELECTOR, "figure svg"):
        assert 250 < svg.size["width"] <= 390
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "report-page-phone.png"))
    printed = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
    pdf = base64.b64decode(printed["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 20000
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
