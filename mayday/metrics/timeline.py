"""One request's timeline, read as the facts ops ask about."""

from __future__ import annotations

from typing import Any

from mayday.routing.model import Request

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
)


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
    frame = req.first_frame_at
    closed = next(
        (first[s] for s in ("ended", "cancelled", "abandoned", "expired") if s in first), None
    )
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
        "timeline": [{"t": e.t, "event": e.event, **e.data} for e in req.timeline],
    }


def csv_row(view: dict[str, Any]) -> list[str]:
    row = []
    for column in CSV_COLUMNS:
        value = view[column]
        if column == "offers":
            value = len(value)
        row.append("" if value is None else str(value))
    return row
