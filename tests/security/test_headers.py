"""Security headers (issue 16, finding 10): a Content-Security-Policy that forbids framing
and inline code on the pages, nosniff and no-referrer on every answer, and pages with no
inline script, style or handler for the policy to break."""

from __future__ import annotations

import re

import aiohttp
import pytest

from mayday.settings import WEB_ROOT
from tests.conftest import Harness

PAGES = ["/", "/tablet", "/advisor", "/ops"]


async def headers_of(h: Harness, path: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(h.http_url + path) as r:
        await r.read()
        return r.status, dict(r.headers)


@pytest.mark.parametrize("path", PAGES)
async def test_pages_carry_the_policy(mayday: Harness, path: str) -> None:
    """Every page forbids framing (frame-ancestors 'none' and X-Frame-Options), inline and
    foreign scripts and styles, plugins and base tags, and sends no referrer."""
    status, headers = await headers_of(mayday, path)
    assert status == 200
    directives = headers["Content-Security-Policy"].split("; ")
    policy = dict(d.split(" ", 1) for d in directives)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=(self)" in headers["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/static/js/tablet.js", "/healthz", "/metrics", "/nowhere"])
async def test_every_answer_is_nosniff(mayday: Harness, path: str) -> None:
    """Scripts, JSON, the exposition and even a 404 carry nosniff and no-referrer."""
    _, headers = await headers_of(mayday, path)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


@pytest.mark.parametrize("page", sorted(p.name for p in WEB_ROOT.glob("*.html")))
def test_pages_hold_no_inline_code(page: str) -> None:
    """No page has inline script, style or handlers, which the policy would block."""
    html = (WEB_ROOT / page).read_text()
    found = [what for pattern, what in INLINE if pattern.search(html)]
    assert found == [], f"{page} has {', '.join(found)}"


def test_the_inline_check_can_fail() -> None:
    """The patterns above do catch what they look for."""
    sample = '<p style="x" onclick="y()"><script>1</script><style></style>'
    assert all(pattern.search(sample) for pattern, _ in INLINE[:4])
