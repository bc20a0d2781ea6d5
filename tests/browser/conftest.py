"""A real Chromium against a real Prefect server, worker and served output folder, once per module.

Screenshots of every step go to ``TRANSCREATE_SCREENSHOTS`` when it names a folder (to look at them
as a campaign manager would), else to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, Stack


# Per module (one module uses it): stopped as soon as that module ends, while the other worker
# is still busy, not in the session's teardown at the very end of the run.
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no browser at {CHROMIUM}: run ./scripts/install (it installs chromium)")
    with Stack(tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


# Per module, not per session: Playwright's sync API holds an event loop in this thread while it is
# open, and later tests that call asyncio.run() must not find one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    chosen = os.environ.get("TRANSCREATE_SCREENSHOTS")
    folder = Path(chosen) / request.node.name if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
