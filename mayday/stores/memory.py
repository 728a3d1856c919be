"""The embedded default: the routing core's own state, in this process."""

from __future__ import annotations

from collections import OrderedDict, deque

from mayday.protocol.base import Outbound
from mayday.protocol.messages import QueueSummary
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import Effect, Event, HelpRequested
from mayday.routing.model import Advisor, Request, Session
from mayday.stores.messages import Message, MessageFile, Reply
from mayday.stores.notes import Note, NoteFile
from mayday.stores.ratings import RATED, Rating, RatingFile

# Requests remembered per user, as the Redis store's user_requests list.
USER_REQUESTS_KEPT = 20


class MemoryStore:
    """Every operation is one synchronous call into the router, so it is atomic by itself."""

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        notes: NoteFile | None = None,
        messages: MessageFile | None = None,
        ratings: RatingFile | None = None,
    ) -> None:
        self.router = Router(config)
        # Notes outlive the process in their file (the server gives one under its data
        # directory); without one they are kept in this process only (tests, embedding).
        self.notes = notes or NoteFile(None, self.router.config.history_ttl_s)
        self.messages_file = messages or MessageFile(None)
        self.ratings = ratings or RatingFile(None, self.router.config.history_ttl_s)
        # Each user's latest request ids, newest last; the users least recently heard of
        # are forgotten past the router's history limit, so the index stays bounded.
        self._by_user: OrderedDict[str, deque[str]] = OrderedDict()

    async def apply(self, event: Event, now: float) -> list[Effect]:
        effects = self.router.handle(event, now)
        if isinstance(event, HelpRequested):
            self._remember(event.user_id, event.request_id)
        return effects

    def _remember(self, user_id: str, request_id: str) -> None:
        ids = self._by_user.pop(user_id, None) or deque(maxlen=USER_REQUESTS_KEPT)
        ids.append(request_id)
        self._by_user[user_id] = ids
        while len(self._by_user) > self.router.config.history_limit:
            self._by_user.popitem(last=False)

    async def position_updates(self, request_ids: list[str], now: float) -> list[Effect]:
        return self.router.position_updates(request_ids, now)

    async def due_requests(self, now: float) -> list[str]:
        return self.router.due_requests(now)

    async def recent_requests(self, since: float, limit: int) -> list[Request]:
        found: list[Request] = []
        for req in reversed(self.router.requests.values()):
            if req.enqueued_at < since or len(found) >= limit:
                break
            found.append(req)
        return found

    async def user_requests(self, user_id: str, limit: int) -> list[Request]:
        found = []
        for request_id in reversed(self._by_user.get(user_id, ())):
            req = self.router.requests.get(request_id)
            if req is not None:
                found.append(req)
        return found[:limit]

    async def save_note(self, note: Note) -> None:
        await self.notes.save(note)

    async def user_notes(self, user_id: str, limit: int) -> list[Note]:
        return await self.notes.of_user(user_id, limit)

    async def note(self, request_id: str, user_id: str | None) -> Note | None:
        return await self.notes.get(request_id)

    async def save_rating(self, rating: Rating) -> None:
        await self.ratings.save(rating)
        # The timeline lives in the router's request, but a rating is no routing event: it
        # changes nothing the router decides, so it is written here, after the file, and
        # only while the router still keeps the request.
        req = self.router.requests.get(rating.request_id)
        if req is not None:
            req.timeline[:] = [e for e in req.timeline if e.event != RATED]
            req.timeline.append(rating.timeline_entry())

    async def rating(self, request_id: str) -> Rating | None:
        return await self.ratings.get(request_id)

    async def save_message(self, message: Message) -> None:
        await self.messages_file.save(message)

    async def message(self, message_id: str) -> Message | None:
        return await self.messages_file.get(message_id)

    async def messages(self, state: str, limit: int) -> list[Message]:
        return await self.messages_file.listed(state, limit)

    async def request_messages(self, request_id: str) -> list[Message]:
        return await self.messages_file.of_request(request_id)

    async def reply_message(self, message_id: str, reply: Reply) -> Message:
        return await self.messages_file.reply(message_id, reply)

    async def mark_message_read(self, message_id: str, at: float) -> None:
        await self.messages_file.mark_read(message_id, at)

    async def unread_replies(self, user_id: str) -> list[Message]:
        return await self.messages_file.unread(user_id)

    async def advisors(self, limit: int) -> list[Advisor]:
        return sorted(self.router.advisors.values(), key=lambda a: a.id)[:limit]

    async def current_state(self, role: str, sub: str, now: float) -> list[Outbound]:
        return self.router.current_state(role, sub, now)

    async def session(self, session_id: str) -> Session | None:
        return self.router.session(session_id)

    async def request(self, request_id: str) -> Request | None:
        return self.router.requests.get(request_id)

    async def summary(self, now: float) -> QueueSummary:
        return self.router.summary(now)

    async def close(self) -> None:
        await self.notes.close()
        await self.messages_file.close()
        await self.ratings.close()
