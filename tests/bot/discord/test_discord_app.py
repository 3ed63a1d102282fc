"""The Discord adapter driven through discord.py itself: raw gateway payloads in, REST requests
to a local fake Discord out, jobs on a real private Redis."""

from __future__ import annotations

import asyncio
import io

import av
import pytest
from arq.connections import ArqRedis

from clipbot.app import RunOptions, build_adapters
from clipbot.bot.core import BotCore
from clipbot.bot.delivery import ClipFile
from clipbot.bot.discord_app import DiscordAdapter
from clipbot.config import Settings
from clipbot.generator.contract import Renderer
from clipbot.models import ClipInfo, ClipRequest, EventKind, JobEvent, JobRecord, Origin
from tests.bot.discord.fake_discord import (
    ALICE,
    BOB,
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    NSFW_CHANNEL_ID,
    FakeDiscord,
    Request,
    interaction,
    member,
    reaction,
    slash,
    text_channel,
)
from tests.conftest import WorkerFactory
from tests.doubles import StepRenderer

pytestmark = pytest.mark.redis

ALICE_MEMBER = member(ALICE, "alice")
BOB_MEMBER = member(BOB, "bob")
MOD_MEMBER = member(BOB, "bob", moderator=True)
BOT_MEMBER = {**member(BOT_ID, "clipbot"), "user": BOT_USER}


def callbacks(server: FakeDiscord) -> list[Request]:
    return server.matching("POST", r"^/interactions/")


def uploads(server: FakeDiscord) -> list[Request]:
    return [r for r in server.requests if r.files]


async def queued_jobs(core: BotCore) -> list[JobRecord]:
    job_ids = await core.queue.waiting_jobs()
    return [await core.queue.record(job_id) for job_id in job_ids]


async def a_posted_clip(
    core: BotCore, message_id: str, *, status: EventKind, channel: int = CHANNEL_ID
) -> str:
    """A job of Alice's whose clip message ``message_id`` the bot posted (in an earlier run)."""
    origin = Origin(platform="discord", channel=str(channel), user=str(ALICE))
    submission = await core.submit(ClipRequest(prompt="a red fox in snow", seed=42), origin)
    await core.queue.set_status(submission.job_id, status)
    await core.link_message(origin, message_id, submission.job_id)
    return submission.job_id


async def test_video_defers_first_then_edits_position_and_progress_and_uploads_a_playable_clip(
    bot: DiscordAdapter,
    fake_discord: FakeDiscord,
    core: BotCore,
    start_worker: WorkerFactory,
    tiny_renderer: Renderer,
) -> None:
    limit = 2 * 2**20
    command = slash("video", ALICE_MEMBER, prompt="a red fox in snow", length=1, seed=7)
    command["attachment_size_limit"] = limit
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", "/webhooks/"))
    async with start_worker(tiny_renderer):
        await fake_discord.wait_for(lambda: uploads(fake_discord), timeout=30)

    after = fake_discord.requests[fake_discord.requests.index(callbacks(fake_discord)[0]) :]
    assert after[0].json == {"type": 5}  # deferred ("thinking"), before anything else
    token = command["token"]
    edits = [r for r in after if r.method == "PATCH" and token in r.path]
    texts = [r.content or "" for r in edits]
    assert texts[0].startswith("⏳ Queued, position 1")
    assert any(t.startswith("🎬 Rendering") and "%" in t for t in texts)
    final = edits[-1]
    assert final is uploads(fake_discord)[0]  # the status message becomes the clip
    assert {e.path for e in edits} == {final.path}  # one status message throughout
    ((name, data),) = final.files.values()
    assert name.endswith(".mp4") and 0 < len(data) <= limit
    with av.open(io.BytesIO(data), "r") as container:
        assert next(container.decode(video=0)).width > 0
    caption = final.content or ""
    assert "**a red fox in snow**" in caption and "seed `7`" in caption
    assert f"<@{ALICE}>" in caption and "1.0 s" in caption
    job_id = final.custom_ids[0].rsplit(":", 1)[1]
    assert final.custom_ids == [f"clipbot:{a}:{job_id}" for a in ("regenerate", "vary", "cancel")]
    assert (await core.queue.record(job_id)).request.max_bytes == limit


