"""Headless Chromium for the browser tests: it must launch, or the tests fail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh Chromium per test (it launches in about 0.3 s), closed afterwards."""
    async with async_playwright() as p:
        try:
            launched = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(f"Chromium did not launch from {CHROMIUM} (make system-deps): {exc}")
        try:
            yield launched
        finally:
            await launched.close()
