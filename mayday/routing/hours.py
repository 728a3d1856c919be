"""Business hours (``MAYDAY_HOURS``): when advisors answer, and the next opening.

The setting is JSON::

    {"timezone": "Europe/Paris",
     "weekly": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "sat": [["22:00", "02:00"]]},
     "exceptions": [{"date": "2026-12-25", "windows": []},
                    {"date": "2026-12-24", "windows": [["08:00", "12:00"]]}]}

Times are local to ``timezone`` (an IANA name). A day may have several windows; a
window whose end is not after its start runs overnight into the next day
(``["22:00", "02:00"]``), and ``["00:00", "24:00"]`` is the whole day. A dated
exception replaces that date's windows (an empty list: closed, as on a holiday).
Local times are turned into instants with the zone's rules of that date, so a
window keeps its wall-clock times across a daylight-saving change (a boundary that
falls in the hour skipped in spring moves by that hour). No setting: always open.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mayday.routing.config import SettingsError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead the next opening is looked for (a schedule closed longer: "unknown").
LOOKAHEAD_DAYS = 31

Window = tuple[dt.time, dt.time | None]  # end None: midnight at the end of the day


@dataclass(frozen=True)
class Hours:
    zone: ZoneInfo | None = None  # None: always open
    weekly: dict[int, tuple[Window, ...]] = field(default_factory=dict)
    exceptions: dict[dt.date, tuple[Window, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str) -> Hours:
        """The hours of ``MAYDAY_HOURS`` (empty: always open); ``SettingsError`` names
        what is wrong."""
        if not raw.strip():
            return cls()
        try:
            spec = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"MAYDAY_HOURS is not JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise SettingsError("MAYDAY_HOURS must be a JSON object")
        return cls(_zone(spec.get("timezone")), _weekly(spec.get("weekly", {})), _dated(spec))

    @property
    def always_open(self) -> bool:
        return self.zone is None

    def is_open(self, now: float) -> bool:
        if self.zone is None:
            return True
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        for day in (today - dt.timedelta(days=1), today):  # yesterday's may run overnight
            if any(start <= now < end for start, end in self._spans(day)):
                return True
        return False

    def next_open(self, now: float) -> float | None:
        """When the next window opens after ``now`` (epoch seconds), or None when none
        does within LOOKAHEAD_DAYS (or the hours are always open)."""
        if self.zone is None:
            return None
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        for offset in range(LOOKAHEAD_DAYS + 1):
            starts = [s for s, _ in self._spans(today + dt.timedelta(days=offset)) if s > now]
            if starts:
                return min(starts)
        return None

    def _spans(self, day: dt.date) -> list[tuple[float, float]]:
        """The instants each window of ``day`` opens and closes."""
        windows = self.exceptions.get(day, self.weekly.get(day.weekday(), ()))
        return [self._span(day, start, end) for start, end in windows]

    def _span(self, day: dt.date, start: dt.time, end: dt.time | None) -> tuple[float, float]:
        assert self.zone is not None
        opens = dt.datetime.combine(day, start, self.zone)
        end_day = day if end is not None and end > start else day + dt.timedelta(days=1)
        closes = dt.datetime.combine(end_day, end or dt.time(0), self.zone)
        return opens.timestamp(), closes.timestamp()


def iso_utc(instant: float | None) -> str | None:
    """ISO 8601 in UTC with a Z (what ``back_at`` carries), or None."""
    if instant is None:
        return None
    return dt.datetime.fromtimestamp(instant, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise SettingsError('MAYDAY_HOURS needs a "timezone" (an IANA name, e.g. Europe/Paris)')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f'MAYDAY_HOURS: unknown timezone "{name}"') from None


def _weekly(spec: object) -> dict[int, tuple[Window, ...]]:
    if not isinstance(spec, dict):
        raise SettingsError('MAYDAY_HOURS "weekly" must be an object of days')
    unknown = set(spec) - set(DAYS)
    if unknown:
        raise SettingsError(f"MAYDAY_HOURS: unknown day {sorted(unknown)[0]!r}; use {DAYS}")
    return {DAYS.index(day): _windows(day, windows) for day, windows in spec.items()}


def _dated(spec: dict[str, object]) -> dict[dt.date, tuple[Window, ...]]:
    items = spec.get("exceptions", [])
    if not isinstance(items, list):
        raise SettingsError('MAYDAY_HOURS "exceptions" must be a list')
    dated: dict[dt.date, tuple[Window, ...]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("date"), str):
            raise SettingsError('each MAYDAY_HOURS exception needs a "date" (YYYY-MM-DD)')
        try:
            day = dt.date.fromisoformat(item["date"])
        except ValueError:
            raise SettingsError(f"MAYDAY_HOURS: bad date {item['date']!r}") from None
        dated[day] = _windows(item["date"], item.get("windows", []))
    return dated


def _windows(where: str, windows: object) -> tuple[Window, ...]:
    if not isinstance(windows, list):
        raise SettingsError(f"MAYDAY_HOURS {where}: a list of [start, end] windows")
    parsed = []
    for window in windows:
        if not (isinstance(window, list) and len(window) == 2):
            raise SettingsError(f'MAYDAY_HOURS {where}: a window is ["HH:MM", "HH:MM"]')
        start, end = _time(where, window[0]), _time(where, window[1])
        if start is None:
            raise SettingsError(f"MAYDAY_HOURS {where}: a window cannot start at 24:00")
        parsed.append((start, end))
    return tuple(parsed)


def _time(where: str, text: object) -> dt.time | None:
    """HH:MM; "24:00" is the end of the day (None)."""
    if text == "24:00":
        return None
    try:
        assert isinstance(text, str) and len(text) == 5
        return dt.time.fromisoformat(text)
    except (AssertionError, ValueError):
        raise SettingsError(f"MAYDAY_HOURS {where}: bad time {text!r} (HH:MM)") from None
