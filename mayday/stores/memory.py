"""The embedded default: the routing core's own state, in this process."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import replace

from mayday.protocol.base import Outbound
from mayday.protocol.messages import QueueSummary
from mayday.routing.config import RouterConfig
from mayday.routing.core import Router
from mayday.routing.events import (
    Effect,
    Event,
    HelpRequested,
    MediaReported,
    RequestClosed,
    SessionOver,
)
from mayday.routing.model import Advisor, AdvisorStatus, Request, Session, TimelineEntry
from mayday.stores.erasure import Erased
from mayday.stores.history import Finished, HistoryFile, HistoryWriter
from mayday.stores.messages import Message, MessageFile, Reply
from mayday.stores.notes import Note, NoteFile
from mayday.stores.ratings import Rating, RatingFile

# Requests remembered per user, as the Redis store's user_requests list.
USER_REQUESTS_KEPT = 20
# Finished requests the router holds in memory when a history file keeps every one of
# them: reads of older ones go to the file (the ops view's recent list reads 20). Without
# a file the router's ``history_limit`` is all there is, and it holds that many.
HELD_WITH_HISTORY_FILE = 500


class MemoryStore:
    """Every operation is one synchronous call into the router, so it is atomic by itself."""

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        notes: NoteFile | None = None,
        messages: MessageFile | None = None,
        ratings: RatingFile | None = None,
        history: HistoryFile | None = None,
    ) -> None:
        config = config or RouterConfig()
        if history is not None and history.path is not None:
            held = min(config.history_limit, HELD_WITH_HISTORY_FILE)
            config = replace(config, history_limit=held)
        self.router = Router(config)
        # Notes outlive the process in their file (the server gives one under its data
        # directory); without one they are kept in this process only (tests, embedding).
        self.notes = notes or NoteFile(None, self.router.config.history_ttl_s)
        self.messages_file = messages or MessageFile(None)
        self.ratings = ratings or RatingFile(None, self.router.config.history_ttl_s)
        # Finished requests, written in the background when they finish: the router keeps
        # them only while this process runs (and only its latest ``history_limit``).
        ttl = self.router.config.history_ttl_s
        self.history = HistoryWriter(history or HistoryFile(None, ttl))
        # Each user's latest request ids, newest last; the users least recently heard of
        # are forgotten past the router's history limit, so the index stays bounded.
        self._by_user: OrderedDict[str, deque[str]] = OrderedDict()

    async def apply(self, event: Event, now: float) -> list[Effect]:
        effects = self.router.handle(event, now)
        if isinstance(event, HelpRequested):
            self._remember(event.user_id, event.request_id)
        if isinstance(event, MediaReported):
            # A peer's last reports (``closed``) often come after the call ended: they join
            # the finished request's timeline, as on Redis, and so its row again.
            self._keep_if_finished(self._request_of(event.session_id), now)
        for effect in effects:
            if isinstance(effect, RequestClosed):
                self._keep_if_finished(self.router.requests.get(effect.request_id), now)
            elif isinstance(effect, SessionOver):
                self._keep_if_finished(self._request_of(effect.session_id), now)
        return effects

    def _request_of(self, session_id: str) -> Request | None:
        session = self.router.sessions.get(session_id)
        return self.router.requests.get(session.request_id) if session else None

    def _keep_if_finished(self, req: Request | None, now: float) -> None:
        """A request in a final state goes to the history file. The effects say when one
        gets there: ``RequestClosed`` (cancelled, abandoned, expired, message) and the
        ``SessionOver`` of an ended request (a session closed for a requeue is not)."""
        if req is None or not req.state.final or not self.history.durable:
            return
        session = self.router.session(req.session_id) if req.session_id else None
        self.history.keep(Finished.of(req, session, now))

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
        if len(found) >= limit:
            return found  # the router holds the newest requests; the file only older ones
        pending = [r for r in self.history.pending.values() if r.enqueued_at >= since]
        return self._merged(found, pending + await self.history.file.recent(since, limit), limit)

    async def user_requests(self, user_id: str, limit: int) -> list[Request]:
        found = []
        for request_id in reversed(self._by_user.get(user_id, ())):
            req = self.router.requests.get(request_id)
            if req is not None:
                found.append(req)
        if len(found) >= limit:
            return found[:limit]
        pending = [r for r in self.history.pending.values() if r.user_id == user_id]
        kept = pending + await self.history.file.of_user(user_id, limit)
        return self._merged(found, kept, limit)

    def _merged(self, held: list[Request], kept: list[Finished], limit: int) -> list[Request]:
        """The requests the router holds and those only the history keeps (written before
        a restart, or forgotten past the history limit), newest first, at most ``limit``.
        ``kept`` has the rows not yet written first: a row pending is newer (a rating)."""
        seen = {r.id for r in held}
        found = list(held)
        for row in kept:
            if row.request_id not in seen:
                seen.add(row.request_id)
                found.append(row.request())
        found.sort(key=lambda r: -r.enqueued_at)
        return found[:limit]

    async def save_note(self, note: Note) -> None:
        await self.notes.save(note)
        await self._mark(note.request_id, note.timeline_entry())

    async def user_notes(self, user_id: str, limit: int) -> list[Note]:
        return await self.notes.of_user(user_id, limit)

    async def note(self, request_id: str, user_id: str | None) -> Note | None:
        return await self.notes.get(request_id)

    async def save_rating(self, rating: Rating) -> None:
        await self.ratings.save(rating)
        await self._mark(rating.request_id, rating.timeline_entry())

    async def _mark(self, request_id: str, entry: TimelineEntry) -> None:
        """Put a rating's or a note's entry on the request's timeline, in place of the one
        of the rating or note it replaces. Neither is a routing event (they change nothing
        the router decides), so they are written here, after their own file: on the
        router's request, or on the one the history file kept (after a restart)."""
        req = self.router.requests.get(request_id)
        session = None
        if req is None:
            row = await self._finished(request_id)
            if row is None:
                return
            req, session = row.request(), row.session()
        req.timeline[:] = [e for e in req.timeline if e.event != entry.event]
        req.timeline.append(entry)
        if req.state.final and self.history.durable:
            session = session or (self.router.session(req.session_id) if req.session_id else None)
            self.history.keep(Finished.of(req, session, entry.t))

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

    async def colleagues(self, limit: int) -> list[Advisor]:
        online = self.router.advisors.values()
        free = sorted(
            (a for a in online if a.status is AdvisorStatus.AVAILABLE),
            key=lambda a: (a.idle_since, a.id),
        )
        busy = (a for a in online if a.status is not AdvisorStatus.AVAILABLE)
        others = sorted(busy, key=lambda a: a.id)
        return (free + others)[:limit]

    async def current_state(self, role: str, sub: str, now: float) -> list[Outbound]:
        return self.router.current_state(role, sub, now)

    async def session(self, session_id: str) -> Session | None:
        found = self.router.session(session_id)
        if found is not None:
            return found
        row = next((r for r in self.history.pending.values() if r.session_id == session_id), None)
        row = row or await self.history.file.of_session(session_id)
        return row.session() if row else None

    async def request(self, request_id: str) -> Request | None:
        found = self.router.requests.get(request_id)
        if found is not None:
            return found
        row = await self._finished(request_id)
        return row.request() if row else None

    async def _finished(self, request_id: str) -> Finished | None:
        """The history row of a request the router no longer holds: pending, or written."""
        return self.history.pending.get(request_id) or await self.history.file.get(request_id)

    async def erase_user(self, user_id: str) -> Erased:
        # The router's check and forgetting come first, in one synchronous step: a request
        # the user opens after it is not theirs to lose. The rows still pending are
        # dropped; a batch being written is written before the deletes (the file's lock
        # serves its calls in order).
        held, sessions = self.router.forget_user(user_id)
        self._by_user.pop(user_id, None)
        self.history.drop_user(user_id)
        kept = await self.history.file.erase_user(user_id)
        requests = {r.id for r in held} | {r.request_id for r in kept}
        session_ids = {s.id for s in sessions} | {r.session_id for r in kept if r.session_id}
        return Erased(
            requests=len(requests),
            messages=await self.messages_file.erase_user(user_id),
            notes=await self.notes.erase_user(user_id),
            ratings=await self.ratings.erase_user(user_id),
            session_ids=tuple(sorted(session_ids)),
        )

    async def summary(self, now: float) -> QueueSummary:
        return self.router.summary(now)

    async def close(self) -> None:
        await self.history.flush()
        await self.history.file.close()
        await self.notes.close()
        await self.messages_file.close()
        await self.ratings.close()
