"""The dashboard shell in a real browser: sign in, sidebar, theme and language persisted on the
user, and the hamburger menu on a phone-sized screen."""
from __future__ import annotations

import re

import pytest

from .conftest import SCREENSHOTS

# django_db only makes pytest-django create the test database when these tests run alone; the
# data the server uses is committed by the session fixtures before the test's transaction opens.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _watch(page, problems: list[str]) -> None:
    page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status >= 400 else None)


def _sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/")
    assert "/accounts/login/" in page.url
    page.screenshot(path=str(SCREENSHOTS / "login-dark.png"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.url == base + "/"


def test_shell_theme_language_and_mobile_menu(shell_server, demo_admin, browser):
    from playwright.sync_api import expect

    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _watch(page, problems)
    _sign_in(page, shell_server, *demo_admin)

    html = page.locator("html")
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    expect(html).to_have_attribute("lang", "pt-br")
    # the sidebar shows the entries the Admin may use, with icons rendered by lucide
    sidebar = page.locator("#sidebar")
    expect(sidebar.locator("a[data-nav=overview]")).to_be_visible()
    expect(sidebar.locator("a[data-nav=company]")).to_be_visible()
    expect(sidebar.locator("a[data-nav=overview]")).to_have_attribute("aria-current", "page")
    expect(sidebar.locator("a[data-nav=overview] svg.lucide")).to_have_count(1)
    expect(page.get_by_test_id("tenant-brand").first).to_contain_text("3A Frios")
    # the tenant's colour reaches the CSS (a real computed style, so app.css loaded)
    background = page.locator("#sidebar a[data-nav=overview]").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)"), background
    page.screenshot(path=str(SCREENSHOTS / "shell-dark-1280.png"), full_page=True)
    page.goto(shell_server + "/settings/company/")
    expect(page.locator("input[name=primary_color]")).to_have_value("#7C3AED")
    page.screenshot(path=str(SCREENSHOTS / "company-dark-1280.png"), full_page=True)
    page.goto(shell_server + "/")

    # dark -> light, saved on the user in the background
    with page.expect_response(lambda r: r.url.endswith("/preferences/") and r.status == 204):
        page.get_by_test_id("theme-toggle").click()
    expect(html).to_have_class(re.compile(r"\blight\b"))

    # Portuguese -> English through the language menu
    page.get_by_test_id("language-switch").click()
    english = page.locator("button[name=language][value=en]")
    expect(english).to_be_visible()
    with page.expect_navigation():
        english.click()

    page.reload()
    expect(html).to_have_class(re.compile(r"\blight\b"))
    expect(html).to_have_attribute("lang", "en")
    # an Admin's home is the store's Visão Geral (in English now)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")
    page.screenshot(path=str(SCREENSHOTS / "shell-light-1280.png"), full_page=True)

    # a phone: the sidebar hides behind the hamburger button
    phone = browser.new_context(viewport={"width": 375, "height": 812}, storage_state=context.storage_state(),
                                is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    _watch(mobile, problems)
    mobile.goto(shell_server + "/")
    expect(mobile.locator("html")).to_have_class(re.compile(r"\blight\b"))
    mobile_sidebar = mobile.locator("#sidebar")
    expect(mobile_sidebar).not_to_be_in_viewport()
    hamburger = mobile.get_by_test_id("hamburger")
    expect(hamburger).to_be_visible()
    box = hamburger.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box
    hamburger.click()
    expect(mobile_sidebar).to_be_in_viewport()
    expect(mobile_sidebar.locator("a[data-nav=overview]")).to_be_visible()
    expect(mobile_sidebar.locator("a[data-nav=company]")).to_be_visible()
    mobile.wait_for_timeout(300)  # let the slide-in finish for the screenshot
    mobile.screenshot(path=str(SCREENSHOTS / "shell-light-375-menu.png"))
    mobile.keyboard.press("Escape")
    expect(mobile_sidebar).not_to_be_in_viewport()

    # back to dark to look at the phone layout in the default theme
    with mobile.expect_response(lambda r: r.url.endswith("/preferences/") and r.status == 204):
        mobile.get_by_test_id("theme-toggle").click()
    mobile.reload()
    expect(mobile.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    mobile.screenshot(path=str(SCREENSHOTS / "shell-dark-375.png"), full_page=True)
    mobile.get_by_test_id("hamburger").click()
    expect(mobile_sidebar).to_be_in_viewport()
    mobile.wait_for_timeout(300)
    mobile.screenshot(path=str(SCREENSHOTS / "shell-dark-375-menu.png"))
    mobile.goto(shell_server + "/settings/company/")
    mobile.screenshot(path=str(SCREENSHOTS / "company-dark-375.png"), full_page=True)

    phone.close()
    context.close()
    assert not problems, problems
