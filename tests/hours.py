"""A business-hours setting for tests: closed now, open from a known moment."""

from __future__ import annotations

import datetime as dt
import json

WHOLE_DAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def closed_until_the_day_after_tomorrow() -> tuple[str, str]:
    """MAYDAY_HOURS open every day but today and tomorrow (UTC), and when it opens."""
    today = dt.datetime.now(dt.UTC).date()
    days = [today + dt.timedelta(days=n) for n in range(2)]
    spec = {
        "timezone": "UTC",
        "weekly": WHOLE_DAYS,
        "exceptions": [{"date": d.isoformat(), "windows": []} for d in days],
    }
    opens = (today + dt.timedelta(days=2)).isoformat() + "T00:00:00Z"
    return json.dumps(spec), opens
