"""Where a server process keeps its state: chosen once, here, from the settings.

The embedded default keeps everything in this process, but for the finished requests
with their timelines, the advisors' notes, the users' ratings, the messages left offline
and the webhook outbox, which it keeps in files under the data directory.
With a Redis URL, the routing state, the shared screens, the SLA tallies, the alert
ledger, the topic labels and the webhook outbox live in Redis, and the relay links this
process to the others.
Nothing else in the server asks which backend runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mayday.metrics.alerts import AlertLedger, MemoryLedger, RedisLedger
from mayday.metrics.labels import Admission, LocalAdmission, RedisAdmission
from mayday.metrics.stats import MemoryStats, RedisStats, StatsStore
from mayday.metrics.tally import Rules
from mayday.sessions.redis_store import RedisSessionsStore
from mayday.sessions.store import MemorySessionsStore, SessionsStore
from mayday.settings import Settings
from mayday.stores.base import Store
from mayday.stores.history import HISTORY_FILE, HistoryFile
from mayday.stores.memory import MemoryStore
from mayday.stores.messages import MESSAGES_FILE, MessageFile
from mayday.stores.notes import NOTES_FILE, NoteFile
from mayday.stores.ratings import RATINGS_FILE, RatingFile
from mayday.stores.redis import RedisStore
from mayday.transport.redis_streams import RedisStreamBook
from mayday.transport.relay import NoRelay, RedisRelay, Relay
from mayday.transport.streams import StreamBook, Streams
from mayday.webhooks.endpoints import parse_endpoints
from mayday.webhooks.outbox import WEBHOOKS_FILE, Outbox, SqliteOutbox
from mayday.webhooks.redis_outbox import RedisOutbox
from mayday.webhooks.sender import Webhooks


@dataclass
class Backend:
    name: str  # "memory" or "redis"
    store: Store  # the routing state
    boards: SessionsStore  # each session's drawing, consent, pause and audit log
    stats: StatsStore  # SLA tallies
    ledger: AlertLedger  # which alerts are raised
    admission: Admission  # which topics have a metric label
    relay: Relay  # the link to the other processes
    streams: Streams  # where a closed socket's stream is kept for a resume
    outbox: Outbox  # webhook deliveries not yet taken, and the attempts

    async def close(self) -> None:
        await self.relay.close()
        await self.outbox.close()
        await self.store.close()


def make_webhooks(settings: Settings, outbox: Outbox, clock: Callable[[], float]) -> Webhooks:
    """The webhook sender for the endpoints configured (none: it queues nothing)."""
    endpoints = parse_endpoints(settings.webhooks, settings.alert_webhook_url)
    return Webhooks(
        endpoints,
        outbox,
        clock,
        schedule=settings.webhook_retry_s,
        timeout_s=settings.webhook_timeout_s,
    )


def make_backend(settings: Settings) -> Backend:
    """The in-memory backend, or the Redis one when a Redis URL is configured."""
    rules = Rules(settings.sla_target_s, settings.short_abandon_s)
    if not settings.redis_url:
        return Backend(
            name="memory",
            store=MemoryStore(
                settings,
                notes=NoteFile(settings.data_dir / NOTES_FILE, settings.history_ttl_s),
                messages=MessageFile(settings.data_dir / MESSAGES_FILE),
                ratings=RatingFile(settings.data_dir / RATINGS_FILE, settings.history_ttl_s),
                history=HistoryFile(settings.data_dir / HISTORY_FILE, settings.history_ttl_s),
            ),
            boards=MemorySessionsStore(),
            stats=MemoryStats(rules),
            ledger=MemoryLedger(),
            admission=LocalAdmission(),
            relay=NoRelay(),
            streams=StreamBook(settings.resume_grace_s),
            outbox=SqliteOutbox(settings.data_dir / WEBHOOKS_FILE),
        )
    store = RedisStore.from_url(settings.redis_url, settings)
    redis, keys = store.redis, store.keys
    relay = RedisRelay(store)
    return Backend(
        name="redis",
        store=store,
        boards=RedisSessionsStore(redis, keys),
        stats=RedisStats(redis, rules, keys),
        ledger=RedisLedger(redis, keys),
        admission=RedisAdmission(redis, keys.topics),
        relay=relay,
        streams=RedisStreamBook(redis, keys, settings.resume_grace_s, inbox=relay),
        outbox=RedisOutbox(redis, keys),
    )
