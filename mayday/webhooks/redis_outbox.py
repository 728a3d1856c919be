"""The webhook outbox in Redis, shared by every node: a delivery queued by a node that
dies is claimed by another once its lease ran out (mayday/stores/lua/webhook_claim.lua)."""

from __future__ import annotations

import json
from typing import Any, cast

from mayday.stores.keys import Keys
from mayday.stores.scripts import RedisClient, Script
from mayday.webhooks.outbox import ATTEMPTS_KEPT, SETTLED_KEPT_S, Attempt, Delivery, settled


class RedisOutbox:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._claim = Script(redis, "webhook_claim")

    async def add(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for d in deliveries:
                pipe.set(self.keys.webhook(d.id), d.to_json())
                pipe.zadd(self.keys.webhooks_due, {d.id: d.next_at})
            await pipe.execute()

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        args = [now, now + lease_s, limit, self.keys.webhook("")]
        raw = await self._claim([self.keys.webhooks_due], args)
        return [Delivery.from_json(body) for body in raw]

    async def settle(self, delivery: Delivery, attempt: Attempt) -> None:
        after = settled(delivery, attempt)
        key = self.keys.webhook(after.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            if after.state == "pending":
                pipe.set(key, after.to_json())
                pipe.zadd(self.keys.webhooks_due, {after.id: after.next_at})
            else:
                pipe.set(key, after.to_json(), ex=int(SETTLED_KEPT_S))
                pipe.zrem(self.keys.webhooks_due, after.id)
            pipe.lpush(self.keys.webhook_attempts, attempt.to_json())
            pipe.ltrim(self.keys.webhook_attempts, 0, ATTEMPTS_KEPT - 1)
            await pipe.execute()

    async def disable(self, endpoint: str, info: dict[str, Any]) -> None:
        await self.redis.hset(self.keys.webhooks_disabled, endpoint, json.dumps(info))

    async def enable(self, endpoint: str) -> bool:
        return bool(await self.redis.hdel(self.keys.webhooks_disabled, endpoint))

    async def disabled(self) -> dict[str, dict[str, Any]]:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.webhooks_disabled))
        return {endpoint: json.loads(body) for endpoint, body in raw.items()}

    async def attempts(self, limit: int) -> list[Attempt]:
        raw = await self.redis.lrange(self.keys.webhook_attempts, 0, limit - 1)
        return [Attempt.from_json(body) for body in raw]

    async def pending(self) -> int:
        return int(await self.redis.zcard(self.keys.webhooks_due))

    async def close(self) -> None:
        """The client is the store's: it closes it."""
