"""`rostering-advisor serve` in a real browser: Debian's headless Chromium through Selenium
(chromium-driver), against one server for the whole module on a free loopback port, over a
temporary copy of the tests' rules (edited on disk by the playground test) with `--reload`.

A district answers by clicking and sees the standing change and "Settled." appear, downloads its
answers file and loads it in `recommend`; the questionnaire is completed with the keyboard alone;
the playground follows a rule file edited on disk; axe-core finds no serious or critical
accessibility violation on the questionnaire, the playground and an advice page. Screenshots go to
the test's temporary folder. Skipped where Chromium or its driver is absent (`.ci/run` installs them).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from engine import Advisor

from .conftest import FIXTURES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None, reason="Chromium or its driver is not installed (apt-get install chromium chromium-driver)"
)
WAIT = 20.0  # seconds a page may take to show what a step expects (a ceiling, never a measurement)


class Site:
    """The running server: its URL and the folders it serves."""

    def __init__(self, url: str, rules: Path, shots: Path, downloads: Path) -> None:
        self.url, self.rules, self.shots, self.downloads = url, rules, shots, downloads


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("serve")
    rules = shutil.copytree(FIXTURES / "rules", root / "rules")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "engine", "serve", "--rules", str(rules), "--templates", str(FIXTURES / "templates"),
               "--examples", str(FIXTURES / "examples"), "--port", str(port), "--reload"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _health(url) is not None or process.poll() is not None)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        yield Site(url, rules, root / "screenshots", root / "downloads")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    site.shots.mkdir()
    site.downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(site.downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER or ""))
    try:
        yield driver
    finally:
        driver.quit()


def test_answering_by_clicking_moves_the_standing_until_settled_and_the_answers_file_loads(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/")
    standing = browser.find_element(By.ID, "standing")
    browser.find_element(By.ID, "district_name").send_keys("Cedar <b>Ridge</b> Schools")
    browser.find_element(By.CSS_SELECTOR, "label[for='a-sftp_daily-yes']").click()
    _until(lambda: "could still change it" in standing.text)
    before = standing.text
    browser.find_element(By.CSS_SELECTOR, "label[for='a-sis_changing-yes']").click()
    _until(lambda: "Settled." in standing.text)
    assert standing.text != before
    browser.save_screenshot(str(site.shots / "questionnaire-settled.png"))

    browser.set_window_size(390, 844)  # a phone: one column, nothing wider than the screen
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.save_screenshot(str(site.shots / "questionnaire-phone.png"))
    browser.set_window_size(1280, 1000)

    browser.find_element(By.ID, "get-advice").click()
    _until(lambda: browser.find_element(By.TAG_NAME, "h1").text.startswith("Advice for"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Advice for Cedar <b>Ridge</b> Schools"
    browser.save_screenshot(str(site.shots / "advice.png"))
    browser.find_element(By.ID, "download-answers").click()
    path = site.downloads / "answers.yaml"
    _until(path.is_file)
    advisor = Advisor.load(site.rules)
    district = advisor.read(path)
    assert district.name == "Cedar <b>Ridge</b> Schools" and district.answers["sis_changing"] == "yes"
    assert advisor.recommend(district).option == "user_import"


def test_the_questionnaire_can_be_completed_with_the_keyboard_alone(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(site.url + "/")
    keys = ActionChains(browser)

    def active() -> Any:
        return browser.switch_to.active_element

    def tab_to(wanted: Callable[[Any], bool], limit: int = 80) -> Any:
        for _ in range(limit):
            keys.send_keys(Keys.TAB).perform()
            if wanted(active()):
                return active()
        raise AssertionError("the keyboard never reached the control")

    name = tab_to(lambda e: e.get_attribute("id") == "district_name")
    assert browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", name) != "none"  # visible focus
    keys.send_keys("Keyboard Unified").perform()
    radio = tab_to(lambda e: e.get_attribute("name") == "answer.sis_changing")
    assert radio.get_attribute("value") == "unknown"
    keys.send_keys(Keys.ARROW_LEFT).perform()  # not sure -> no
    assert active().get_attribute("value") == "no" and active().is_selected()
    button = tab_to(lambda e: e.get_attribute("id") == "get-advice")
    browser.save_screenshot(str(site.shots / "keyboard-focus.png"))
    assert button.text == "Get the advice"
    keys.send_keys(Keys.ENTER).perform()
    _until(lambda: browser.title.startswith("Advice for Keyboard Unified"))


def test_the_playground_follows_a_rule_file_edited_on_disk(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/playground?example=lakeview-unified")
    option = browser.find_element(By.ID, "option").text
    overrides = site.rules / "overrides.yaml"
    text = overrides.read_text(encoding="utf-8")
    overrides.write_text(text.replace("when: {answer: sis_changing, is: yes}", "when: {answer: sis_changing, is: no}", 1), encoding="utf-8")
    try:
        _until(lambda: _text(browser, "option") != option)
        browser.save_screenshot(str(site.shots / "playground-edited.png"))
        assert "sis_in_transition" in browser.find_element(By.ID, "trace").text
        overrides.write_text(text.replace("priority: 10", "priority: [", 1), encoding="utf-8")
        _until(lambda: "the last good rules keep serving" in browser.page_source)
        assert "overrides.yaml:" in browser.find_element(By.ID, "file-problems").text
        browser.save_screenshot(str(site.shots / "playground-problem.png"))
    finally:
        overrides.write_text(text, encoding="utf-8")
    _until(lambda: _text(browser, "option") == option)


@pytest.mark.parametrize("path", ["/", "/playground?example=lakeview-unified", "advice"])
def test_axe_finds_no_serious_or_critical_violation(site: Site, browser: Any, path: str) -> None:
    from axe_selenium_python import Axe
    from selenium.webdriver.common.by import By

    if path == "advice":
        browser.get(site.url + "/")
        browser.find_element(By.ID, "district_name").send_keys("Axe County Schools")
        browser.find_element(By.ID, "get-advice").click()
        _until(lambda: browser.title.startswith("Advice for"))
    else:
        browser.get(site.url + path)
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps(bad, indent=1)
    assert results["passes"], "axe ran no check"


@pytest.mark.parametrize("path", ["/", "/playground?example=lakeview-unified"])
def test_pages_load_without_a_console_error(site: Site, browser: Any, path: str) -> None:
    """No 404 (the browser's /favicon.ico request), no Content-Security-Policy refusal, no script error."""
    browser.get_log("browser")  # what earlier tests left
    browser.get(site.url + path)
    _until(lambda: browser.execute_script("return document.readyState") == "complete")
    assert [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def _text(browser: Any, element_id: str) -> str:
    return browser.find_element("id", element_id).text


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def _until(condition: Callable[[], Any]) -> None:
    """Wait for a condition the page reaches by itself (a fetch, a reload); fail past WAIT."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException

    def reached() -> Any:
        try:
            return condition()
        except (NoSuchElementException, StaleElementReferenceException):  # the page is being replaced
            return False
        except WebDriverException as error:  # Chromium's word for a stale node, as an "unknown error"
            if "does not belong to the document" in str(error):
                return False
            raise

    deadline = time.monotonic() + WAIT
    while not reached():
        if time.monotonic() > deadline:
            raise AssertionError("the page never got there")
        time.sleep(0.05)
