"""More of the Discord adapter through discord.py itself: `/queue`, `/cancel` autocomplete, the
allowed-channels setting (reactions and uncached threads included), ❌ and 🔀 as reactions, the
token's age, reaction errors, and refusals to reactions clearing themselves away."""

from __future__ import annotations

import logging
import time

import discord
import pytest
from arq.connections import ArqRedis

from clipbot.bot.core import BotCore
from clipbot.bot.discord_app import TOKEN_LIFETIME_S, TOKEN_MARGIN_S, DiscordAdapter
from clipbot.models import ClipRequest, EventKind, Origin
from tests.bot.discord.fake_discord import (
    ALICE,
    BOB,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    FakeDiscord,
    Json,
    Request,
    interaction,
    member,
    reaction,
    slash,
    snowflake,
    text_channel,
)
from tests.bot.discord.test_discord_app import a_posted_clip, callbacks, queued_jobs, uploads
from tests.conftest import WorkerFactory, eventually
from tests.doubles import StepRenderer

pytestmark = pytest.mark.redis

ALICE_MEMBER = member(ALICE, "alice")
BOB_MEMBER = member(BOB, "bob")
THREAD_ID = 3200


def alice_in(channel: int = CHANNEL_ID) -> Origin:
    return Origin(platform="discord", channel=str(channel), user=str(ALICE))


def followups(server: FakeDiscord, token: str) -> list[Request]:
    """Follow-up messages of one interaction (``interaction.followup.send``)."""
    return server.matching("POST", f"^/webhooks/\\d+/{token}$")


def in_channel(command: Json, channel: Json) -> Json:
    command.update(channel_id=channel["id"], channel=channel)
    return command


def thread_of(parent_id: int, thread_id: int) -> Json:
    return {
        "id": str(thread_id),
        "type": 11,  # public thread
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "owner_id": str(ALICE),
        "name": "fox ideas",
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2024-01-01T00:00:00+00:00",
            "locked": False,
        },
    }


async def a_status_message(server: FakeDiscord, prompt: str) -> tuple[Json, str]:
    """Alice's `/video` command and the id of its status message once it shows the queue."""
    command = slash("video", ALICE_MEMBER, prompt=prompt)
    await server.dispatch("INTERACTION_CREATE", command)
    (edit, *_) = await server.wait_for(lambda: server.matching("PATCH", command["token"]))
    return command, edit.path.rsplit("/", 1)[1]


