"""Finished clips: bytes, poster and description in Redis under the job id, with a TTL."""

from __future__ import annotations

from redis.asyncio import Redis

from clipbot.generator.contract import EncodedClip
from clipbot.models import ClipInfo
from clipbot.queue import keys


class ResultStore:
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def put(self, job_id: str, clip: EncodedClip, info: ClipInfo) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.clip_data(job_id), clip.data, ex=self.ttl_s)
            if clip.poster is not None:
                pipe.set(keys.clip_poster(job_id), clip.poster, ex=self.ttl_s)
            # Written last: its presence means the clip is complete.
            pipe.set(keys.clip_info(job_id), info.model_dump_json(), ex=self.ttl_s)
            await pipe.execute()

    async def info(self, job_id: str) -> ClipInfo | None:
        raw = await self.redis.get(keys.clip_info(job_id))
        return None if raw is None else ClipInfo.model_validate_json(raw)

    async def data(self, job_id: str) -> bytes | None:
        value: bytes | None = await self.redis.get(keys.clip_data(job_id))
        return value

    async def poster(self, job_id: str) -> bytes | None:
        value: bytes | None = await self.redis.get(keys.clip_poster(job_id))
        return value
