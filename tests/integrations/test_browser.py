"""The live preview and a built MkDocs page in a real, headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (CI installs them); without them these tests
skip and say so, unless ARCHSPEC_REQUIRE_BROWSER=1 (set in CI), where a missing browser fails.
Screenshots go to ``test-artifacts/browser/`` (git-ignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integrations.serving import serving
from tests.integrations.test_mkdocs import build, make_site

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000")


def _missing(reason: str) -> None:
    if os.environ.get("ARCHSPEC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and ARCHSPEC_REQUIRE_BROWSER=1")
    pytest.skip(f"{reason} (CI installs them: apt-get install -y chromium chromium-driver)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                     if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        _missing("Chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()


def _screenshot(browser: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _wait(browser: Any, script: str, timeout: float = 10.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda b: b.execute_script(script))


def _svg_texts(browser: Any, selector: str) -> list[str]:
    return list(browser.execute_script(
        f"return [...document.querySelectorAll('{selector} svg text')].map(t => t.textContent.trim())"))


def test_the_preview_follows_edits_without_a_reload(browser, lenet_copy):
    with serving(lenet_copy) as served:
        browser.get(served.url)
        _wait(browser, "return document.getElementById('main').dataset.version === '1'")
        assert "conv1" in _svg_texts(browser, "#figure-graph")
        assert browser.find_element("id", "errors").is_displayed() is False
        browser.execute_script("window.notReloaded = true")
        _screenshot(browser, "serve-1-first")

        lenet_copy.write_text(lenet_copy.read_text().replace("linear: 84", "{linear: 84, name: penultimate}"))
        _wait(browser, "return document.getElementById('main').dataset.version === '2'")
        assert "penultimate" in _svg_texts(browser, "#figure-graph")
        assert browser.execute_script("return window.notReloaded") is True, "the page was reloaded"
        _screenshot(browser, "serve-2-edited")

        browser.find_element("id", "show-volumes").click()
        assert browser.find_element("id", "figure-volumes").is_displayed()
        assert not browser.find_element("id", "figure-graph").is_displayed()
        _screenshot(browser, "serve-3-volumes")

        lenet_copy.write_text(lenet_copy.read_text().replace("kernel: 5", "kernal: 5", 1))
        _wait(browser, "return !document.getElementById('errors').hidden")
        errors = browser.find_element("id", "error-text").text
        assert "error: unknown key 'kernal'" in errors and "^~~~~~" in errors and "did you mean 'kernel'" in errors
        browser.find_element("id", "show-graph").click()
        assert "penultimate" in _svg_texts(browser, "#figure-graph"), "the last good figure stays"
        assert browser.execute_script("return window.notReloaded") is True
        _screenshot(browser, "serve-4-broken")
        status, _ = served.stop()
    assert status == 0


def test_a_built_mkdocs_page_shows_the_figure_and_its_layer_labels(browser, tmp_path):
    site = make_site(tmp_path, {"index.md": "# LeNet\n\n```archspec\nspec: lenet5\nsummary: true\n```\n\n"
                                             "```archspec\nspec: lenet5\nstyle: volumes\n```\n"})
    result = build(site)
    assert result.returncode == 0, result.stderr
    browser.get((site / "site" / "index.html").as_uri())
    labels = _svg_texts(browser, ".archspec-figure")
    assert {"conv1", "avgpool1", "fc1", "FC 120"} <= set(labels), labels
    figures = browser.execute_script(
        "return [...document.querySelectorAll('.archspec-figure svg')].map(s => s.getBoundingClientRect().width)")
    assert len(figures) == 2 and all(width > 100 for width in figures), figures
    assert "61,706 parameters" in browser.find_element("css selector", ".archspec-summary").text
    _screenshot(browser, "mkdocs-page")