async def test_queue_lists_only_the_users_own_unfinished_jobs_with_their_positions(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    gone = await core.submit(ClipRequest(prompt="alice cancelled"), alice_in())
    await core.cancel(gone.job_id, alice_in())
    await core.submit(ClipRequest(prompt="alice one"), alice_in())
    bob = Origin(platform="discord", channel=str(CHANNEL_ID), user=str(BOB))
    await core.submit(ClipRequest(prompt="bob one"), bob)
    await core.submit(ClipRequest(prompt="alice two"), alice_in())

    command = slash("queue", ALICE_MEMBER)
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    (listing,) = await fake_discord.wait_for(lambda: followups(fake_discord, command["token"]))

    assert callbacks(fake_discord)[0].json["data"]["flags"] & 64  # deferred ephemerally
    assert listing.json["flags"] & 64
    assert listing.content == "• position 1: **alice one**\n• position 3: **alice two**"


async def test_cancel_autocomplete_offers_the_users_own_unfinished_jobs_newest_first(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    gone = await core.submit(ClipRequest(prompt="alice cancelled"), alice_in())
    await core.cancel(gone.job_id, alice_in())
    first = await core.submit(ClipRequest(prompt="alice one"), alice_in())
    bob = Origin(platform="discord", channel=str(CHANNEL_ID), user=str(BOB))
    await core.submit(ClipRequest(prompt="bob one"), bob)
    second = await core.submit(ClipRequest(prompt="alice two"), alice_in())

    options = [{"name": "job", "type": 3, "value": "", "focused": True}]
    await fake_discord.dispatch(
        "INTERACTION_CREATE",
        interaction(4, {"name": "cancel", "type": 1, "options": options}, who=ALICE_MEMBER),
    )
    (answer,) = await fake_discord.wait_for(lambda: callbacks(fake_discord))

    assert answer.json["type"] == 8
    assert answer.json["data"]["choices"] == [
        {"name": "#3: alice two", "value": second.job_id},
        {"name": "#1: alice one", "value": first.job_id},
    ]


@pytest.fixture
def only_the_clips_channel(bot: DiscordAdapter) -> DiscordAdapter:
    """The bot with ``CLIPBOT_DISCORD_CHANNEL_IDS`` set to the clips channel alone."""
    bot.settings = bot.settings.model_copy(update={"discord_channel_ids": [CHANNEL_ID]})
    return bot


async def test_a_command_from_a_channel_not_allowed_is_refused_ephemerally_and_not_queued(
    only_the_clips_channel: DiscordAdapter, fake_discord: FakeDiscord, redis: ArqRedis
) -> None:
    command = in_channel(
        slash("video", ALICE_MEMBER, prompt="a red fox"), text_channel(OTHER_CHANNEL_ID)
    )
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    (refusal,) = await fake_discord.wait_for(lambda: callbacks(fake_discord))

    assert refusal.json["type"] == 4  # answered at once, not deferred publicly
    assert refusal.json["data"]["flags"] & 64
    assert "not make clips in this channel" in refusal.json["data"]["content"]
    assert await redis.zcard(only_the_clips_channel.settings.queue_name) == 0


async def test_a_command_from_a_thread_of_an_allowed_channel_is_accepted(
    only_the_clips_channel: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    command = in_channel(
        slash("video", ALICE_MEMBER, prompt="a red fox"), thread_of(CHANNEL_ID, THREAD_ID)
    )
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", command["token"]))

    assert callbacks(fake_discord)[0].json == {"type": 5}
    (job,) = await queued_jobs(core)
    assert job.origin.channel == str(THREAD_ID)


async def test_a_vary_reaction_queues_the_same_seed_with_a_variation(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    parent = await a_posted_clip(core, "655", status=EventKind.DONE)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("655", "🔀", BOB_MEMBER, BOB))
    (status,) = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/channels/{CHANNEL_ID}/messages$")
    )
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", f"/{CHANNEL_ID}/messages/"))

    (job,) = [job for job in await queued_jobs(core) if job.request.parent_job_id == parent]
    assert job.request.prompt == "a red fox in snow" and job.request.seed == 42
    assert job.request.is_variation and job.request.variation_seed is not None
    assert job.origin.user == str(BOB)
    assert str(status.json["message_reference"]["message_id"]) == "655"


async def test_a_cancel_reaction_by_the_requester_on_the_status_message_cancels_the_job(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    command, status_id = await a_status_message(fake_discord, "a paper boat")
    (job,) = await queued_jobs(core)
    await fake_discord.dispatch(
        "MESSAGE_REACTION_ADD", reaction(status_id, "❌", ALICE_MEMBER, ALICE)
    )
    await fake_discord.wait_for(
        lambda: [
            r
            for r in fake_discord.matching("PATCH", command["token"])
            if (r.content or "").startswith("❌")
        ]
    )

    assert await queued_jobs(core) == []
    assert (await core.queue.record(job.job_id)).status is EventKind.CANCELLED
    assert not fake_discord.matching("DELETE", status_id)  # the status message stays


async def test_a_cancel_reaction_by_someone_else_without_manage_messages_leaves_the_job(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    command, status_id = await a_status_message(fake_discord, "a paper boat")
    (job,) = await queued_jobs(core)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction(status_id, "❌", BOB_MEMBER, BOB))
    (notice,) = await fake_discord.wait_for(
        lambda: fake_discord.matching("POST", f"^/channels/{CHANNEL_ID}/messages$")
    )

    assert (notice.content or "").startswith(f"<@{BOB}> Only the person who asked")
    assert [j.job_id for j in await queued_jobs(core)] == [job.job_id]
    assert (await core.queue.record(job.job_id)).status is EventKind.QUEUED
    assert not fake_discord.matching("DELETE", status_id)
    assert not [
        r for r in fake_discord.matching("PATCH", command["token"]) if "❌" in (r.content or "")
    ]


async def test_a_job_whose_token_is_nearly_expired_goes_to_the_channel_without_trying_it(
    bot: DiscordAdapter, fake_discord: FakeDiscord, start_worker: WorkerFactory
) -> None:
    command = slash("video", ALICE_MEMBER, prompt="a slow sunrise")
    # issued just inside the margin: Discord would still take the token, the bot must not
    command["id"] = str(snowflake(time.time() - (TOKEN_LIFETIME_S - TOKEN_MARGIN_S) - 5))
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    async with start_worker(StepRenderer(steps=2)):
        (posted,) = await fake_discord.wait_for(lambda: uploads(fake_discord))

    assert posted.method == "POST" and posted.path == f"/channels/{CHANNEL_ID}/messages"
    assert f"<@{ALICE}>" in (posted.content or "")
    assert posted.json["allowed_mentions"]["users"] == [ALICE]
    token = command["token"]
    assert [r.path for r in fake_discord.requests if token in r.path] == [
        f"/interactions/{command['id']}/{token}/callback"
    ]


@pytest.fixture
def reactions_handled(
    bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> list[BaseException | None]:
    """One entry per reaction the adapter has finished handling: None, or what it raised."""
    handled: list[BaseException | None] = []
    handle = bot.on_reaction

    async def recording(payload: discord.RawReactionActionEvent) -> None:
        try:
            await handle(payload)
        except BaseException as error:
            handled.append(error)
            raise
        handled.append(None)

    monkeypatch.setattr(bot, "on_reaction", recording)
    return handled


async def test_a_reaction_on_an_unknown_message_is_ignored_and_the_client_carries_on(
    bot: DiscordAdapter,
    fake_discord: FakeDiscord,
    reactions_handled: list[BaseException | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for emoji in ("🔁", "🔀", "❌"):
        await fake_discord.dispatch(
            "MESSAGE_REACTION_ADD", reaction("999", emoji, ALICE_MEMBER, ALICE)
        )

    async def all_handled() -> bool | None:
        return True if len(reactions_handled) == 3 else None

    await eventually(all_handled)
    # the client still answers what comes next
    command = slash("queue", ALICE_MEMBER)
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    await fake_discord.wait_for(lambda: followups(fake_discord, command["token"]))

    assert reactions_handled == [None, None, None]
    assert not fake_discord.matching("POST", "^/channels/")
    assert not fake_discord.matching("DELETE", "")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reaction_on_a_clip_deleted_meanwhile_queues_nothing_and_the_client_carries_on(
    bot: DiscordAdapter,
    fake_discord: FakeDiscord,
    core: BotCore,
    reactions_handled: list[BaseException | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await a_posted_clip(core, "656", status=EventKind.DONE)
    fake_discord.deleted_messages.add("656")  # gone before the bot could answer under it
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("656", "🔁", BOB_MEMBER, BOB))

    async def handled() -> bool | None:
        return True if reactions_handled else None

    await eventually(handled)
    command = slash("queue", BOB_MEMBER)
    await fake_discord.dispatch("INTERACTION_CREATE", command)
    (listing,) = await fake_discord.wait_for(lambda: followups(fake_discord, command["token"]))

    assert listing.content == "You have no clips queued or rendering."  # nothing orphaned
    assert len(await queued_jobs(core)) == 1  # the clip's own job only
    assert reactions_handled == [None]  # an everyday race, not an error to log
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_cancel_reaction_by_a_member_with_manage_messages_cancels_anyones_job(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    # the permission comes from the guild's role, as the bot's cache resolves it
    command, status_id = await a_status_message(fake_discord, "a paper boat")
    (job,) = await queued_jobs(core)
    moderator = member(BOB, "bob", moderator=True)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction(status_id, "❌", moderator, BOB))
    await fake_discord.wait_for(
        lambda: [
            r
            for r in fake_discord.matching("PATCH", command["token"])
            if (r.content or "").startswith("❌")
        ]
    )

    assert (await core.queue.record(job.job_id)).status is EventKind.CANCELLED


def channel_posts(server: FakeDiscord, channel: int = CHANNEL_ID) -> list[Request]:
    return server.matching("POST", f"^/channels/{channel}/messages$")


async def test_x_by_the_requester_on_a_finished_clip_deletes_it_and_by_anyone_else_does_not(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    job_id = await a_posted_clip(core, "660", status=EventKind.DONE)
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("660", "❌", BOB_MEMBER, BOB))
    (notice,) = await fake_discord.wait_for(lambda: channel_posts(fake_discord))
    assert (notice.content or "").startswith(f"<@{BOB}> Only the person who asked")
    assert not fake_discord.matching("DELETE", "/messages/660")

    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("660", "❌", ALICE_MEMBER, ALICE))
    await fake_discord.wait_for(
        lambda: fake_discord.matching("DELETE", f"^/channels/{CHANNEL_ID}/messages/660$")
    )
    assert len(channel_posts(fake_discord)) == 1  # deleting needs no answer
    assert (await core.queue.record(job_id)).status is EventKind.DONE


@pytest.mark.parametrize("emoji", ["🔁", "🔀", "❌"])
async def test_a_reaction_in_a_channel_not_allowed_is_ignored(
    only_the_clips_channel: DiscordAdapter,
    fake_discord: FakeDiscord,
    core: BotCore,
    reactions_handled: list[BaseException | None],
    emoji: str,
) -> None:
    job_id = await a_posted_clip(core, "661", status=EventKind.DONE, channel=OTHER_CHANNEL_ID)
    await fake_discord.dispatch(
        "MESSAGE_REACTION_ADD",
        reaction("661", emoji, ALICE_MEMBER, ALICE, channel_id=OTHER_CHANNEL_ID),
    )
    await eventually(lambda: _handled(reactions_handled))

    assert reactions_handled == [None]
    assert [job.job_id for job in await queued_jobs(core)] == [job_id]  # nothing new queued
    assert [r.method for r in fake_discord.requests if r.path.startswith("/channels/")] == []


async def _handled(handled: list[BaseException | None]) -> bool | None:
    return True if handled else None


async def test_a_reaction_in_an_allowed_thread_discord_py_has_not_cached_still_works(
    only_the_clips_channel: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    fake_discord.channels[str(THREAD_ID)] = thread_of(CHANNEL_ID, THREAD_ID)
    assert only_the_clips_channel.client.get_channel(THREAD_ID) is None  # not cached
    parent = await a_posted_clip(core, "662", status=EventKind.DONE, channel=THREAD_ID)
    await fake_discord.dispatch(
        "MESSAGE_REACTION_ADD", reaction("662", "🔁", BOB_MEMBER, BOB, channel_id=THREAD_ID)
    )
    (status,) = await fake_discord.wait_for(lambda: channel_posts(fake_discord, THREAD_ID))
    # once queued, delivery edits the reply to show the position
    await fake_discord.wait_for(lambda: fake_discord.matching("PATCH", f"/{THREAD_ID}/messages/"))

    (job,) = [job for job in await queued_jobs(core) if job.request.parent_job_id == parent]
    assert job.origin.channel == str(THREAD_ID) and job.origin.user == str(BOB)
    assert str(status.json["message_reference"]["message_id"]) == "662"
    assert fake_discord.matching("GET", f"^/channels/{THREAD_ID}$")


@pytest.mark.parametrize("thread", [thread_of(OTHER_CHANNEL_ID, THREAD_ID), None])
async def test_a_reaction_in_an_uncached_thread_not_allowed_or_not_visible_is_ignored(
    only_the_clips_channel: DiscordAdapter,
    fake_discord: FakeDiscord,
    core: BotCore,
    reactions_handled: list[BaseException | None],
    caplog: pytest.LogCaptureFixture,
    thread: Json | None,
) -> None:
    if thread is not None:  # else the bot cannot see the thread: Discord answers 404
        fake_discord.channels[str(THREAD_ID)] = thread
    await a_posted_clip(core, "663", status=EventKind.DONE, channel=THREAD_ID)
    await fake_discord.dispatch(
        "MESSAGE_REACTION_ADD", reaction("663", "🔁", BOB_MEMBER, BOB, channel_id=THREAD_ID)
    )
    await eventually(lambda: _handled(reactions_handled))

    assert reactions_handled == [None]
    assert len(await queued_jobs(core)) == 1  # the clip's own job only
    assert not channel_posts(fake_discord, THREAD_ID)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_refusals_to_reactions_are_deleted_after_the_notice_delay(
    bot: DiscordAdapter, fake_discord: FakeDiscord, core: BotCore
) -> None:
    bot.notice_ttl_s = 0.3
    await a_posted_clip(core, "664", status=EventKind.DONE)
    bob = Origin(platform="discord", channel=str(CHANNEL_ID), user=str(BOB))
    for n in range(core.settings.max_jobs_per_user):
        await core.submit(ClipRequest(prompt=f"bob's clip {n}"), bob)

    # refused before anything was posted: the notice is a message of its own
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("664", "❌", BOB_MEMBER, BOB))
    # refused after the status reply was posted: the reply becomes the notice
    await fake_discord.dispatch("MESSAGE_REACTION_ADD", reaction("664", "🔁", BOB_MEMBER, BOB))

    def posted(words: str) -> tuple[str, Request]:
        (found,) = [(i, r) for i, r in fake_discord.posted.items() if words in (r.content or "")]
        return found

    def deleted(message_id: str) -> list[Request]:
        return fake_discord.matching("DELETE", f"^/channels/{CHANNEL_ID}/messages/{message_id}$")

    await fake_discord.wait_for(lambda: len(fake_discord.posted) == 2)
    notice_id, notice = posted("Only the person who asked")
    status_id, _ = posted("queuing")
    (edit,) = await fake_discord.wait_for(
        lambda: fake_discord.matching("PATCH", f"/messages/{status_id}$")
    )
    assert "queued or rendering" in (edit.content or "")
    (notice_gone,) = await fake_discord.wait_for(lambda: deleted(notice_id), timeout=10)
    (status_gone,) = await fake_discord.wait_for(lambda: deleted(status_id), timeout=10)
    assert notice_gone.at - notice.at >= 0.25 and status_gone.at - edit.at >= 0.25
    assert not fake_discord.matching("DELETE", "/messages/664")  # the clip stays
