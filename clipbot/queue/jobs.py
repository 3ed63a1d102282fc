"""The bot side of the queue: enqueue a clip job on arq, tell its position, cancel it, and keep
the records that reactions and `/queue` read (job record, message lineage)."""

from __future__ import annotations

import time
import uuid

from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix

from clipbot.errors import UnknownJob
from clipbot.models import TERMINAL_EVENTS, ClipRequest, EventKind, JobRecord, Origin
from clipbot.queue import events, keys

JOB_FUNCTION = "render_clip"
WORKER_FRESH_S = 30.0
"""A worker that has not announced itself for this long is considered gone."""


class ClipQueue:
    def __init__(self, redis: ArqRedis, *, queue_name: str, record_ttl_s: int) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.record_ttl_s = record_ttl_s

    @staticmethod
    def new_job_id() -> str:
        return uuid.uuid4().hex

    async def enqueue(self, job_id: str, request: ClipRequest, origin: Origin) -> int:
        """Queue the job, announce it on the origin's event stream, return its position."""
        record = JobRecord(job_id=job_id, request=request, origin=origin)
        await self.save(record)
        await self.redis.zadd(keys.user_jobs(origin.platform, origin.user), {job_id: time.time()})
        await self.redis.expire(keys.user_jobs(origin.platform, origin.user), self.record_ttl_s)
        await self.redis.enqueue_job(JOB_FUNCTION, _job_id=job_id, _queue_name=self.queue_name)
        position = await self.position(job_id) or 1
        await events.publish(self.redis, record.event(EventKind.QUEUED, position=position))
        await self.redis.publish(keys.WAKEUP_CHANNEL, job_id)
        return position

    async def position(self, job_id: str) -> int | None:
        """1 = next to start; 0 = a worker has picked it up; None = no longer queued."""
        waiting: list[str] = [
            raw.decode() for raw in await self.redis.zrange(self.queue_name, 0, -1)
        ]
        if job_id not in waiting:
            return None
        ahead = waiting[: waiting.index(job_id) + 1]
        async with self.redis.pipeline(transaction=False) as pipe:
            for other in ahead:
                pipe.exists(in_progress_key_prefix + other)
            running = await pipe.execute()
        if running[-1]:
            return 0
        return 1 + sum(1 for is_running in running[:-1] if not is_running)

    async def waiting_jobs(self) -> list[str]:
        """Ids still in the queue and not picked up by a worker, oldest first."""
        waiting = [raw.decode() for raw in await self.redis.zrange(self.queue_name, 0, -1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in waiting:
                pipe.exists(in_progress_key_prefix + job_id)
            running = await pipe.execute()
        return [job_id for job_id, busy in zip(waiting, running, strict=True) if not busy]

    async def save(self, record: JobRecord) -> None:
        await self.redis.set(
            keys.job_record(record.job_id), record.model_dump_json(), ex=self.record_ttl_s
        )

    async def record(self, job_id: str) -> JobRecord:
        raw = await self.redis.get(keys.job_record(job_id))
        if raw is None:
            raise UnknownJob("That clip is no longer known to the bot (it may have expired).")
        return JobRecord.model_validate_json(raw)

    async def set_status(self, job_id: str, status: EventKind) -> None:
        try:
            record = await self.record(job_id)
        except UnknownJob:
            return
        await self.save(record.model_copy(update={"status": status}))

    async def user_jobs(self, origin: Origin) -> list[JobRecord]:
        """The user's jobs that are still queued or rendering, oldest first."""
        ids = await self.redis.zrange(keys.user_jobs(origin.platform, origin.user), 0, -1)
        records = []
        for raw in ids:
            try:
                record = await self.record(raw.decode())
            except UnknownJob:
                continue
            if record.status not in TERMINAL_EVENTS:
                records.append(record)
        return records

    async def cancel(self, record: JobRecord) -> bool:
        """Ask for the job to stop. Returns True when it was still waiting and is now removed
        (the caller announces it); a running job is aborted by its worker, which announces it."""
        job_id = record.job_id
        await self.redis.zadd(abort_jobs_ss, {job_id: int(time.time() * 1000)})
        if await self.redis.exists(in_progress_key_prefix + job_id):
            await self.redis.publish(keys.WAKEUP_CHANNEL, job_id)  # abort promptly
            return False
        # A worker that picks it up from here on sees the abort mark and never starts it.
        removed = await self.redis.zrem(self.queue_name, job_id)
        await self.redis.delete(job_key_prefix + job_id)
        return bool(removed)

    async def link_message(self, platform: str, channel: str, message: str, job_id: str) -> None:
        """Remember which job a chat message shows, so reactions on it find the clip."""
        await self.redis.set(keys.lineage(platform, channel, message), job_id, ex=self.record_ttl_s)

    async def job_for_message(self, platform: str, channel: str, message: str) -> str | None:
        raw = await self.redis.get(keys.lineage(platform, channel, message))
        return None if raw is None else raw.decode()

    async def live_models(self) -> list[str]:
        """Models served by workers that announced themselves recently."""
        fresh = await self.redis.zrangebyscore(keys.WORKERS, time.time() - WORKER_FRESH_S, "+inf")
        return sorted({raw.decode().split("|", 1)[1] for raw in fresh})
