"""Enqueue -> worker -> events -> delivery, against a real private redis-server."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest
from arq.connections import ArqRedis

from clipbot.bot.core import BotCore
from clipbot.config import Settings
from clipbot.errors import LimitReached, NotAllowed
from clipbot.models import ClipRequest, EventKind, Origin
from tests.conftest import WorkerFactory, delivering, eventually, make_core
from tests.doubles import RecordingSink, StepRenderer

pytestmark = pytest.mark.redis
T = TypeVar("T")

ALICE = Origin(platform="console", channel="c1", user="alice")
BOB = Origin(platform="console", channel="c1", user="bob")


async def test_a_clip_goes_from_enqueue_to_delivery_with_progress(
    core: BotCore, start_worker: WorkerFactory
) -> None:
    sink = RecordingSink()
    renderer = StepRenderer(steps=4, step_s=0.6)
    async with start_worker(renderer), delivering(core, sink):
        submission = await core.submit(ClipRequest(prompt="a red fox", seed=3), ALICE)
        await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
        linked = await eventually(
            lambda: core.queue.job_for_message("console", "c1", f"message-{submission.job_id}")
        )

    kinds = sink.kinds(submission.job_id)
    assert kinds[0] is EventKind.QUEUED
    assert EventKind.STARTED in kinds and EventKind.PROGRESS in kinds
    assert kinds[-1] is EventKind.DONE and kinds.count(EventKind.DONE) == 1
    assert sink.clips[submission.job_id].data == b"clip:a red fox:3"
    assert sink.clips[submission.job_id].info.seed == 3
    # the delivered message now leads back to the job, for reactions
    assert linked == submission.job_id


async def test_seed_is_chosen_and_recorded_when_not_given(core: BotCore) -> None:
    first = await core.submit(ClipRequest(prompt="waves"), ALICE)
    second = await core.submit(ClipRequest(prompt="waves"), ALICE)
    assert first.request.seed is not None and second.request.seed is not None
    assert first.request.seed != second.request.seed
    assert (await core.queue.record(first.job_id)).request.seed == first.request.seed


async def test_three_waiting_jobs_have_positions_one_two_three(core: BotCore) -> None:
    submissions = [
        await core.submit(ClipRequest(prompt=f"clip {n}"), origin)
        for n, origin in enumerate([ALICE, BOB, ALICE])
    ]
    assert [s.position for s in submissions] == [1, 2, 3]
    assert [await core.queue.position(s.job_id) for s in submissions] == [1, 2, 3]
    mine = await core.jobs_of(ALICE)
    assert [(record.request.prompt, position) for record, position in mine] == [
        ("clip 0", 1),
        ("clip 2", 3),
    ]
    # cancelling the first moves the others up
    await core.cancel(submissions[0].job_id, ALICE)
    assert [await core.queue.position(s.job_id) for s in submissions[1:]] == [1, 2]


async def test_positions_are_announced_again_when_the_line_moves(
    core: BotCore, start_worker: WorkerFactory
) -> None:
    sink = RecordingSink()
    first = await core.submit(ClipRequest(prompt="first"), ALICE)
    second = await core.submit(ClipRequest(prompt="second"), BOB)
    async with start_worker(StepRenderer(steps=2, step_s=0.2)), delivering(core, sink):
        await sink.wait_for(lambda: bool(sink.finals(second.job_id)))
    positions = [
        e.position for e in sink.events if e.job_id == second.job_id and e.kind is EventKind.QUEUED
    ]
    assert positions[0] == 2 and 1 in positions[1:]
    assert sink.finals(first.job_id)[0].kind is EventKind.DONE


async def test_cancelling_a_queued_job_removes_it_and_frees_the_slot(
    core: BotCore, start_worker: WorkerFactory
) -> None:
    sink = RecordingSink()
    renderer = StepRenderer()
    submission = await core.submit(ClipRequest(prompt="never mind"), ALICE)
    assert await core.limits.in_flight(ALICE) == 1
    with pytest.raises(NotAllowed):
        await core.cancel(submission.job_id, BOB)
    await core.cancel(submission.job_id, ALICE)
    assert await core.limits.in_flight(ALICE) == 0
    async with start_worker(renderer), delivering(core, sink):
        await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
        await asyncio.sleep(1.0)  # give the worker a chance to (wrongly) run it
    assert [e.kind for e in sink.finals(submission.job_id)] == [EventKind.CANCELLED]
    assert renderer.rendered == [] and not renderer.started.is_set()


async def test_cancelling_a_running_job_stops_the_render_within_a_step(
    core: BotCore, start_worker: WorkerFactory
) -> None:
    sink = RecordingSink()
    renderer = StepRenderer(steps=50, step_s=0.1)
    async with start_worker(renderer), delivering(core, sink):
        submission = await core.submit(ClipRequest(prompt="long one"), ALICE)
        await sink.wait_for(lambda: EventKind.PROGRESS in sink.kinds(submission.job_id))
        await core.cancel(submission.job_id, ALICE)
        await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
        after = await core.submit(ClipRequest(prompt="next one"), ALICE)
        await sink.wait_for(lambda: bool(sink.finals(after.job_id)), timeout=30)
    assert [e.kind for e in sink.finals(submission.job_id)] == [EventKind.CANCELLED]
    assert len(renderer.stopped_at) == 1 and renderer.stopped_at[0] < 50
    assert sink.finals(after.job_id)[0].kind is EventKind.DONE  # the worker kept serving
    assert await core.limits.in_flight(ALICE) == 0


async def test_a_failing_render_is_reported_and_the_worker_serves_the_next_job(
    core: BotCore, start_worker: WorkerFactory
) -> None:
    sink = RecordingSink()
    async with start_worker(StepRenderer(fail_on="boom")), delivering(core, sink):
        bad = await core.submit(ClipRequest(prompt="boom"), ALICE)
        good = await core.submit(ClipRequest(prompt="fine"), ALICE)
        await sink.wait_for(lambda: bool(sink.finals(bad.job_id) and sink.finals(good.job_id)))
    failure = sink.finals(bad.job_id)[0]
    assert failure.kind is EventKind.FAILED and "out of memory" in (failure.message or "")
    assert sink.finals(good.job_id)[0].kind is EventKind.DONE
    assert await core.limits.in_flight(ALICE) == 0


async def test_concurrent_submissions_never_exceed_the_in_flight_limit(
    redis: ArqRedis, settings: Settings
) -> None:
    core = make_core(settings, redis, max_jobs_per_user=2)
    results = await asyncio.gather(
        *(core.submit(ClipRequest(prompt=f"rush {n}"), ALICE) for n in range(20)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(admitted) == 2 and len(refused) == 18
    assert "2 clip(s) queued or rendering" in str(refused[0])
    assert await redis.zcard(settings.queue_name) == 2
    # another user is not affected
    await core.submit(ClipRequest(prompt="bob's"), BOB)


async def test_the_daily_quota_is_enforced_with_a_friendly_message(
    redis: ArqRedis, settings: Settings
) -> None:
    core = make_core(settings, redis, daily_quota=3, max_jobs_per_user=10)
    results = await asyncio.gather(
        *(core.submit(ClipRequest(prompt=f"n{n}"), ALICE) for n in range(8)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    refusal = next(r for r in results if isinstance(r, LimitReached))
    assert "today's 3 clips" in str(refusal) and "00:00 UTC" in str(refusal)
