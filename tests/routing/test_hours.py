"""Business hours (issue 12): windows per weekday, overnight windows, dated exceptions
and the zone's daylight-saving changes, in the pure code."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from mayday.routing.config import SettingsError
from mayday.routing.hours import Hours, iso_utc

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    """An instant given as local Paris time, "YYYY-MM-DD HH:MM"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def hours(**spec: object) -> Hours:
    return Hours.parse(json.dumps({"timezone": "Europe/Paris", **spec}))


OFFICE = {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "tue": [["08:00", "18:00"]]}


def test_no_setting_is_always_open() -> None:
    always = Hours.parse("")
    assert always.is_open(0) and always.is_open(at("2026-12-25 03:00"))
    assert always.next_open(0) is None


def test_windows_of_a_day_and_the_gap_between_them() -> None:
    h = hours(weekly=OFFICE)  # 2026-12-07 is a Monday
    assert not h.is_open(at("2026-12-07 07:59"))
    assert h.is_open(at("2026-12-07 08:00"))
    assert not h.is_open(at("2026-12-07 12:00"))  # the end is not in the window
    assert h.next_open(at("2026-12-07 12:30")) == at("2026-12-07 13:00")
    assert h.next_open(at("2026-12-07 18:30")) == at("2026-12-08 08:00")
    # Tuesday evening: closed until next Monday.
    assert h.next_open(at("2026-12-08 19:00")) == at("2026-12-14 08:00")


def test_an_overnight_window_runs_into_the_next_day() -> None:
    h = hours(weekly={"fri": [["22:00", "06:00"]]})  # 2026-12-11 is a Friday
    assert h.is_open(at("2026-12-11 23:30"))
    assert h.is_open(at("2026-12-12 05:59"))  # Saturday morning, Friday's window
    assert not h.is_open(at("2026-12-12 06:00"))
    assert h.next_open(at("2026-12-12 06:00")) == at("2026-12-18 22:00")


def test_a_holiday_closes_its_day_and_a_dated_exception_replaces_its_windows() -> None:
    h = hours(
        weekly={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        exceptions=[
            {"date": "2026-12-25", "windows": []},
            {"date": "2026-12-24", "windows": [["09:00", "12:00"]]},
        ],
    )
    assert not h.is_open(at("2026-12-25 10:00"))
    assert not h.is_open(at("2026-12-24 13:00"))
    assert h.next_open(at("2026-12-24 13:00")) == at("2026-12-28 09:00")  # Fri off, weekend


def test_windows_keep_their_wall_clock_times_across_daylight_saving() -> None:
    """Paris moves from UTC+1 to UTC+2 on 2027-03-28 (a Sunday): Saturday's 09:00 is
    08:00 UTC, Monday's 09:00 is 07:00 UTC."""
    h = hours(weekly={d: [["09:00", "17:00"]] for d in DAYS_ALL})
    saturday, monday = h.next_open(at("2027-03-27 06:00")), h.next_open(at("2027-03-29 06:00"))
    assert iso_utc(saturday) == "2027-03-27T08:00:00Z"
    assert iso_utc(monday) == "2027-03-29T07:00:00Z"
    night = hours(weekly={"sat": [["22:00", "06:00"]]})  # the night the clocks go forward
    start = at("2027-03-27 22:00")
    assert night.is_open(start + 7 * 3600 - 1)  # 06:00 CEST is only 7 h after 22:00 CET
    assert not night.is_open(start + 7 * 3600)


DAYS_ALL = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_whole_days_and_schedules_closed_for_long() -> None:
    h = hours(weekly={"sun": [["00:00", "24:00"]]})
    assert h.is_open(at("2026-12-13 00:00")) and h.is_open(at("2026-12-13 23:59"))
    assert not h.is_open(at("2026-12-14 00:00"))
    closed = hours(weekly={})
    assert not closed.is_open(0) and closed.next_open(0) is None


@pytest.mark.parametrize(
    "raw, words",
    [
        ("{", "not JSON"),
        ('{"weekly": {}}', "timezone"),
        ('{"timezone": "Mars/Olympus"}', "unknown timezone"),
        ('{"timezone": "UTC", "weekly": {"monday": []}}', "unknown day"),
        ('{"timezone": "UTC", "weekly": {"mon": [["8:00", "12:00"]]}}', "bad time"),
        ('{"timezone": "UTC", "weekly": {"mon": [["24:00", "12:00"]]}}', "cannot start"),
        ('{"timezone": "UTC", "exceptions": [{"date": "2026-13-01"}]}', "bad date"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(raw: str, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Hours.parse(raw)
