"""Queue overhead with a no-op generator: how long a job waits for a worker, how long a finished
clip waits for delivery, and jobs per second, for clipbot's worker and for arq's defaults.

    python bench/queue_overhead.py [--jobs 50]

Prints one JSON object. Latencies come from jobs sent one at a time to an idle worker;
jobs/s from a burst of the same number of jobs. A private redis-server is started for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Worker

from clipbot.bot.delivery import ClipFile, Delivery
from clipbot.config import Settings
from clipbot.generator.contract import EncodedClip, ProgressFn, StopFn
from clipbot.models import ClipRequest, EventKind, JobEvent, Origin
from clipbot.queue import connection, keys, serialization
from clipbot.queue.embedded import EmbeddedRedis
from clipbot.queue.jobs import ClipQueue
from clipbot.queue.results import ResultStore
from clipbot.queue.worker import ClipWorker

ORIGIN = Origin(platform="console", channel="bench", user="bench")


class NoOpRenderer:
    model_name = "no-op"

    def render(self, request: ClipRequest, on_progress: ProgressFn, should_stop: StopFn) -> None:
        on_progress(1, 1)

    def encode(self, frames: None, request: ClipRequest) -> EncodedClip:
        return EncodedClip(data=b"\0" * 1024, width=64, height=64, frames=9, fps=8.0)


class ArqDefaultWorker(ClipWorker):
    """The same job, picked up the way arq does by default: polling every 0.5 s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_delay_s = 0.5

    async def _poll_iteration(self) -> None:
        await Worker._poll_iteration(self)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        await Worker.start_jobs(self, job_ids)


class Arrivals:
    """Records when each job's DONE reaches the adapter."""

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        if event.kind is EventKind.DONE:
            self.delivered[event.job_id] = time.time()
            self.changed.set()
        return None

    async def wait(self, done: Callable[[], bool], timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not done():
                    self.changed.clear()
                    await self.changed.wait()


@contextlib.asynccontextmanager
async def running(coroutine: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(coroutine)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def event_times(redis: ArqRedis) -> dict[tuple[str, EventKind], float]:
    times: dict[tuple[str, EventKind], float] = {}
    for _id, fields in await redis.xrange(keys.events_stream("console")):
        event = JobEvent.model_validate_json(fields[b"event"])
        times.setdefault((event.job_id, event.kind), event.at)
    return times


async def measure(worker_class: type[ClipWorker], url: str, jobs: int) -> dict[str, Any]:
    settings = Settings(_env_file=None, redis_url=url, job_timeout_s=30)
    redis = await connection.connect(url, queue_name=settings.queue_name)
    await redis.flushall()
    worker_redis = await connection.connect(url, queue_name=settings.queue_name)
    worker = worker_class(settings, NoOpRenderer(), worker_redis, handle_signals=False)
    queue = ClipQueue(redis, queue_name=settings.queue_name, record_ttl_s=3600)
    arrivals = Arrivals()
    delivery = Delivery(redis, queue, ResultStore(redis, 3600), "console", arrivals)
    by_arq = worker_class is ArqDefaultWorker
    enqueued: dict[str, float] = {}

    async def send() -> str:
        job_id = queue.new_job_id()
        enqueued[job_id] = time.time()
        await queue.enqueue(job_id, ClipRequest(prompt="bench", seed=1), ORIGIN)
        return job_id

    async def finish(job_id: str) -> None:
        if by_arq:  # arq's way to learn a job is done: poll its result every 0.5 s
            job = Job(job_id, redis, settings.queue_name, _deserializer=serialization.loads)
            await job.result(timeout=30)
            arrivals.delivered[job_id] = time.time()
        else:
            await arrivals.wait(lambda: job_id in arrivals.delivered, 30)

    async with running(worker.main()), running(delivery.run()):
        await asyncio.sleep(1.0)  # worker and delivery settle
        await finish(await send())  # warm-up, not counted
        sequential: list[str] = []
        for _ in range(jobs):
            # arrive at a random moment of the worker's 0.5 s poll cycle, as users do
            await asyncio.sleep(random.uniform(0, 0.5))
            job_id = await send()
            sequential.append(job_id)
            with contextlib.suppress(TimeoutError):
                await finish(job_id)
        started = time.time()
        burst = [await send() for _ in range(jobs)]
        await asyncio.gather(*(finish(job_id) for job_id in burst), return_exceptions=True)
        burst_s = time.time() - started
        times = await event_times(redis)
    await worker.close()
    await redis.aclose()

    pickup, deliver = [], []
    for job_id in sequential:
        if job_id in arrivals.delivered:
            pickup.append(times[(job_id, EventKind.STARTED)] - enqueued[job_id])
            deliver.append(arrivals.delivered[job_id] - times[(job_id, EventKind.DONE)])
    lost = sum(job_id not in arrivals.delivered for job_id in sequential + burst)
    return {
        "pickup_ms_p50": round(percentile(pickup, 50) * 1000, 1),
        "pickup_ms_p99": round(percentile(pickup, 99) * 1000, 1),
        "delivery_ms_p50": round(percentile(deliver, 50) * 1000, 1),
        "delivery_ms_p99": round(percentile(deliver, 99) * 1000, 1),
        "jobs_per_s": round(len(burst) / burst_s, 1),
        "jobs": jobs,
        "lost": lost,
    }


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def main(jobs: int) -> dict[str, Any]:
    with EmbeddedRedis() as server:
        return {
            "clipbot": await measure(ClipWorker, server.url, jobs),
            "arq_default": await measure(ArqDefaultWorker, server.url, jobs),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    print(json.dumps(asyncio.run(main(parser.parse_args().jobs))))
