"""What the bot does with each kind of request Slack sends, up to the queue: signed payloads
dispatched through the real Bolt app, the core on a private Redis, the Web API a local fake."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from clipbot.bot.core import BotCore
from clipbot.bot.slack_app import SlackAdapter
from clipbot.models import EventKind, JobRecord, Origin
from clipbot.queue.jobs import ClipQueue
from tests.bot.slack.conftest import dispatch
from tests.bot.slack.fake_slack import (
    ALICE,
    BOB,
    BOT_USER,
    CHANNEL,
    FakeSlack,
    mention,
    reaction,
    slash_command,
)
from tests.conftest import delivering, eventually

pytestmark = pytest.mark.redis

ALICE_HERE = Origin(platform="slack", channel=CHANNEL, user=ALICE)


async def queue_length(core: BotCore) -> int:
    return int(await core.redis.zcard(core.settings.queue_name))


async def test_a_retried_event_is_queued_once(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    body = mention("a lighthouse in a storm", ts="1699999999.000010")
    first = await dispatch(slack, body)
    retries = [await dispatch(slack, body, retry=n) for n in (1, 2)]
    assert first.status == 200 and [r.status for r in retries] == [200, 200]
    await eventually(lambda: _jobs(core))
    await asyncio.sleep(0.5)  # time enough for a (wrongly) repeated listener to queue again
    assert await queue_length(core) == 1


async def _jobs(core: BotCore) -> int | None:
    return await queue_length(core) or None


@contextlib.asynccontextmanager
async def queue_on(core: BotCore, port: int) -> AsyncIterator[None]:
    """The core's job queue on the Redis at ``port`` (one that is down, or hangs) while the
    bot's other Redis calls, the adapter's own included, keep working: handling an event fails
    partway, after the event was claimed and before the job is queued."""
    redis = ArqRedis(host="127.0.0.1", port=port)
    working = core.queue
    core.queue = ClipQueue(
        redis, queue_name=core.settings.queue_name, record_ttl_s=core.settings.result_ttl_s
    )
    try:
        yield
    finally:
        core.queue = working
        await redis.aclose()


def closed_port() -> int:
    """A port nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HangingServer:
    """Accepts connections and never answers, until ``cut()`` closes them (and the port)."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._clients: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.append(writer)
        self.connected.set()
        await reader.read()

    def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for client in self._clients:
            client.close()


async def test_an_event_that_failed_partway_is_handled_when_slack_retries_it_and_only_then(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    body = mention("a lighthouse in a storm", ts="1699999999.000011")
    async with queue_on(core, closed_port()):
        failed = await dispatch(slack, body)
    assert failed.status == 500  # so Slack delivers it again
    assert await queue_length(core) == 0
    assert not fake_slack.called("chat.postEphemeral")  # Slack has retries left: no alarm yet

    retried = await dispatch(slack, body, retry=1)
    assert retried.status == 200 and await queue_length(core) == 1
    [record] = await core.queue.user_jobs(ALICE_HERE)
    assert record.request.prompt == "a lighthouse in a storm"

    again = await dispatch(slack, body, retry=2)
    assert again.status == 200
    await asyncio.sleep(0.5)  # time enough for a (wrongly) repeated listener to queue again
    assert await queue_length(core) == 1


async def test_a_retry_while_the_first_delivery_is_still_being_handled_is_put_off_not_dropped(
    core: BotCore, slack: SlackAdapter
) -> None:
    body = mention("a lighthouse in a storm", ts="1699999999.000012")
    hanging = HangingServer()
    async with queue_on(core, await hanging.start()):
        first = asyncio.create_task(dispatch(slack, body))
        async with asyncio.timeout(10):
            await hanging.connected.wait()
        early = await dispatch(slack, body, retry=1)
        hanging.cut()  # the first delivery fails after all
        assert (await first).status == 500
    assert early.status == 503  # not acknowledged: Slack will try again
    assert await queue_length(core) == 0

    later = await dispatch(slack, body, retry=2)
    assert later.status == 200 and await queue_length(core) == 1


async def test_the_user_hears_of_a_failure_when_slack_has_no_retry_left(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    body = mention("a lighthouse in a storm", ts="1699999999.000013")
    async with queue_on(core, closed_port()):
        last = await dispatch(slack, body, retry=3)
    assert last.status == 500
    [note] = fake_slack.called("chat.postEphemeral")
    assert note["user"] == ALICE and "queue is unreachable" in note["text"]
    assert await queue_length(core) == 0


async def test_the_prompt_is_the_mention_without_slack_markup_in_the_mentions_thread(
    core: BotCore, slack: SlackAdapter
) -> None:
    text = "fish &amp; chips on <https://example.com|a pier> --seed 3"
    await dispatch(slack, mention(text, ts="1699999999.000022", thread_ts="1699999999.000020"))
    [record] = await eventually(lambda: _records(core))
    assert record.request.prompt == "fish & chips on a pier" and record.request.seed == 3
    assert record.origin.thread == "1699999999.000020"
    assert record.origin.workspace == "T0TEAM"


async def _records(core: BotCore) -> list[JobRecord] | None:
    return await core.queue.user_jobs(ALICE_HERE) or None


async def test_a_blocked_prompt_gets_an_ephemeral_reason_and_nothing_is_queued(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    await dispatch(slack, mention("Taylor Swift naked", ts="1699999999.000030"))
    await fake_slack.wait_for(lambda: fake_slack.called("chat.postEphemeral"))
    [note] = fake_slack.called("chat.postEphemeral")
    assert note["user"] == ALICE and note["channel"] == CHANNEL
    assert note["thread_ts"] == "1699999999.000030" and note["text"]
    assert await queue_length(core) == 0
    assert not fake_slack.called("chat.postMessage")


async def test_bad_flags_in_the_slash_command_are_answered_ephemerally(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    command = slash_command("a cat --ar 5:7", response_url=fake_slack.hook_url())
    response = await dispatch(slack, command)
    assert response.status == 200  # acknowledged at once
    await fake_slack.wait_for(lambda: fake_slack.hooks)
    [answer] = fake_slack.hooks
    assert answer["response_type"] == "ephemeral" and "aspect (--ar)" in answer["text"]
    assert await queue_length(core) == 0


async def test_the_slash_command_queues_and_its_status_message_starts_a_thread(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    command = slash_command("a paper boat --len 2", response_url=fake_slack.hook_url())
    async with delivering(core, slack, "slack"):
        assert (await dispatch(slack, command)).status == 200
        await fake_slack.wait_for(lambda: fake_slack.called("chat.postMessage"))
    [status] = fake_slack.called("chat.postMessage")
    assert status["channel"] == CHANNEL and status.get("thread_ts") is None
    assert "a paper boat" in status["text"] and "queued at position 1" in status["text"]
    [record] = await core.queue.user_jobs(ALICE_HERE)
    assert record.request.length_s == 2.0 and fake_slack.hooks == []


async def test_limits_are_answered_ephemerally(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    for n in range(core.settings.max_jobs_per_user + 1):
        await dispatch(slack, slash_command(f"clip {n}", response_url=fake_slack.hook_url()))
    await fake_slack.wait_for(lambda: fake_slack.hooks)
    [answer] = fake_slack.hooks
    assert answer["response_type"] == "ephemeral" and "queued or rendering" in answer["text"]
    allowed = core.settings.max_jobs_per_user
    assert await eventually(lambda: _jobs_beyond(core, allowed - 1)) == allowed


async def test_not_in_channel_is_logged_told_to_the_user_and_the_job_cancelled(
    core: BotCore,
    slack: SlackAdapter,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_slack.fail("chat.postMessage", "C0PRIVATE", "not_in_channel")
    elsewhere = slash_command(
        "a quiet forest", channel="C0PRIVATE", response_url=fake_slack.hook_url()
    )
    caplog.set_level(logging.ERROR, logger="clipbot.bot.slack_app")
    async with delivering(core, slack, "slack"):
        await dispatch(slack, elsewhere)
        await fake_slack.wait_for(lambda: fake_slack.hooks)
        # the app keeps serving: the next prompt, in a channel it is in, is answered
        await dispatch(slack, mention("a sunny meadow", ts="1699999999.000040"))
        await fake_slack.wait_for(lambda: fake_slack.thread(CHANNEL, "1699999999.000040"))

    [note] = fake_slack.hooks
    assert note["response_type"] == "ephemeral" and "/invite @clipbot" in note["text"]
    assert "not_in_channel" in caplog.text and "C0PRIVATE" in caplog.text
    assert "xoxb" not in caplog.text
    assert len(fake_slack.hooks) == 1  # told once, though the cancel was delivered too
    [remaining] = await core.queue.user_jobs(ALICE_HERE)
    assert remaining.request.prompt == "a sunny meadow"
    assert await queue_length(core) == 1


async def test_the_bots_own_reactions_are_ignored(
    core: BotCore, slack: SlackAdapter, fake_slack: FakeSlack
) -> None:
    submission = await core.submit_text("a windmill", ALICE_HERE)
    await core.link_message(ALICE_HERE, "1699999999.000050", submission.job_id)
    await dispatch(slack, reaction("repeat", user=BOT_USER, ts="1699999999.000050"))
    await dispatch(slack, reaction("repeat", user=BOB, ts="1699999999.000050"))
    await eventually(lambda: _jobs_beyond(core, 1))
    assert await queue_length(core) == 2  # the original and Bob's, not the bot's
    bob = Origin(platform="slack", channel=CHANNEL, user=BOB)
    assert [r.request.parent_job_id for r in await core.queue.user_jobs(bob)] == [submission.job_id]
    assert (await core.queue.record(submission.job_id)).status is EventKind.QUEUED


async def _jobs_beyond(core: BotCore, count: int) -> int | None:
    length = await queue_length(core)
    return length if length > count else None