async def test_a_regenerate_reaction_queues_the_same_prompt_with_a_new_seed(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    parent = await a_posted_clip(core, "555", status=EventKind.DONE)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("555", "🔁", BOB_MEMBER, BOB))
    status = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/channels/{CHANNEL_ID}/messages$")
    )
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", f"/{CHANNEL_ID}/messages/"))

    jobs = [job for job in await queued_jobs(core) if job.request.parent_job_id == parent]
    assert len(jobs) == 1
    assert jobs[0].request.prompt == "a red fox in snow" and jobs[0].request.seed != 42
    assert not jobs[0].request.is_variation
    assert jobs[0].origin.user == str(BOB)
    assert str(status[0].json["message_reference"]["message_id"]) == "555"


async def test_a_vary_button_press_after_a_restart_queues_the_same_seed_with_a_variation(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    # this bot process never sent the message: the custom id alone leads to the job
    parent = await a_posted_clip(core, "556", status=EventKind.DONE)
    press = interaction(
        3,
        {"custom_id": f"clipbot:vary:{parent}", "component_type": 2},
        who=BOB_MEMBER,
        message=fake_discord.clip_message("556", parent),
    )
    await fake_discord.dispatch("INTERACTION_CREATE", press)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", press["token"]))

    assert callbacks(fake_discord)[0].json == {"type": 5}
    (job,) = [job for job in await queued_jobs(core) if job.request.parent_job_id == parent]
    assert job.request.seed == 42 and job.request.is_variation
    assert job.origin.reply["token"] == press["token"]


async def test_a_blocked_prompt_gets_an_ephemeral_reason_and_nothing_is_queued(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore, redis: ArqRedis
) -> None:
    command = slash("video", ALICE_MEMBER, prompt="Taylor Swift naked")
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    followup = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/webhooks/\\d+/{command['token']}$")
    )

    assert callbacks(fake_discord)[0].json == {"type": 5}
    assert fake_discord.matching("DELETE", f"{command['token']}/messages/@original")
    assert followup[0].json["flags"] & 64  # ephemeral
    assert followup[0].content
    assert await redis.zcard(core.settings.queue_name) == 0


async def test_a_job_finishing_after_the_token_expired_is_posted_in_the_channel_with_a_mention(
    bot: DiscordAdapter, fake_discord: FakeDiscord, start_worker: WorkerFactory
) -> None:
    command = slash("video", ALICE_MEMBER, prompt="a slow sunrise")
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", command["token"]))
    fake_discord.expired_tokens.add(command["token"])
    async with start_worker(StepRenderer(steps=2)):
        posted = await fake_discord.wait_for(
            lambda: [r for r in uploads(fake_discord) if r.path.startswith("/channels/")]
        )

    assert posted[0].method == "POST" and posted[0].path == f"/channels/{CHANNEL_ID}/messages"
    assert f"<@{ALICE}>" in (posted[0].content or "")
    assert posted[0].json["allowed_mentions"]["users"] == [ALICE]


async def test_a_429_on_a_status_edit_is_waited_out_and_the_clip_still_arrives(
    bot: DiscordAdapter, fake_discord: FakeDiscord, start_worker: WorkerFactory
) -> None:
    fake_discord.throttle("PATCH", "/webhooks/", retry_after=0.5)
    command = slash("video", ALICE_MEMBER, prompt="rain on a window")
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    async with start_worker(StepRenderer(steps=2)):
        await fake_discord.wait_for(lambda: uploads(fake_discord))

    edits = fake_discord.matching("PATCH", command["token"])
    throttled, retried = edits[0], edits[1]
    assert retried.json == throttled.json  # the same edit again ...
    assert retried.at - throttled.at >= 0.45  # ... after the time Discord asked for
    assert uploads(fake_discord)[0].path == throttled.path


async def test_the_bots_own_reactions_are_ignored(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    await a_posted_clip(core, "557", status=EventKind.DONE)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("557", "🔁", BOT_MEMBER, BOT_ID))
    # an event the bot does answer, sent after: once it is answered the reaction was handled
    await fake_discord.dispatch("INTERACTION_CREATE", slash("queue", ALICE_MEMBER))
    await fake_discord.wait_for(lambda: fake_discord.matching("POST", r"^/webhooks/"))
    await asyncio.sleep(0.2)

    assert len(await queued_jobs(core)) == 1
    assert not fake_discord.matching("POST", "^/channels/")


