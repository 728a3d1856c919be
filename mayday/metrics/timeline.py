"""One request's timeline, read as the facts ops ask about."""

from __future__ import annotations

from typing import Any

from mayday.routing.model import Request
from mayday.stores.ratings import RATED

CSV_COLUMNS = (
    "request_id",
    "user_id",
    "topic",
    "outcome",
    "advisor",
    "requested_at",
    "accepted_at",
    "first_frame_at",
    "closed_at",
    "time_to_accept_s",
    "time_to_advisor_s",
    "offers",
    "missed_offers",
    # Added later, so appended: a spreadsheet reading the columns above keeps working.
    "advisor_name",
    "end_reason",
    "ended_by",
    "duration_s",
    "rating_score",
    "transfers",
)


# The timeline events that close a request, whichever came first.
CLOSINGS = ("ended", "cancelled", "abandoned", "expired", "message")


def request_view(req: Request) -> dict[str, Any]:
    """The request's milestones, durations and offers, from its timeline."""
    first: dict[str, float] = {}
    advisor = None
    offers: list[dict[str, Any]] = []
    for entry in req.timeline:
        first.setdefault(entry.event, entry.t)
        if entry.event == "offered":
            offers.append({"advisor": entry.data.get("advisor"), "at": entry.t, "outcome": None})
        elif entry.event.startswith("offer.") and offers:
            offers[-1]["outcome"] = entry.event.removeprefix("offer.")
        if entry.event in ("offer.accepted", "claimed"):
            advisor = entry.data.get("advisor")
    accepted = first.get("offer.accepted", first.get("claimed"))
    call = _call(req)
    frame = req.first_frame_at
    closed = next((first[s] for s in CLOSINGS if s in first), None)
    return {
        "request_id": req.id,
        "user_id": req.user_id,
        "topic": req.topic,
        "outcome": req.state.value,
        "advisor": advisor,
        "requested_at": req.enqueued_at,
        "accepted_at": accepted,
        "first_frame_at": frame,
        "closed_at": closed,
        "time_to_accept_s": None if accepted is None else accepted - req.enqueued_at,
        "time_to_advisor_s": None if frame is None else frame - req.enqueued_at,
        "offers": offers,
        "missed_offers": sum(1 for o in offers if o["outcome"] == "timed_out"),
        "user_name": req.user_name,
        "priority": req.priority,
        **call,
        "rating_score": _score(req),
        "transfers": sum(1 for e in req.timeline if e.event == "transfer"),
        "timeline": [{"t": e.t, "event": e.event, **e.data} for e in req.timeline],
    }


# The fields of ``request_view``, in its order: a forgotten request has them all, null.
VIEW_FIELDS = (*CSV_COLUMNS[:13], "user_name", "priority", *CSV_COLUMNS[13:], "timeline")


def forgotten_view(request_id: str, user_id: str | None) -> dict[str, Any]:
    """``request_view`` of a request no longer kept (the memory store after a restart)
    that something kept about it still names: its id and its user's, the rest null."""
    view: dict[str, Any] = dict.fromkeys(VIEW_FIELDS)
    return {**view, "request_id": request_id, "user_id": user_id}


def _call(req: Request) -> dict[str, Any]:
    """Who took the call (by name, as the session started), how it ended and how long it
    lasted; None where the request had no session or it has not ended."""
    started = next((e for e in req.timeline if e.event == "session.started"), None)
    ended = next((e for e in req.timeline if e.event == "session.ended"), None)
    return {
        "advisor_name": None if started is None else started.data.get("advisor_name"),
        "end_reason": None if ended is None else ended.data.get("reason"),
        "ended_by": None if ended is None else ended.data.get("by"),
        "duration_s": None if started is None or ended is None else ended.t - started.t,
    }


def _score(req: Request) -> int | None:
    """The user's score of the call, from its ``rated`` entry (the stores keep one at most:
    a new rating takes the old one off), so the list views carry it without reading the
    ratings themselves; None when the call was not rated."""
    rated = [e for e in req.timeline if e.event == RATED]
    return rated[-1].data.get("score") if rated else None


def history_item(req: Request, note: dict[str, Any] | None = None) -> dict[str, Any]:
    """One earlier request of a caller, as the advisor console shows it, with the advisor's
    note on its call (``Note.shown``) or None."""
    return {
        "request_id": req.id,
        "requested_at": req.enqueued_at,
        "topic": req.topic,
        "outcome": req.state.value,
        **_call(req),
        "note": note,
    }


def csv_row(view: dict[str, Any]) -> list[str]:
    row = []
    for column in CSV_COLUMNS:
        value = view[column]
        if column == "offers":
            value = len(value)
        row.append("" if value is None else str(value))
    return row
