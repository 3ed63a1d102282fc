"""The GPU worker: an arq worker that renders one clip at a time and reports every step of
the job on the origin platform's event stream.

Two changes to arq's defaults matter for a chat bot:
- pick-up latency: instead of polling every 0.5 s, the worker sleeps until a message on
  ``keys.WAKEUP_CHANNEL`` (published on enqueue and cancel) or a local state change wakes it;
  the poll interval stays as a safety net.
- overlap: the worker holds up to two jobs, but only one may use the GPU. It picks up a second
  job only while the GPU is free, i.e. while the first one is encoding, so it never hoards a
  job that an idle worker elsewhere could start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from arq import Worker
from arq.connections import ArqRedis
from arq.constants import retry_key_prefix
from arq.worker import func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clipbot.config import Settings
from clipbot.errors import ClipbotError, GenerationFailed
from clipbot.generator.contract import EncodedClip, Renderer
from clipbot.models import ClipInfo, EventKind, JobRecord
from clipbot.queue import events, keys, serialization
from clipbot.queue.jobs import JOB_FUNCTION, ClipQueue
from clipbot.queue.limits import UserLimits
from clipbot.queue.results import ResultStore

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
HEARTBEAT_S = 10.0
PROGRESS_MIN_INTERVAL_S = 0.5
REDIS_RETRY_S = 2.0


class ClipWorker(Worker):
    def __init__(
        self, settings: Settings, renderer: Renderer, redis: ArqRedis, **arq_options: Any
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.gpu = asyncio.Lock()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.queue = ClipQueue(
            redis, queue_name=settings.queue_name, record_ttl_s=settings.result_ttl_s
        )
        self.results = ResultStore(redis, settings.result_ttl_s)
        self.limits = UserLimits(
            redis,
            max_in_flight=settings.max_jobs_per_user,
            daily_quota=settings.daily_quota,
            slot_ttl_s=settings.job_timeout_s * settings.max_tries * 2,
        )
        self._wake = asyncio.Event()
        self._past_gpu: set[str] = set()
        self._background: list[asyncio.Task[None]] = []
        super().__init__(
            functions=[
                func(
                    self._run_job,
                    name=JOB_FUNCTION,
                    timeout=settings.job_timeout_s,
                    # one more than allowed, so the last call can tell the user (arq itself
                    # would drop the job silently)
                    max_tries=settings.max_tries + 1,
                )
            ],
            redis_pool=redis,
            queue_name=settings.queue_name,
            max_jobs=2,
            poll_delay=0,
            allow_abort_jobs=True,
            keep_result=3600,
            job_serializer=serialization.dumps,
            job_deserializer=serialization.loads,
            **arq_options,
        )

    # -- arq hooks -------------------------------------------------------------------------

    async def main(self) -> None:
        self._background = [
            asyncio.create_task(self._listen_for_wakeups()),
            asyncio.create_task(self._announce()),
        ]
        try:
            await super().main()
        finally:
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.pool.zrem(keys.WORKERS, self._announcement)

    async def _poll_iteration(self) -> None:
        self._wake.clear()
        self._past_gpu &= self.tasks.keys()
        self.allow_pick_jobs = not self._gpu_claimed()
        try:
            await super()._poll_iteration()
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Redis restarting or the network blinking: keep the model loaded and wait it out.
            log.warning("Redis unavailable (%s); retrying in %.0fs", error, REDIS_RETRY_S)
            await asyncio.sleep(REDIS_RETRY_S)
            return
        # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives as the event
        # is set, and the worker would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(IDLE_POLL_S):
                await self._wake.wait()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq would start every job it read while slots are free; take one at a time, and
        # none while a job of ours still waits for or uses the GPU.
        for job_id in job_ids:
            if self._gpu_claimed():
                return
            await super().start_jobs([job_id])

    def _gpu_claimed(self) -> bool:
        """True while a job in hand has not finished with the GPU."""
        return any(
            not task.done() and job_id not in self._past_gpu for job_id, task in self.tasks.items()
        )

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._wake.set()

    # -- background tasks ------------------------------------------------------------------

    @property
    def _announcement(self) -> str:
        return f"{self.worker_id}|{self.renderer.model_name}"

    async def _announce(self) -> None:
        """Tell the bot which model this worker serves (for validation and autocomplete)."""
        while True:
            with contextlib.suppress(RedisError):
                await self.pool.zadd(keys.WORKERS, {self._announcement: time.time()})
            await asyncio.sleep(HEARTBEAT_S)

    async def _listen_for_wakeups(self) -> None:
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(keys.WAKEUP_CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except RedisError as error:
                log.warning("wake-up channel lost (%s); polling until it is back", error)
                await asyncio.sleep(1.0)

    # -- the job ---------------------------------------------------------------------------

    async def _run_job(self, ctx: dict[str, Any]) -> dict[str, Any]:
        # The job's request and origin live in its record, not in arq's payload: arq logs its
        # arguments, and an origin carries reply handles (a Discord interaction token).
        try:
            job = await self.queue.record(ctx["job_id"])
        except ClipbotError:
            log.error("job %s has no record (expired before it ran); dropped", ctx["job_id"])
            return {}
        started = time.monotonic()
        if ctx["job_try"] > self.settings.max_tries:
            await self._finish(
                job,
                EventKind.FAILED,
                message=f"This clip stopped its worker {self.settings.max_tries} times "
                "and was given up; try a shorter or smaller clip.",
            )
            return {}
        try:
            info = await self.results.info(job.job_id)
            if info is None:
                info = await self._render_and_store(job)
            else:
                log.info("job %s was already rendered by an earlier try; announcing it", job.job_id)
            await self._finish(job, EventKind.DONE, clip=info)
            return info.model_dump()
        except asyncio.CancelledError:
            if job.job_id in self.aborting_tasks:
                await self._finish(job, EventKind.CANCELLED, message="Cancelled.")
            elif time.monotonic() - started >= self.settings.job_timeout_s - 1:
                await self._finish(
                    job,
                    EventKind.FAILED,
                    message=f"The clip took longer than {self.settings.job_timeout_s}s; stopped.",
                )
            else:
                await self._hand_back(job)
            raise
        except ClipbotError as error:
            await self._finish(job, EventKind.FAILED, message=str(error))
        except Exception as error:
            log.exception("job %s failed", job.job_id)
            await self._finish(
                job,
                EventKind.FAILED,
                message=f"The worker failed to render this clip ({type(error).__name__}). "
                "Try again, perhaps shorter or smaller.",
            )
        finally:
            self._done_with_gpu(job)
        return {}

    async def _hand_back(self, job: JobRecord) -> None:
        """The worker is shutting down and arq puts the job back on the queue. arq counted
        this run as one of the job's tries; a graceful stop is not the job's fault, so give
        the try back (a crash, where this never runs, still counts)."""
        with contextlib.suppress(RedisError):
            await asyncio.shield(self.pool.decr(retry_key_prefix + job.job_id))
        log.info("job %s handed back to the queue (worker stopping)", job.job_id)

    def _done_with_gpu(self, job: JobRecord) -> None:
        """Let the worker pick up its next job (this one may still be encoding)."""
        self._past_gpu.add(job.job_id)
        self._wake.set()

    async def _render_and_store(self, job: JobRecord) -> ClipInfo:
        async with self.gpu:
            await self.queue.set_status(job.job_id, EventKind.STARTED)
            await events.publish(self.pool, job.event(EventKind.STARTED, position=0))
            await self._announce_positions()
            frames = await self._render(job)
        self._done_with_gpu(job)
        clip: EncodedClip = await asyncio.to_thread(self.renderer.encode, frames, job.request)
        if len(clip.data) > job.request.max_bytes:
            raise GenerationFailed(
                f"The clip is {len(clip.data) / 2**20:.1f} MiB, over this channel's upload "
                f"limit of {job.request.max_bytes / 2**20:.1f} MiB; try a shorter clip."
            )
        info = ClipInfo(
            bytes=len(clip.data),
            width=clip.width,
            height=clip.height,
            frames=clip.frames,
            fps=clip.fps,
            seed=job.request.seed or 0,
            model=self.renderer.model_name,
            has_poster=clip.poster is not None,
        )
        await self.results.put(job.job_id, clip, info)
        return info

    async def _render(self, job: JobRecord) -> Any:
        """Run the pipeline in a thread; report progress; stop it between steps if cancelled."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        latest: list[tuple[int, int]] = []
        changed = asyncio.Event()

        def on_progress(step: int, total: int) -> None:
            latest.append((step, total))
            loop.call_soon_threadsafe(changed.set)

        async def report() -> None:
            sent: tuple[int, int] | None = None
            while True:
                await changed.wait()
                changed.clear()
                if latest and latest[-1] != sent:
                    sent = latest[-1]
                    await events.publish(
                        self.pool,
                        job.event(EventKind.PROGRESS, step=sent[0], total_steps=sent[1]),
                    )
                await asyncio.sleep(PROGRESS_MIN_INTERVAL_S)

        reporter = asyncio.create_task(report())
        render = loop.run_in_executor(
            None, self.renderer.render, job.request, on_progress, stop.is_set
        )
        try:
            return await asyncio.shield(render)
        except asyncio.CancelledError:
            stop.set()
            with contextlib.suppress(Exception):
                await render  # wait until the pipeline has really let go of the GPU
            raise
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    async def _finish(self, job: JobRecord, kind: EventKind, **fields: Any) -> None:
        await self.queue.set_status(job.job_id, kind)
        await events.publish(self.pool, job.event(kind, **fields))
        await self.limits.release(job.origin, job.job_id)

    async def _announce_positions(self) -> None:
        """Tell every waiting job its new place in the line."""
        for position, job_id in enumerate(await self.queue.waiting_jobs(), start=1):
            try:
                record = await self.queue.record(job_id)
            except ClipbotError:
                continue
            await events.publish(self.pool, record.event(EventKind.QUEUED, position=position))
