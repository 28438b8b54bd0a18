"""Pages in a fresh browser context per test (the browser is shared, see tests/)."""

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
