"""The job-event stream's consumer: a restarted adapter pages through what it left pending."""

from __future__ import annotations

import asyncio

import pytest
from arq.connections import ArqRedis

from clipbot.models import ClipRequest, EventKind, JobEvent, Origin
from clipbot.queue import events

pytestmark = pytest.mark.redis

ALICE = Origin(platform="console", channel="c1", user="alice")


def progress(job: int) -> JobEvent:
    return JobEvent(
        job_id=f"job-{job}",
        kind=EventKind.PROGRESS,
        request=ClipRequest(prompt="a fox"),
        origin=ALICE,
        step=1,
        total_steps=2,
    )


async def read_all(consumer: events.EventConsumer) -> list[tuple[str, JobEvent]]:
    entries: list[tuple[str, JobEvent]] = []
    for _ in range(10):  # bounded: a consumer stuck on one page would otherwise spin forever
        batch = await consumer.read(block_ms=10, count=100)
        if not batch:
            break
        entries += batch
    return entries


async def test_a_restarted_consumer_reads_its_whole_backlog_once_then_new_events(
    redis: ArqRedis,
) -> None:
    first = events.EventConsumer(redis, "console", "adapter-1")
    await first.ensure_group()
    for job in range(250):
        await events.publish(redis, progress(job))
    assert len(await read_all(first)) == 250  # read, never acknowledged: then a "crash"

    await events.publish(redis, progress(250))
    restarted = events.EventConsumer(redis, "console", "adapter-1")
    jobs = [event.job_id for _, event in await read_all(restarted)]
    assert jobs == [f"job-{n}" for n in range(251)]  # each once, in order, then the new one


async def test_a_live_consumer_takes_over_what_a_dead_peer_left_pending(redis: ArqRedis) -> None:
    survivor = events.EventConsumer(redis, "console", "adapter-1", claim_idle_ms=200)
    dead = events.EventConsumer(redis, "console", "adapter-2", claim_idle_ms=200)
    await survivor.ensure_group()
    assert await read_all(survivor) == []  # past its start-up look for abandoned entries
    await events.publish(redis, progress(1))
    assert len(await read_all(dead)) == 1  # read by the peer, which then dies
    await asyncio.sleep(0.3)
    taken = await read_all(survivor)
    assert [event.job_id for _, event in taken] == ["job-1"]
