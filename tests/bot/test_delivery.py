"""Delivery on a real private Redis with a sink whose edits for a chosen job wait until the
test lets them through, as an edit waits out a chat platform's rate limit: one slow job must
not hold up another's clip, and what piles up behind it must collapse, not queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clipbot.bot.core import BotCore, Submission
from clipbot.bot.delivery import ClipFile
from clipbot.generator.contract import EncodedClip
from clipbot.models import ClipInfo, ClipRequest, EventKind, JobEvent, Origin
from clipbot.queue import events, keys
from clipbot.queue.results import ResultStore
from tests.conftest import delivering, eventually
from tests.doubles import RecordingSink

pytestmark = pytest.mark.redis

ALICE = Origin(platform="console", channel="c1", user="alice")
BOB = Origin(platform="console", channel="c1", user="bob")
STREAM = keys.events_stream("console")


class GatedSink(RecordingSink):
    """Records like RecordingSink, but a call for a job whose gate is shut waits until the
    gate opens; ``held`` names the jobs waiting there now."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[str, asyncio.Event] = {}
        self.held: set[str] = set()
        self.in_flight = 0
        self.most_in_flight = 0

    def shut(self, job_id: str) -> asyncio.Event:
        gate = self.gates[job_id] = asyncio.Event()
        return gate

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            gate = self.gates.get(event.job_id)
            if gate is not None and not gate.is_set():
                self.held.add(event.job_id)
                self._changed.set()
                await gate.wait()
                self.held.discard(event.job_id)
            return await super().deliver(event, clip)
        finally:
            self.in_flight -= 1


@contextlib.asynccontextmanager
async def first_edit_held(
    core: BotCore, prompt: str
) -> AsyncIterator[tuple[GatedSink, Submission, asyncio.Event]]:
    """Delivery running, with the first edit of a new job waiting at its shut gate."""
    sink = GatedSink()
    job = await core.submit(ClipRequest(prompt=prompt), ALICE)
    gate = sink.shut(job.job_id)
    async with delivering(core, sink):
        await sink.wait_for(lambda: job.job_id in sink.held)
        yield sink, job, gate


async def publish(core: BotCore, job_id: str, kind: EventKind, **fields: Any) -> None:
    record = await core.queue.record(job_id)
    event = JobEvent(
        job_id=job_id, kind=kind, request=record.request, origin=record.origin, **fields
    )
    await events.publish(core.redis, event)


async def finish(core: BotCore, job_id: str) -> None:
    """Store a rendered clip for the job, as a worker does before announcing it."""
    clip = EncodedClip(data=b"mp4!", width=64, height=64, frames=9, fps=8.0)
    info = ClipInfo(bytes=4, width=64, height=64, frames=9, fps=8.0, seed=1, model="m")
    await ResultStore(core.redis, 3600).put(job_id, clip, info)
    await publish(core, job_id, EventKind.DONE, clip=info)


async def all_taken(core: BotCore, pending: int) -> bool | None:
    """True once Delivery has read every entry of the stream and exactly ``pending`` of them
    are still unacknowledged."""
    [(last_id, _fields)] = await core.redis.xrevrange(STREAM, count=1)
    summary = await core.redis.xpending(STREAM, keys.DELIVERY_GROUP)
    [group] = await core.redis.xinfo_groups(STREAM)
    read_all = group["last-delivered-id"] == last_id
    return True if read_all and summary["pending"] == pending else None


async def test_a_job_stuck_in_a_slow_edit_does_not_hold_up_another_jobs_clip(
    core: BotCore,
) -> None:
    sink = GatedSink()
    slow = await core.submit(ClipRequest(prompt="slow to edit"), ALICE)
    other = await core.submit(ClipRequest(prompt="quick"), BOB)
    gate = sink.shut(slow.job_id)
    async with delivering(core, sink):
        await sink.wait_for(lambda: slow.job_id in sink.held)
        await finish(core, other.job_id)
        await sink.wait_for(lambda: bool(sink.finals(other.job_id)))
        assert sink.kinds(other.job_id) == [EventKind.QUEUED, EventKind.DONE]
        assert sink.kinds(slow.job_id) == []  # still waiting out its edit
        gate.set()
        await sink.wait_for(lambda: sink.kinds(slow.job_id) == [EventKind.QUEUED])
        # reactions on the delivered clip find their job
        message = f"message-{other.job_id}"
        linked = await eventually(lambda: core.queue.job_for_message("console", "c1", message))
    assert linked == other.job_id


