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


@pytest.fixture
def chromium(_chromium_browser):
    """A fresh browser context (own cookies and storage) on the session's one Chromium."""
    context = _chromium_browser.new_context()
    try:
        yield context
    finally:
        context.close()
