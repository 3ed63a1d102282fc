"""The platform-free core: what a user's command or reaction turns into."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis

from clipbot.bot.core import DEFAULT_VARIATION_STRENGTH, BotCore
from clipbot.config import Settings
from clipbot.errors import InvalidRequest, NotAllowed, PromptBlocked, QueueUnavailable, UnknownJob
from clipbot.models import Action, ClipRequest, Origin
from clipbot.moderation.audit import AUDIT_STREAM
from clipbot.queue import connection
from clipbot.queue.embedded import EmbeddedRedis
from tests.conftest import make_core

pytestmark = pytest.mark.redis

ALICE = Origin(platform="slack", channel="C1", user="alice", thread="111.1")
BOB = Origin(platform="slack", channel="C1", user="bob")
MOD = Origin(platform="slack", channel="C1", user="mod", can_moderate=True)


async def test_regenerate_keeps_the_request_with_a_new_seed(core: BotCore) -> None:
    original = await core.submit(ClipRequest(prompt="a lighthouse", seed=11, aspect="9:16"), ALICE)
    again = await core.act(Action.REGENERATE, original.job_id, BOB)
    assert again is not None
    assert again.request.prompt == "a lighthouse" and again.request.aspect == "9:16"
    assert again.request.seed != 11 and again.request.variation_seed is None
    assert again.request.parent_job_id == original.job_id
    record = await core.queue.record(again.job_id)
    assert record.origin.user == "bob"  # the follow-up belongs to whoever asked
    assert record.origin.thread == "111.1"  # and is answered in the clip's thread


async def test_vary_keeps_the_seed_and_adds_a_variation(core: BotCore) -> None:
    original = await core.submit(ClipRequest(prompt="a lighthouse", seed=11), ALICE)
    varied = await core.act(Action.VARY, original.job_id, ALICE)
    assert varied is not None
    assert varied.request.seed == 11
    assert varied.request.variation_seed is not None
    assert varied.request.variation_strength == DEFAULT_VARIATION_STRENGTH
    assert varied.request.parent_job_id == original.job_id


async def test_a_blocked_prompt_is_refused_audited_and_not_queued(
    core: BotCore, redis: ArqRedis, settings: Settings
) -> None:
    with pytest.raises(PromptBlocked) as caught:
        await core.submit(ClipRequest(prompt="a nude photo of a child"), ALICE)
    assert caught.value.reason
    assert await redis.zcard(settings.queue_name) == 0
    assert await core.limits.in_flight(ALICE) == 0
    entries = await redis.xrange(AUDIT_STREAM)
    assert entries and entries[-1][1][b"action"] == b"block"


async def test_only_the_requester_or_a_moderator_may_cancel(core: BotCore) -> None:
    first = await core.submit(ClipRequest(prompt="mine"), ALICE)
    second = await core.submit(ClipRequest(prompt="also mine"), ALICE)
    with pytest.raises(NotAllowed):
        await core.act(Action.CANCEL, first.job_id, BOB)
    await core.act(Action.CANCEL, first.job_id, ALICE)
    await core.act(Action.CANCEL, second.job_id, MOD)
    assert await core.jobs_of(ALICE) == []


async def test_a_model_no_worker_serves_is_refused_with_the_choices(
    core: BotCore, redis: ArqRedis
) -> None:
    await redis.zadd("clipbot:workers", {"gpu-1:42|ltx-video-distilled": 9e12})
    with pytest.raises(InvalidRequest, match="Available: ltx-video-distilled"):
        await core.submit(ClipRequest(prompt="a fox", model="cogvideox-2b"), ALICE)


async def test_a_reaction_on_an_unknown_message_says_so(core: BotCore) -> None:
    with pytest.raises(UnknownJob):
        await core.job_for_message(ALICE, "999.9")


async def test_a_length_the_model_cannot_make_is_refused_before_queueing(
    core: BotCore, redis: ArqRedis, settings: Settings
) -> None:
    await redis.zadd("clipbot:workers", {"gpu-1:42|wan2.1-t2v-1.3b": 9e12})
    with pytest.raises(InvalidRequest, match=r"at most|frames"):
        await core.submit(ClipRequest(prompt="a fox", length_s=9), ALICE)
    assert await redis.zcard(settings.queue_name) == 0


async def test_an_unreachable_queue_is_explained_to_the_user(settings: Settings) -> None:
    server = EmbeddedRedis().start()
    redis = await connection.connect(server.url, queue_name=settings.queue_name)
    core = make_core(settings.model_copy(update={"redis_url": server.url}), redis)
    server.stop()
    try:
        with pytest.raises(QueueUnavailable, match="try again in a minute"):
            await core.submit(ClipRequest(prompt="a fox"), ALICE)
    finally:
        await redis.aclose()
