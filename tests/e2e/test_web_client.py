"""The web client in a real browser (Debian's headless Chromium, driven by Selenium): a new
user signs up, browses trending, opens a movie, favorites and rates it, sees recommendations
with their reasons, gets a notification live after a trending refresh, signs out and finds the
old session refused. With WEB_SCREENSHOTS_DIR set (make screenshots) the main pages are saved
there."""

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD, opening_soon, refresh_after_time_passes

DESKTOP = (1280, 900)
PHONE = (390, 844)


def _binary(*names: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    pytest.fail(f"{names[0]} is missing: make test installs Debian's chromium and chromium-driver")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = _binary("chromium", "chromium-browser")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_binary("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _until(condition: Callable[[], object], within_s: float, what: str) -> object:
    deadline = time.monotonic() + within_s
    while True:
        try:
            if found := condition():
                return found
        except WebDriverException:
            pass  # the page is being redrawn
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {within_s} s")
        time.sleep(0.1)


def _element(browser: WebDriver, css: str, within_s: float = 10) -> WebElement:
    try:
        found = _until(lambda: browser.find_elements(By.CSS_SELECTOR, css), within_s, css)
    except AssertionError as missing:  # say what the page shows instead
        shown = browser.execute_script(
            "return [location.href, document.getElementById('banner')?.innerText,"
            " document.querySelector('main')?.innerText?.slice(0, 300)]"
        )
        logs = [e["message"] for e in browser.get_log("browser")][-5:]
        raise AssertionError(f"{missing}; the page: {shown}; its console: {logs}") from None
    assert isinstance(found, list)
    return found[0]  # type: ignore[no-any-return]


def _click(browser: WebDriver, by: str, selector: str, within_s: float = 10) -> None:
    """Clicks what the page shows now: an element found just before a redraw is stale, so it is
    found again until the click lands."""

    def click() -> bool:
        browser.find_element(by, selector).click()
        return True

    _until(click, within_s, f"a click on {selector}")


def _shot(browser: WebDriver, name: str, size: tuple[int, int] = DESKTOP) -> None:
    directory = os.environ.get("WEB_SCREENSHOTS_DIR")
    if not directory:
        return
    browser.set_window_size(*size)
    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)  # images drawn at the new size
    Path(directory).mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(Path(directory) / f"{name}.png"))
    browser.set_window_size(*DESKTOP)


def _images_loaded(browser: WebDriver) -> bool:
    return bool(
        browser.execute_script(
            "const imgs = [...document.querySelectorAll('img.poster')];"
            "return imgs.length > 0"
            " && imgs.slice(0, 4).every(i => i.complete && i.naturalWidth > 0)"
            " && imgs.every(i => i.alt);"
        )
    )


def _no_script_errors(browser: WebDriver) -> None:
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
    ]
    assert not errors, errors


