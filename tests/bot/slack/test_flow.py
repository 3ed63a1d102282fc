"""A mention becomes a clip in its thread, and reactions and buttons on the clip act on it: the
real Bolt app, Delivery and a worker on a private Redis; only Slack's Web API is a local fake."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import pytest

from clipbot.bot.core import BotCore
from clipbot.bot.slack_app import SlackAdapter
from clipbot.generator.contract import EncodedClip, ProgressFn, Renderer, StopFn
from clipbot.models import ClipRequest, EventKind, JobRecord, Origin
from tests.bot.slack.conftest import dispatch
from tests.bot.slack.fake_slack import ALICE, BOB, BOT_TOKEN, CHANNEL, FakeSlack, button, mention
from tests.bot.slack.fake_slack import reaction as reaction_event
from tests.conftest import WorkerFactory, delivering, eventually
from tests.doubles import StepRenderer

pytestmark = pytest.mark.redis

PROMPT = "a red fox running through snow"
MENTION_TS = "1699999999.000001"


def as_user(user: str) -> Origin:
    return Origin(platform="slack", channel=CHANNEL, user=user)


@dataclass
class PacedRenderer:
    """The real tiny renderer with each step held a moment, so that progress is seen between
    start and end (alone, the tiny model finishes before one progress edit can be made)."""

    inner: Renderer
    step_s: float = 0.3

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    def render(self, request: ClipRequest, on_progress: ProgressFn, should_stop: StopFn) -> Any:
        def paced(step: int, total: int) -> None:
            on_progress(step, total)
            time.sleep(self.step_s)

        return self.inner.render(request, paced, should_stop)

    def encode(self, frames: Any, request: ClipRequest) -> EncodedClip:
        return self.inner.encode(frames, request)


@dataclass
class Clip:
    job_id: str
    message: dict[str, Any]
    """The bot's status message in the thread, turned into the result message with buttons."""


async def clip_from_mention(
    core: BotCore,
    slack: SlackAdapter,
    fake: FakeSlack,
    start_worker: WorkerFactory,
    renderer: Renderer,
    text: str = f"{PROMPT} --seed 7 --len 1 --steps 2",
) -> Clip:
    """Mention the bot and let a worker render the clip (Delivery must be running)."""
    assert (await dispatch(slack, mention(text, ts=MENTION_TS))).status == 200
    await fake.wait_for(lambda: fake.thread(CHANNEL, MENTION_TS))
    status = fake.thread(CHANNEL, MENTION_TS)[0]
    job_id = status["blocks"][-1]["elements"][0]["value"]
    async with start_worker(renderer):
        await fake.wait_for(lambda: "✅" in status["text"], timeout=30)
    await eventually(lambda: core.queue.job_for_message("slack", CHANNEL, status["ts"]))
    return Clip(job_id, status)


def file_share(fake: FakeSlack) -> dict[str, Any]:
    return next(m for m in fake.thread(CHANNEL, MENTION_TS) if m.get("files"))


async def queued_of(core: BotCore, user: str) -> JobRecord:
    records: list[JobRecord] = await eventually(lambda: _some(core.queue.user_jobs(as_user(user))))
    assert len(records) == 1
    return records[0]


async def _some(pending: Any) -> Any:
    return await pending or None


