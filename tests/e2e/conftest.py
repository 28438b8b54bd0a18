"""Headless Chromium (Debian's own binary) for tests that drive real pages."""

from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Per test: Playwright's event loop must be gone before the database flush."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh browser context and page; Django's ORM stays usable meanwhile.

    Playwright's sync API keeps an event loop running in this thread, which
    Django's async-safety check mistakes for async code.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
