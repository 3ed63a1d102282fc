"""Consumes one platform's job events and hands them to its adapter, acknowledging each only
after the adapter has delivered it (or a newer status update of the same job has replaced
it). At-least-once underneath, exactly-once where the user looks: a job's final event (clip,
failure, cancel) is shown once, however often it arrives."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from clipbot.models import TERMINAL_EVENTS, ClipInfo, EventKind, JobEvent
from clipbot.queue import keys
from clipbot.queue.events import EventConsumer
from clipbot.queue.jobs import ClipQueue
from clipbot.queue.results import ResultStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
DELIVERED_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class ClipFile:
    data: bytes
    info: ClipInfo
    poster: bytes | None

    @property
    def filename(self) -> str:
        return f"clip-{self.info.seed}.mp4"


class Sink(Protocol):
    """What an adapter implements to show a job's life to its user."""

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        """Show ``event`` (``clip`` is set for DONE). Return the id of the message that now
        shows the clip, if any, so reactions on it find the job."""
        ...


@dataclass
class _Entry:
    entry_id: str
    event: JobEvent
    attempts: int = 0


class Delivery:
    """Hands one platform's events to its sink, one lane per job: a job's events are shown in
    order, while other jobs' go ahead of its slow edit (a rate-limit wait, a retry). Status
    updates that pile up behind a slow edit collapse into the newest, since each one only
    replaces what the job's status message says; final events are never dropped."""

    def __init__(
        self,
        redis: Redis,
        queue: ClipQueue,
        results: ResultStore,
        platform: str,
        sink: Sink,
        *,
        consumer: str | None = None,
        progress_interval_s: float = 1.5,
        retry_after_s: float = 5.0,
        concurrency: int = 16,
    ) -> None:
        self.redis = redis
        self.queue = queue
        self.results = results
        self.platform = platform
        self.sink = sink
        self.progress_interval_s = progress_interval_s
        self.retry_after_s = retry_after_s
        self.consumer = EventConsumer(redis, platform, consumer or socket.gethostname())
        self._slots = asyncio.Semaphore(concurrency)  # jobs being delivered at once
        self._last_progress: dict[str, float] = {}
        self._lanes: dict[str, deque[_Entry]] = {}  # job id -> entries waiting behind its edit
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        await self.consumer.ensure_group()
        try:
            while True:
                try:
                    await self._read(block_ms=1000)
                except RedisError as error:
                    log.warning("event stream unavailable (%s); retrying", error)
                    await asyncio.sleep(1.0)
        finally:
            for task in self._tasks:
                task.cancel()  # their entries stay pending, to be read again after a restart
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_once(self, block_ms: int = 1000) -> int:
        """Read one batch and wait until everything in hand is handled; returns how many
        entries it took. ``run`` does not wait: it reads on while lanes deliver."""
        taken = await self._read(block_ms)
        await asyncio.gather(*self._tasks)
        return taken

    async def _read(self, block_ms: int) -> int:
        entries = await self.consumer.read(block_ms=block_ms)
        for entry_id, event in entries:
            await self._take(_Entry(entry_id, event))
        return len(entries)

    async def _take(self, entry: _Entry) -> None:
        """Start a lane for the entry's job, or queue the entry behind the edit in progress;
        a status update already waiting there is superseded by it."""
        job_id = entry.event.job_id
        waiting = self._lanes.get(job_id)
        if waiting is None:
            self._lanes[job_id] = deque()
            task = asyncio.create_task(self._deliver_lane(entry, self._lanes[job_id]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        stale = waiting.pop() if waiting and waiting[-1].event.kind not in TERMINAL_EVENTS else None
        waiting.append(entry)  # before the await below, so the lane cannot end without it
        if stale is not None:
            await self._ack(stale)

    async def _deliver_lane(self, entry: _Entry, waiting: deque[_Entry]) -> None:
        """Deliver one job's entries in order until none is waiting."""
        try:
            while True:
                if not await self._attempt(entry):
                    await asyncio.sleep(self.retry_after_s)
                    if not waiting or entry.event.kind in TERMINAL_EVENTS:
                        continue  # try the same entry again
                    await self._ack(entry)  # a newer event of the job supersedes it
                if not waiting:
                    return
                entry = waiting.popleft()
        finally:
            del self._lanes[entry.event.job_id]

    async def _attempt(self, entry: _Entry) -> bool:
        """Deliver and acknowledge one entry; False when it failed and deserves another try."""
        event = entry.event
        try:
            async with self._slots:
                await self._handle(event)
        except Exception:
            entry.attempts += 1
            log.exception(
                "delivering %s of job %s failed (attempt %d)",
                event.kind,
                event.job_id,
                entry.attempts,
            )
            if entry.attempts < MAX_ATTEMPTS:
                return False
            log.error("giving up on %s of job %s", event.kind, event.job_id)
        await self._ack(entry)
        return True

    async def _ack(self, entry: _Entry) -> None:
        try:
            await self.consumer.ack(entry.entry_id)
        except RedisError as error:
            # Left pending: delivered again after a restart (a final event still only once).
            log.warning("acknowledging event %s failed (%s)", entry.entry_id, error)

    async def _handle(self, event: JobEvent) -> None:
        marker = keys.delivered(self.platform, event.job_id)
        if await self.redis.exists(marker):
            return  # the job's outcome is already shown; later or repeated events are stale
        if event.kind is EventKind.PROGRESS and not self._progress_due(event):
            return
        clip = None
        if event.kind is EventKind.DONE:
            clip = await self._load_clip(event)
            if clip is None:
                event = event.model_copy(
                    update={
                        "kind": EventKind.FAILED,
                        "message": "The finished clip expired before it could be posted.",
                    }
                )
        message_id = await self.sink.deliver(event, clip)
        if event.kind in TERMINAL_EVENTS:
            self._last_progress.pop(event.job_id, None)
            await self.redis.set(marker, "1", ex=DELIVERED_TTL_S)
            if message_id is not None:
                await self.queue.link_message(
                    self.platform, event.origin.channel, message_id, event.job_id
                )

    def _progress_due(self, event: JobEvent) -> bool:
        now = time.monotonic()
        last = self._last_progress.get(event.job_id)
        if last is not None and now - last < self.progress_interval_s:
            return False
        self._last_progress[event.job_id] = now
        return True

    async def _load_clip(self, event: JobEvent) -> ClipFile | None:
        data = await self.results.data(event.job_id)
        if data is None:
            return None
        info = event.clip or await self.results.info(event.job_id)
        if info is None:
            return None
        return ClipFile(data=data, info=info, poster=await self.results.poster(event.job_id))
