"""Consumes one platform's job events and hands them to its adapter, acknowledging each only
after the adapter has delivered it. At-least-once underneath, exactly-once where the user
looks: a job's final event (clip, failure, cancel) is shown once, however often it arrives."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
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


class Delivery:
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
    ) -> None:
        self.redis = redis
        self.queue = queue
        self.results = results
        self.platform = platform
        self.sink = sink
        self.progress_interval_s = progress_interval_s
        self.retry_after_s = retry_after_s
        self.consumer = EventConsumer(redis, platform, consumer or socket.gethostname())
        self._last_progress: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._retry_at: float | None = None

    async def run(self) -> None:
        await self.consumer.ensure_group()
        while True:
            try:
                await self.run_once(block_ms=1000)
            except RedisError as error:
                log.warning("event stream unavailable (%s); retrying", error)
                await asyncio.sleep(1.0)

    async def run_once(self, block_ms: int = 1000) -> int:
        """Read and handle one batch; returns how many entries it handled."""
        if self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_at = None
            await self.consumer.reclaim()
        entries = await self.consumer.read(block_ms=block_ms)
        superseded = _superseded_progress(entries)
        for entry_id, event in entries:
            if entry_id in superseded:
                await self.consumer.ack(entry_id)
                continue
            await self._handle_entry(entry_id, event)
        return len(entries)

    async def _handle_entry(self, entry_id: str, event: JobEvent) -> None:
        try:
            await self._handle(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            attempts = self._failures.get(entry_id, 0) + 1
            log.exception(
                "delivering %s of job %s failed (attempt %d)", event.kind, event.job_id, attempts
            )
            if attempts < MAX_ATTEMPTS:
                self._failures[entry_id] = attempts
                self._retry_at = time.monotonic() + self.retry_after_s
                return  # left pending: read again after retry_after_s
            log.error("giving up on %s of job %s", event.kind, event.job_id)
        self._failures.pop(entry_id, None)
        await self.consumer.ack(entry_id)

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


def _superseded_progress(entries: list[tuple[str, JobEvent]]) -> set[str]:
    """Progress entries followed by a later event of the same job in the same batch: only the
    newest state is worth an edit."""
    latest: dict[str, str] = {}
    for entry_id, event in entries:
        latest[event.job_id] = entry_id
    return {
        entry_id
        for entry_id, event in entries
        if event.kind is EventKind.PROGRESS and latest[event.job_id] != entry_id
    }
