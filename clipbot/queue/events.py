"""Job events on one Redis stream per platform, read by that platform's adapter through a
consumer group: an entry is acknowledged only after the adapter has delivered it, so events
survive an adapter restart (its pending entries are read again, or claimed by a peer)."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from clipbot.models import JobEvent
from clipbot.queue import keys

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000
CLAIM_IDLE_MS = 60_000
"""A peer's unacknowledged entry older than this is taken over (its consumer has died); live
consumers look for such entries at start-up and then this often."""


async def publish(redis: Redis, event: JobEvent) -> None:
    await redis.xadd(
        keys.events_stream(event.origin.platform),
        {"event": event.model_dump_json()},
        maxlen=STREAM_MAXLEN,
        approximate=True,
    )


class EventConsumer:
    """Reads one platform's events as ``consumer`` of the delivery group."""

    def __init__(
        self, redis: Redis, platform: str, consumer: str, *, claim_idle_ms: int = CLAIM_IDLE_MS
    ) -> None:
        self.redis = redis
        self.stream = keys.events_stream(platform)
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self._next_claim = 0.0
        # First page through our own pending entries (left by a previous run), from the start.
        self._backlog_after: str | None = "0"

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, keys.DELIVERY_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(self, block_ms: int = 1000, count: int = 100) -> list[tuple[str, JobEvent]]:
        if self._backlog_after is not None:
            entries = await self._read(self._backlog_after, count, block_ms=None)
            if entries:
                self._backlog_after = entries[-1][0]
                return entries
            self._backlog_after = None
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self.claim_idle_ms / 1000
            claimed = await self._claim_abandoned(count)
            if claimed:
                return claimed
        return await self._read(">", count, block_ms=block_ms)

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.stream, keys.DELIVERY_GROUP, entry_id)

    async def _read(
        self, start: str, count: int, block_ms: int | None
    ) -> list[tuple[str, JobEvent]]:
        response = await self.redis.xreadgroup(
            keys.DELIVERY_GROUP, self.consumer, {self.stream: start}, count=count, block=block_ms
        )
        entries: list[tuple[str, JobEvent]] = []
        for _stream, items in response or []:
            entries.extend(await self._parse(items))
        return entries

    async def _claim_abandoned(self, count: int) -> list[tuple[str, JobEvent]]:
        result = await self.redis.xautoclaim(
            self.stream, keys.DELIVERY_GROUP, self.consumer, self.claim_idle_ms, "0-0", count=count
        )
        return await self._parse(result[1])

    async def _parse(
        self, items: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> list[tuple[str, JobEvent]]:
        parsed = []
        for raw_id, fields in items:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            if not fields:  # trimmed away while pending
                continue
            try:
                parsed.append((entry_id, JobEvent.model_validate_json(fields[b"event"])))
            except (KeyError, ValueError):
                log.error("dropping unreadable event %s on %s", entry_id, self.stream)
                await self.ack(entry_id)
        return parsed