async def test_progress_piling_up_behind_a_slow_edit_collapses_into_the_newest(
    core: BotCore,
) -> None:
    async with first_edit_held(core, "rate limited") as (sink, job, gate):
        await publish(core, job.job_id, EventKind.STARTED)
        for step in range(1, 11):
            await publish(core, job.job_id, EventKind.PROGRESS, step=step, total_steps=10)
        # the edit in progress and the newest update are all that is left unacknowledged
        await eventually(lambda: all_taken(core, pending=2))
        gate.set()
        await sink.wait_for(lambda: EventKind.PROGRESS in sink.kinds(job.job_id))
        await finish(core, job.job_id)
        await finish(core, job.job_id)  # announced twice (a worker's re-run)
        await sink.wait_for(lambda: bool(sink.finals(job.job_id)))
        await eventually(lambda: all_taken(core, pending=0))
    assert sink.kinds(job.job_id) == [EventKind.QUEUED, EventKind.PROGRESS, EventKind.DONE]
    assert [e.step for e in sink.events if e.kind is EventKind.PROGRESS] == [10]
    assert sink.clips[job.job_id].data == b"mp4!"


async def test_a_clip_that_arrives_behind_a_slow_edit_is_shown_once_after_it(
    core: BotCore,
) -> None:
    async with first_edit_held(core, "rate limited") as (sink, job, gate):
        for step in range(1, 4):
            await publish(core, job.job_id, EventKind.PROGRESS, step=step, total_steps=3)
        await finish(core, job.job_id)
        await finish(core, job.job_id)
        await publish(core, job.job_id, EventKind.PROGRESS, step=3, total_steps=3)  # stale
        # final events are never superseded: both wait, and the stale update behind them
        await eventually(lambda: all_taken(core, pending=4))
        gate.set()
        await eventually(lambda: all_taken(core, pending=0))
    assert sink.kinds(job.job_id) == [EventKind.QUEUED, EventKind.DONE]


async def test_no_more_jobs_than_the_concurrency_are_delivered_at_once(core: BotCore) -> None:
    sink = GatedSink()
    jobs = [await core.submit(ClipRequest(prompt=f"job {n}"), ALICE) for n in range(3)]
    gates = [sink.shut(job.job_id) for job in jobs]
    async with delivering(core, sink, concurrency=2):
        await sink.wait_for(lambda: len(sink.held) == 2)
        await eventually(lambda: all_taken(core, pending=3))
        await asyncio.sleep(0.2)  # room for a third call to start, if one (wrongly) could
        assert sink.in_flight == 2
        for gate in gates:
            gate.set()
        await eventually(lambda: all_taken(core, pending=0))
    assert sink.most_in_flight == 2
    assert all(sink.kinds(job.job_id) == [EventKind.QUEUED] for job in jobs)


async def test_a_restarted_delivery_works_through_its_backlog_and_new_events(
    core: BotCore,
) -> None:
    slow = await core.submit(ClipRequest(prompt="slow to edit"), ALICE)
    other = await core.submit(ClipRequest(prompt="quick"), BOB)
    first = GatedSink()
    first.shut(slow.job_id)
    async with delivering(core, first):
        await first.wait_for(lambda: slow.job_id in first.held)
        await publish(core, slow.job_id, EventKind.PROGRESS, step=1, total_steps=2)
        await eventually(lambda: all_taken(core, pending=2))
    # that adapter died with the slow job's status edit and its newest progress in hand

    sink = RecordingSink()
    async with delivering(core, sink):  # the same consumer name, as after a restart
        await finish(core, other.job_id)
        await finish(core, slow.job_id)
        await sink.wait_for(lambda: bool(sink.finals(slow.job_id) and sink.finals(other.job_id)))
        await eventually(lambda: all_taken(core, pending=0))
    assert first.kinds(other.job_id) == [EventKind.QUEUED]
    assert sink.kinds(other.job_id) == [EventKind.DONE]
    kinds = sink.kinds(slow.job_id)
    assert kinds[0] is EventKind.QUEUED and kinds[-1] is EventKind.DONE
    assert kinds.count(EventKind.DONE) == 1
