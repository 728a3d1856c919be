"""The one interface every store serves to the transport."""

from __future__ import annotations

from typing import Protocol

from mayday.protocol.base import Outbound
from mayday.protocol.messages import QueueSummary
from mayday.routing.events import Effect, Event
from mayday.routing.model import Advisor, Request, Session
from mayday.stores.erasure import Erased
from mayday.stores.messages import Message, Reply
from mayday.stores.notes import Note
from mayday.stores.ratings import Rating


class Store(Protocol):
    """Routing state behind one call per routing operation.

    ``apply`` is the whole of a routing operation: it reads and changes the
    state and returns the effects, atomically. A Redis store does each ``apply``
    in one round trip (one script per event type), never as a read-modify-write
    spread over several calls, so two server processes cannot interleave inside
    one operation.
    """

    async def apply(self, event: Event, now: float) -> list[Effect]:
        """Carry out ``event`` at time ``now``; raise ``ProtocolError`` to refuse it."""
        ...

    async def position_updates(self, request_ids: list[str], now: float) -> list[Effect]:
        """``help.queued`` for those of these requests whose position or estimate moved
        since their user last heard (one round trip for the whole list)."""
        ...

    async def due_requests(self, now: float) -> list[str]:
        """Ids of waiting requests past their time-to-live, oldest first (at most 100)."""
        ...

    async def recent_requests(self, since: float, limit: int) -> list[Request]:
        """Requests made since ``since``, newest first, at most ``limit``."""
        ...

    async def user_requests(self, user_id: str, limit: int) -> list[Request]:
        """The user's latest requests still kept, newest first, at most ``limit`` (20 at
        most are remembered per user)."""
        ...

    async def save_note(self, note: Note) -> None:
        """Keep an advisor's note on a call, replacing an earlier one on the same request;
        durable (Redis, or the memory store's file) when this returns."""
        ...

    async def user_notes(self, user_id: str, limit: int) -> list[Note]:
        """The notes on the user's calls, newest call first, at most ``limit`` (the latest
        ``NOTES_KEPT`` calls are kept, for ``history_ttl_s``)."""
        ...

    async def note(self, request_id: str, user_id: str | None) -> Note | None:
        """The note on this request's call, or None. The Redis store finds notes through
        their user (``user_id``, None when not known: then it finds none)."""
        ...

    async def save_rating(self, rating: Rating) -> None:
        """Keep the user's rating of a call, replacing an earlier one of the same request,
        and put it on the request's timeline (event ``rated``, the earlier one taken off)
        while that timeline is kept; durable when this returns. Kept ``history_ttl_s``."""
        ...

    async def rating(self, request_id: str) -> Rating | None:
        """The rating of this request's call, or None."""
        ...

    async def save_message(self, message: Message) -> None:
        """Keep a new message, durable when this returns; ``rate_limited`` when its user
        already has ``OPEN_PER_USER`` open. A message whose id is kept already is left as
        it is (saving is idempotent)."""
        ...

    async def message(self, message_id: str) -> Message | None: ...

    async def messages(self, state: str, limit: int) -> list[Message]:
        """The messages ``open`` or ``answered``, oldest first, at most ``limit``."""
        ...

    async def request_messages(self, request_id: str) -> list[Message]:
        """The messages that name this request (``message.leave`` with its id), oldest
        first."""
        ...

    async def reply_message(self, message_id: str, reply: Reply) -> Message:
        """Store the first reply to a message and return the message with it: atomic on
        every node; ``not_found``, or ``invalid_state`` when a reply is stored already."""
        ...

    async def mark_message_read(self, message_id: str, at: float) -> None:
        """The user saw the reply: it is no longer shown at their connections."""
        ...

    async def unread_replies(self, user_id: str) -> list[Message]:
        """The user's answered messages whose reply is not marked read, oldest first."""
        ...

    async def advisors(self, limit: int) -> list[Advisor]:
        """The advisors online (any state), by id, at most ``limit``: id, name, status
        and status_since are filled in."""
        ...

    async def colleagues(self, limit: int) -> list[Advisor]:
        """The advisors online for a transfer dialog, at most ``limit``: the free ones
        (available) first, longest idle first, then the others by id; id, name, skills,
        status, status_since and idle_since are filled in. Bounded by ``limit``, not by
        how many are online: Redis reads the free set, then scans the online set only
        until the page is full, so when the others do not all fit, which of them are
        listed is its scan's choice (listed by id all the same)."""
        ...

    async def current_state(self, role: str, sub: str, now: float) -> list[Outbound]:
        """The frames that tell a socket of (role, sub) that could not resume where its
        identity stands (``Router.current_state``); read-only."""
        ...

    async def session(self, session_id: str) -> Session | None:
        """The session with this id, live or recently ended, or None."""
        ...

    async def request(self, request_id: str) -> Request | None:
        """The request with this id and its timeline, or None once forgotten."""
        ...

    async def erase_user(self, user_id: str) -> Erased:
        """Erase the user's finished requests (timelines and sessions too), their messages
        (replies too), the notes about them and their ratings; how many of each. Refused
        with ``invalid_state`` (``USER_BUSY``) while the user has a request open (waiting
        or in a session), atomically with the erase. Erasing again erases nothing."""
        ...

    async def summary(self, now: float) -> QueueSummary:
        """Queue depth, oldest wait and advisors by state, as of ``now``."""
        ...

    async def close(self) -> None: ...
