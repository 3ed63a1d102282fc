"""A worker stopped gracefully (SIGTERM, a deploy) hands its job back without using up a try."""

from __future__ import annotations

import asyncio

import pytest

from clipbot.bot.core import BotCore
from clipbot.config import Settings
from clipbot.models import ClipRequest, EventKind, Origin
from tests.conftest import WorkerFactory, delivering
from tests.doubles import RecordingSink, StepRenderer

pytestmark = pytest.mark.redis

ALICE = Origin(platform="console", channel="c1", user="alice")


async def test_a_job_survives_more_graceful_worker_stops_than_its_tries(
    core: BotCore, settings: Settings, start_worker: WorkerFactory
) -> None:
    submission = await core.submit(ClipRequest(prompt="through two deploys"), ALICE)
    sink = RecordingSink()
    async with delivering(core, sink):
        for _ in range(2):  # two rolling restarts, each stopping the worker mid-render
            renderer = StepRenderer(steps=200, step_s=0.05)
            async with start_worker(renderer, max_tries=1):
                assert await asyncio.to_thread(renderer.started.wait, 20)
            assert renderer.rendered == []
        finisher = StepRenderer()
        async with start_worker(finisher, max_tries=1):
            await sink.wait_for(lambda: bool(sink.finals(submission.job_id)))
    [final] = sink.finals(submission.job_id)
    assert final.kind is EventKind.DONE, final.message
    assert [r.prompt for r in finisher.rendered] == ["through two deploys"]