def texts(fake: FakeSlack, method: str, where: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [call["text"] for call in fake.called(method) if where(call)]


async def test_a_mention_gets_a_threaded_queued_reply_progress_and_a_playable_clip(
    core: BotCore,
    slack: SlackAdapter,
    fake_slack: FakeSlack,
    start_worker: WorkerFactory,
    tiny_renderer: Renderer,
) -> None:
    async with delivering(core, slack, "slack"):
        clip = await clip_from_mention(
            core,
            slack,
            fake_slack,
            start_worker,
            PacedRenderer(tiny_renderer),
            f"{PROMPT} --seed 7 --len 1 --steps 3",
        )

    first = fake_slack.called("chat.postMessage")[0]
    assert first["channel"] == CHANNEL and first["thread_ts"] == MENTION_TS
    assert "queued at position 1" in first["text"] and PROMPT in first["text"]
    edits = texts(fake_slack, "chat.update", lambda call: call["ts"] == clip.message["ts"])
    assert any("rendering ▰" in text and "%" in text for text in edits), edits
    assert "seed 7" in clip.message["text"] and tiny_renderer.model_name in clip.message["text"]

    # uploaded with the v2 flow into the thread, with the prompt, seed and model
    assert not fake_slack.called("files.upload")
    [ask] = fake_slack.called("files.getUploadURLExternal")
    [complete] = fake_slack.called("files.completeUploadExternal")
    assert complete["channel_id"] == CHANNEL and complete["thread_ts"] == MENTION_TS
    comment = complete["initial_comment"]
    assert PROMPT in comment and "seed 7" in comment and tiny_renderer.model_name in comment
    [data] = fake_slack.uploads.values()
    assert len(data) == int(ask["length"])
    with av.open(io.BytesIO(data), mode="r") as container:
        frames = list(container.decode(video=0))
    assert len(frames) >= 9 and (frames[0].width, frames[0].height) == (160, 96)
    assert all(call.token == BOT_TOKEN for call in fake_slack.calls)


async def test_repeat_and_shuffle_reactions_on_the_clip_queue_a_regeneration_and_a_variation(
    core: BotCore,
    slack: SlackAdapter,
    fake_slack: FakeSlack,
    start_worker: WorkerFactory,
    tiny_renderer: Renderer,
) -> None:
    async with delivering(core, slack, "slack"):
        clip = await clip_from_mention(core, slack, fake_slack, start_worker, tiny_renderer)
        # Bob reacts on the result message, Alice on the clip's own file message
        share_ts = file_share(fake_slack)["ts"]
        await eventually(lambda: core.queue.job_for_message("slack", CHANNEL, share_ts))
        await dispatch(slack, reaction_event("repeat", user=BOB, ts=clip.message["ts"]))
        await dispatch(slack, reaction_event("twisted_rightwards_arrows", user=ALICE, ts=share_ts))
        regenerated = await queued_of(core, BOB)
        varied = await queued_of(core, ALICE)
        # each is answered in the clip's thread
        await fake_slack.wait_for(
            lambda: sum("queued" in m["text"] for m in fake_slack.thread(CHANNEL, MENTION_TS)) == 2
        )

    assert regenerated.request.prompt == PROMPT and regenerated.request.seed != 7
    assert regenerated.request.parent_job_id == clip.job_id
    assert not regenerated.request.is_variation
    assert varied.request.prompt == PROMPT and varied.request.seed == 7
    assert varied.request.is_variation and varied.request.parent_job_id == clip.job_id
    assert regenerated.origin.thread == varied.origin.thread == MENTION_TS


async def test_the_buttons_on_the_clip_do_what_the_reactions_do(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack, start_worker: WorkerFactory
) -> None:
    async with delivering(core, slack, "slack"):
        clip = await clip_from_mention(core, slack, fake_slack, start_worker, StepRenderer(steps=1))
        labels = [e["action_id"] for e in clip.message["blocks"][-1]["elements"]]
        assert labels == ["clipbot_regenerate", "clipbot_vary", "clipbot_cancel"]
        response = await dispatch(
            slack, button("clipbot_vary", clip.job_id, user=BOB, message=clip.message)
        )
        assert response.status == 200
        varied = await queued_of(core, BOB)
    assert varied.request.is_variation and varied.request.parent_job_id == clip.job_id


async def test_x_by_the_requester_deletes_the_finished_clip(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack, start_worker: WorkerFactory
) -> None:
    async with delivering(core, slack, "slack"):
        clip = await clip_from_mention(core, slack, fake_slack, start_worker, StepRenderer(steps=1))
        [file_id] = fake_slack.files
        await dispatch(slack, reaction_event("x", user=BOB, ts=clip.message["ts"]))
        await dispatch(slack, reaction_event("x", user=ALICE, ts=clip.message["ts"]))
        await fake_slack.wait_for(lambda: fake_slack.called("files.delete"))
        await fake_slack.wait_for(lambda: "deleted" in clip.message["text"])

    assert fake_slack.called("files.delete") == [{"file": file_id}]
    assert fake_slack.files == {}
    assert [block["type"] for block in clip.message["blocks"]] == ["section"]  # no buttons
    # Bob, who did not ask for it, was told so privately
    [refusal] = fake_slack.called("chat.postEphemeral")
    assert refusal["user"] == BOB and "Only the person who asked" in refusal["text"]


async def test_the_cancel_button_stops_a_queued_job(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    async with delivering(core, slack, "slack"):
        await dispatch(slack, mention(PROMPT, ts=MENTION_TS))
        await fake_slack.wait_for(lambda: fake_slack.thread(CHANNEL, MENTION_TS))
        status = fake_slack.thread(CHANNEL, MENTION_TS)[0]
        job_id = status["blocks"][-1]["elements"][0]["value"]
        await dispatch(slack, button("clipbot_cancel", job_id, user=ALICE, message=status))
        await fake_slack.wait_for(lambda: "cancelled" in status["text"])
    assert (await core.queue.record(job_id)).status is EventKind.CANCELLED
    assert await core.redis.zcard(core.settings.queue_name) == 0
    assert status["blocks"][-1]["type"] == "section"  # no Cancel button left
