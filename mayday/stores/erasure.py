"""What erasing one user's data (``DELETE /api/users/{user_id}``) took away, by kind.

The routing store erases the user's finished requests with their timelines and sessions,
their messages (with the replies), the advisors' notes about them and their ratings; the
sessions store then erases the audit logs of those sessions. Pending webhook deliveries
are not recalled (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Erased:
    requests: int  # with their timelines
    messages: int  # with their replies
    notes: int
    ratings: int
    # The sessions of the requests erased: their audit logs go next (``SessionsStore``).
    session_ids: tuple[str, ...] = ()

    def counts(self, audit_entries: int) -> dict[str, int]:
        """What the API answers: how many of each kind were erased."""
        return {
            "requests": self.requests,
            "messages": self.messages,
            "notes": self.notes,
            "ratings": self.ratings,
            "audit_entries": audit_entries,
        }
