"""Free-text topics turned into a bounded set of metric labels.

A topic is whatever a tablet sends; as a Prometheus label or a tally key, every
new one is a new series, and a script that sends a thousand topics grew
``/metrics`` to 6.8 MB and the ops view to 2 MB (issue 16, finding 2). Either
the topics are a configured list (``MAYDAY_TOPICS``), or the first
``MAYDAY_MAX_TOPIC_LABELS`` distinct topics seen get a label of their own; every
other topic counts under ``other``. On Redis the admitted set is shared, so that
every process counts a topic under the same label.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from mayday.stores.scripts import RedisClient, Script

OTHER = "other"
NONE = "none"
# Names the tallies use for themselves: a user's topic never counts as one of them.
RESERVED = frozenset({OTHER, NONE, "(advisors)"})
# Topics refused while the admitted set is full, remembered so that a stream of new
# topics costs no round trip each; bounded, since there is no end to new topics.
REFUSED_CACHE = 4096


class Admission(Protocol):
    async def admit(self, topic: str, limit: int) -> bool:
        """True if ``topic`` is (now) one of at most ``limit`` admitted topics."""
        ...


class LocalAdmission:
    """The admitted set of one process (the embedded default)."""

    def __init__(self) -> None:
        self._admitted: set[str] = set()

    async def admit(self, topic: str, limit: int) -> bool:
        if topic in self._admitted:
            return True
        if len(self._admitted) >= limit:
            return False
        self._admitted.add(topic)
        return True


class RedisAdmission:
    """One Redis set shared by every process; the check and the add are one script, so
    two processes cannot both take the last place."""

    def __init__(self, redis: RedisClient, key: str) -> None:
        self.key = key
        self._script = Script(redis, "topic_admit")

    async def admit(self, topic: str, limit: int) -> bool:
        return bool(await self._script([self.key], [topic, limit]))


class TopicLabels:
    """Maps a request's topic to the label it is counted under."""

    def __init__(
        self,
        limit: int = 100,
        allowed: tuple[str, ...] = (),
        admission: Admission | None = None,
    ) -> None:
        self.limit = limit
        self.allowed = frozenset(allowed) - RESERVED
        self.admission = admission or LocalAdmission()
        self._known: set[str] = set()
        self._refused: OrderedDict[str, None] = OrderedDict()

    async def label(self, topic: str) -> str:
        if not topic:
            return NONE
        if topic in self._known:
            return topic
        if self.allowed:
            return topic if topic in self.allowed else OTHER
        if topic in RESERVED or topic in self._refused:
            return OTHER
        if await self.admission.admit(topic, self.limit):
            self._known.add(topic)
            return topic
        self._refused[topic] = None
        if len(self._refused) > REFUSED_CACHE:
            self._refused.popitem(last=False)
        return OTHER
