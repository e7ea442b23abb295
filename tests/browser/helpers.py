"""What the browser tests share: signing in, collecting page problems, the phone-width check."""
from __future__ import annotations


def watch(page, problems: list[str]) -> None:
    """Collect JS errors, 5xx answers and missing static files into ``problems``."""
    page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 500 or ("/static/" in r.url and r.status >= 400) else None)


def sign_in(page, base: str, email: str, password: str, *, next_path: str = "") -> None:
    page.goto(base + "/accounts/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def no_horizontal_scroll(page) -> None:
    # against the configured width: a phone browser widens its layout viewport (innerWidth) to
    # content that overflows, so innerWidth alone would hide the problem
    screen = page.viewport_size["width"]
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= screen and width[1] <= screen, f"{page.url} is wider than the {screen} px screen: {width}"