async def test_model_autocomplete_offers_the_presets(
    bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    options = [
        {"name": "prompt", "type": 3, "value": "a fox"},
        {"name": "model", "type": 3, "value": "ltx", "focused": True},
    ]
    await fake_discord.dispatch(
        "INTERACTION_CREATE",
        interaction(4, {"name": "video", "type": 1, "options": options}, who=ALICE_MEMBER),
    )
    (answer,) = await fake_discord.wait_for(lambda: callbacks(fake_discord))

    assert answer.json["type"] == 8
    names = [choice["value"] for choice in answer.json["data"]["choices"]]
    assert "ltx-video-distilled" in names and all("ltx" in name for name in names)


async def test_delete_is_refused_to_others_and_deletes_the_clip_for_a_moderator(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    job_id = await a_posted_clip(core, "558", status=EventKind.DONE)

    async def press(who: dict[str, object]) -> Request:
        payload = interaction(
            3,
            {"custom_id": f"clipbot:cancel:{job_id}", "component_type": 2},
            who=who,
            message=fake_discord.clip_message("558", job_id),
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        pattern = f"^/webhooks/\\d+/{payload['token']}$"
        answers: list[Request] = await fake_discord.wait_for(
            lambda: fake_discord.matching("POST", pattern)
        )
        return answers[0]

    refusal = await press(BOB_MEMBER)
    assert "Only the person who asked" in (refusal.content or "")
    assert not fake_discord.matching("DELETE", "/messages/558")
    await press(MOD_MEMBER)
    assert fake_discord.matching("DELETE", f"^/channels/{CHANNEL_ID}/messages/558$")


async def test_a_clip_over_the_upload_limit_is_explained_instead_of_posted(
    bot: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    origin = Origin(
        platform="discord",
        channel=str(CHANNEL_ID),
        user=str(ALICE),
        reply={"status": "559", "limit": str(100_000)},
    )
    info = ClipInfo(bytes=200_000, width=64, height=64, frames=9, fps=8, seed=1, model="tiny")
    event = JobEvent(
        job_id="0" * 32, kind=EventKind.DONE, request=ClipRequest(prompt="x"), origin=origin
    )
    clip = ClipFile(data=b"\0" * 200_000, info=info, poster=None)

    assert await bot.deliver(event, clip) is None
    (edit,) = fake_discord.matching("PATCH", f"/channels/{CHANNEL_ID}/messages/559")
    assert "over this server's" in (edit.content or "") and not edit.files


async def test_a_prompt_from_an_age_restricted_channel_is_screened_as_such(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    command = slash("video", ALICE_MEMBER, prompt="a red fox")
    command.update(
        channel_id=str(NSFW_CHANNEL_ID), channel=text_channel(NSFW_CHANNEL_ID, nsfw=True)
    )
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", command["token"]))

    (job,) = await queued_jobs(core)
    assert job.origin.age_restricted and job.origin.channel == str(NSFW_CHANNEL_ID)


async def test_cancel_stops_the_requesters_queued_job_and_says_so_on_its_status_message(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    command = slash("video", ALICE_MEMBER, prompt="a paper boat")
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", command["token"]))
    cancel = slash("cancel", ALICE_MEMBER)
    await fake_discord.dispatch("INTERACTION_CREATE", cancel)
    await fake_discord.wait_for(
        lambda: [
            r
            for r in fake_discord.matching("PATCH", command["token"])
            if (r.content or "").startswith("❌")
        ]
    )

    (answer,) = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/webhooks/\\d+/{cancel['token']}$")
    )
    assert await queued_jobs(core) == []
    assert answer.content == "Cancel requested."


def test_clipbot_run_starts_the_discord_adapter_when_a_token_is_set(
    core: BotCore, discord_settings: Settings
) -> None:
    adapters = build_adapters(core, discord_settings, RunOptions())
    assert [type(adapter) for adapter in adapters] == [DiscordAdapter]


async def test_an_unexpected_failure_is_reported_to_the_user_instead_of_thinking_forever(
    bot: DiscordAdapter, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(bot.core, "submit", broken)
    command = slash("video", ALICE_MEMBER, prompt="a red fox")
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    (notice,) = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/webhooks/\\d+/{command['token']}$")
    )
    assert "went wrong on our side" in (notice.content or "")
