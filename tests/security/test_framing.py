"""Who may show the pages in a frame: nobody by default, or the origins an integrator names."""

from __future__ import annotations

import pytest

from mayday.settings import Settings, SettingsError
from mayday.transport.web_security import page_headers


def test_no_frame_by_default() -> None:
    """Without MAYDAY_FRAME_ANCESTORS the pages refuse every frame, both ways."""
    headers = page_headers(Settings().frame_ancestors)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_named_origins_may_frame_the_pages() -> None:
    """An integrator's origin (and self) goes into frame-ancestors; X-Frame-Options, which
    cannot name other origins, is left out then."""
    settings = Settings(frame_ancestors=("self", "https://App.Example.com:443"))
    headers = page_headers(settings.frame_ancestors)
    assert "frame-ancestors 'self' https://app.example.com;" in (
        headers["Content-Security-Policy"] + ";"
    )
    assert "X-Frame-Options" not in headers
    assert page_headers(("self",))["X-Frame-Options"] == "SAMEORIGIN"


def test_a_framing_value_that_is_no_origin_is_refused() -> None:
    """A wildcard is refused at start rather than silently allowing every site."""
    with pytest.raises(SettingsError):
        Settings(frame_ancestors=("*",))
