import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Tests must never reach a hub: everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The tier of a test follows from what it uses, so `-m "not browser"` / `-m "not integration"`
# select exactly what they say without anyone remembering to mark a test.
TIER_FIXTURES = {
    "embedded_model": "integration",
    "chromium": "browser",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marker in TIER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def embedded_model():
    import saewidgets as sw

    return sw.load_model()


@pytest.fixture(scope="session")
def _chromium_browser():
    from browser import browser

    with browser() as b:
        yield b


class _Pages:
    """`new_page(**options)` like Playwright's Browser, each page in its own context (own
    storage), all closed when the test ends; the Chromium process is shared by the session."""

    def __init__(self, browser) -> None:
        self._browser = browser
        self._contexts = []

    def new_page(self, **options):
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        return context.new_page()

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def chromium(_chromium_browser):
    pages = _Pages(_chromium_browser)
    try:
        yield pages
    finally:
        pages.close()