def test_a_new_user_in_the_browser(browser: WebDriver, stack: Stack) -> None:
    root = stack.url("gateway")
    email = f"browser-{os.urandom(5).hex()}@example.com"

    browser.get(f"{root}/#/signin")
    _element(browser, "input[name=email]").send_keys("nobody@example.com")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("wrong password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    status = _element(browser, ".form-status.error")
    assert "Invalid email or password" in status.text  # the problem's detail, shown

    browser.get(f"{root}/#/signup")
    _element(browser, "input[name=email]").send_keys(email)
    browser.find_element(By.CSS_SELECTOR, "input[name=display_name]").send_keys("Browser Fan")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _until(lambda: browser.find_elements(By.XPATH, "//button[text()='Sign out']"), 10, "signed in")

    # Trending, with posters that load and say what they show.
    _element(browser, ".grid .card")
    _until(lambda: _images_loaded(browser), 10, "posters")
    _shot(browser, "trending")
    browser.find_element(By.LINK_TEXT, "This week").click()
    # The week's page is drawn (its tab is the current one) before its pager is used.
    _element(browser, "nav.tabs a.active[href='#/?window=week']")
    _click(browser, By.CSS_SELECTOR, ".pager button:last-child")
    _until(lambda: "window=week&page=2" in browser.current_url, 5, "the week's page 2")
    _element(browser, ".grid .card")

    # A movie: favorite it and rate it.
    browser.get(f"{root}/#/movie/50")
    _element(browser, ".detail h1")
    assert browser.find_element(By.CSS_SELECTOR, ".detail h1").text == "Star Wars"
    _element(browser, ".actions")
    _click(browser, By.XPATH, "//button[contains(., 'Favorite')]")
    _until(
        lambda: (
            browser.find_element(By.XPATH, "//button[contains(., 'Favorite')]").get_attribute(
                "aria-pressed"
            )
            == "true"
        ),
        10,
        "the favorite",
    )
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=score]")).select_by_value("9")
    _until(
        lambda: (
            Select(
                browser.find_element(By.CSS_SELECTOR, "select[name=score]")
            ).first_selected_option.text
            == "9.0"
        ),
        10,
        "the rating",
    )
    _shot(browser, "details")
    _shot(browser, "details-phone", PHONE)
    browser.get(f"{root}/#/favorites")
    _until(
        lambda: (
            "Star Wars" in [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".card-title")]
        ),
        10,
        "the favorites list",
    )

    # Recommendations, each with its reasons.
    def reasons() -> list[str]:
        browser.get(f"{root}/#/recommendations")
        browser.refresh()
        _element(browser, "main h1")
        return [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".reasons li")]

    found = _until(lambda: [r for r in reasons() if r.startswith("Because you")], 15, "reasons")
    assert found
    _shot(browser, "recommendations")

    # A notification arrives live: the unread count changes without a reload.
    browser.get(f"{root}/#/notifications")
    _element(browser, "main h1")
    time.sleep(1)  # the stream is open and the user a subscriber
    marker = browser.execute_script("window.__samePage = true; return true;")
    assert marker
    gained: list[int] = []
    for _ in range(5):  # until the week's trending gains titles (the clock is shared)
        if gained := refresh_after_time_passes(stack, days=9)["week"]:
            break
    badge = _until(
        lambda: browser.find_element(By.ID, "unread").text.strip() or None,
        40,
        f"the live badge (the week's trending gained {gained or 'no title'})",
    )
    assert int(str(badge)) >= 1
    assert browser.execute_script("return window.__samePage === true")  # no reload happened
    browser.refresh()
    _element(browser, ".notifications li.unread")
    _shot(browser, "notifications")
    browser.get(f"{root}/#/profile")
    _element(browser, "input[name=display_name]")
    _shot(browser, "profile")

    # Signing out ends the session: its refresh token is refused afterwards.
    refresh_token = browser.execute_script("return sessionStorage.getItem('movies.refresh')")
    assert refresh_token
    _click(browser, By.XPATH, "//button[text()='Sign out']")
    _until(lambda: "#/signin" in browser.current_url, 10, "the sign-in page")
    assert browser.execute_script("return sessionStorage.getItem('movies.refresh')") is None
    refused = httpx.post(f"{root}/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refused.status_code == 401
    browser.get(f"{root}/#/favorites")
    assert "Sign in to see this" in _element(browser, "main h1").text
    _no_script_errors(browser)


def test_the_client_is_served_safely(stack: Stack) -> None:
    page = httpx.get(f"{stack.url('gateway')}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{stack.url('gateway')}/web/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{stack.url('gateway')}/web/../pyproject.toml").status_code == 404
    assert httpx.get(f"{stack.url('gateway')}/api/v1/nope").status_code == 404  # still the API's


def test_imports_and_lists_in_the_browser(browser: WebDriver, stack: Stack) -> None:
    root = stack.url("gateway")
    browser.get(f"{root}/#/signup")
    _element(browser, "input[name=email]").send_keys(f"lists-{os.urandom(5).hex()}@example.com")
    browser.find_element(By.CSS_SELECTOR, "input[name=display_name]").send_keys("List Keeper")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _until(lambda: browser.find_elements(By.XPATH, "//button[text()='Sign out']"), 10, "signed in")

    # An import: upload, live progress, the report with the rows not brought over
    browser.get(f"{root}/#/imports")
    Select(_element(browser, "select[name=source]")).select_by_value("imdb")
    ratings = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "imdb" / "ratings.csv"
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(ratings))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    done = _until(
        lambda: [
            e for e in browser.find_elements(By.CSS_SELECTOR, "li.import") if "done" in e.text
        ],
        30,
        "the import done",
    )
    assert "4 matched" in done[0].text and "4 ratings" in done[0].text  # type: ignore[index]
    _click(browser, By.CSS_SELECTOR, "li.import summary")
    assert "Not a film (TV Series)" in _element(browser, "li.import table").text
    _shot(browser, "imports")

    # A list: made, a title put on it from its page, shown in order
    browser.get(f"{root}/#/lists")
    _element(browser, "input[name=name]").send_keys("Rainy days")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _until(lambda: "#/list/" in browser.current_url, 10, "the new list's page")
    list_url = browser.current_url
    browser.get(f"{root}/#/movie/50")
    Select(_element(browser, "label.rate select:not([name=score])")).select_by_visible_text(
        "Rainy days"
    )
    _until(
        lambda: any(
            o.text == "✓ Rainy days"
            for o in browser.find_elements(By.CSS_SELECTOR, "label.rate select option")
        ),
        10,
        "the title on the list",
    )
    browser.get(list_url)
    assert "Star Wars" in _element(browser, "ol.list-items li").text
    _shot(browser, "list")

    # A webhook: its secret shown once, a test sent, the delivery log (nothing listens there)
    browser.get(f"{root}/#/webhooks")
    _element(browser, "input[name=url]").send_keys("http://127.0.0.1:9/hook")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "whsec_" in _element(browser, "p.secret code").text
    _click(browser, By.XPATH, "//button[text()='Send a test']")
    _until(
        lambda: browser.find_elements(By.XPATH, "//table[@class='deliveries']//td[text()='ping']"),
        10,
        "the ping in the delivery log",
    )
    _no_script_errors(browser)


