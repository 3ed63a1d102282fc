"""Per-user limits, checked and taken in one Lua script so concurrent submissions can never
over-admit: at most N jobs in flight and a daily quota (UTC days)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from clipbot.errors import LimitReached
from clipbot.models import Origin
from clipbot.queue import keys

# KEYS: in-flight zset, daily counter. ARGV: now, expiry of this entry, max in flight,
# daily quota, job id, key ttl. Returns 0 admitted, 1 too many in flight, 2 quota used up.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[4]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return 0
"""


class UserLimits:
    def __init__(self, redis: Redis, *, max_in_flight: int, daily_quota: int, slot_ttl_s: int):
        """``slot_ttl_s`` bounds how long a slot can leak if a job is lost without finishing."""
        self.redis = redis
        self.max_in_flight = max_in_flight
        self.daily_quota = daily_quota
        self.slot_ttl_s = slot_ttl_s
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, origin: Origin, job_id: str) -> None:
        now = time.time()
        day = datetime.now(UTC).strftime("%Y%m%d")
        slots = keys.inflight(origin.platform, origin.user)
        used_today = keys.daily_count(origin.platform, origin.user, day)
        verdict = await self._admit(
            keys=[slots, used_today],
            args=[
                now,
                now + self.slot_ttl_s,
                self.max_in_flight,
                self.daily_quota,
                job_id,
                self.slot_ttl_s,
            ],
        )
        if verdict == 1:
            raise LimitReached(
                f"You already have {self.max_in_flight} clip(s) queued or rendering; "
                "wait for one to finish (or cancel it) and try again."
            )
        if verdict == 2:
            raise LimitReached(
                f"You have used today's {self.daily_quota} clips. The quota resets at 00:00 UTC."
            )

    async def release(self, origin: Origin, job_id: str) -> None:
        await self.redis.zrem(keys.inflight(origin.platform, origin.user), job_id)

    async def in_flight(self, origin: Origin) -> int:
        return int(await self.redis.zcard(keys.inflight(origin.platform, origin.user)))