def test_the_calendar_and_the_users_services_in_the_browser(
    browser: WebDriver, stack: Stack
) -> None:
    root = stack.url("gateway")
    browser.get(f"{root}/#/signup")
    email = f"calendar-{os.urandom(5).hex()}@example.com"
    _element(browser, "input[name=email]").send_keys(email)
    browser.find_element(By.CSS_SELECTOR, "input[name=display_name]").send_keys("Waiter")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _until(lambda: browser.find_elements(By.XPATH, "//button[text()='Sign out']"), 10, "signed in")
    with httpx.Client(base_url=f"{root}/api/v1") as api:
        token = api.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        mine = {"Authorization": f"Bearer {token['access_token']}"}
        # What opens soon as TMDb says now (the catalog's cached list may be from before the
        # other tests moved the sandbox's clock)
        upcoming = opening_soon(stack)
        title = upcoming[len(upcoming) // 2]
        assert api.post("/watchlist", json={"movie_id": title["id"]}, headers=mine).is_success

        # Services and release alerts: saved from the calendar page
        browser.get(f"{root}/#/calendar")
        _click(browser, By.CSS_SELECTOR, "form.services input[name=provider][value='8']")
        _click(browser, By.CSS_SELECTOR, "form.services input[name=notify_releases]")
        _click(browser, By.CSS_SELECTOR, "form.services button[type=submit]")
        _until(
            lambda: api.get("/me", headers=mine).json()["preferences"]["providers"] == [8],
            10,
            "the services saved",
        )
        assert api.get("/me", headers=mine).json()["preferences"]["notify"]["releases"] is True
    browser.get(f"{root}/#/signin")  # away and back: the page drawn afresh
    browser.get(f"{root}/#/calendar")
    row = _until(
        lambda: [
            r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "table.calendar tr.theatrical")
            if title["title"] in r.text
        ],
        10,
        "the title's release in the calendar",
    )
    assert "In cinemas" in row[0]  # type: ignore[index]
    assert _element(browser, "form.services input[name=provider][value='8']").is_selected()
    _shot(browser, "calendar")
    _no_script_errors(browser)


def test_the_web_client_offers_the_services_the_api_accepts() -> None:
    import re

    from shared.providers import PROVIDERS

    script = (Path(__file__).resolve().parents[2] / "web" / "js" / "releases.js").read_text()
    listed = dict(re.findall(r"^\s+(\d+): \"([^\"]+)\",$", script, re.MULTILINE))
    assert {int(k): v for k, v in listed.items()} == PROVIDERS
