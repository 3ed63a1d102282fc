"""How the adapter meets Slack: HTTP mode's real server on loopback (signatures checked),
Socket Mode against a local WebSocket, and the settings each mode needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from clipbot.bot.core import BotCore
from clipbot.bot.slack_app import SlackAdapter
from clipbot.cli import main
from clipbot.config import Settings
from clipbot.errors import ConfigError
from clipbot.queue.embedded import EmbeddedRedis
from tests.bot.slack.fake_slack import BOT_TOKEN, FakeSlack, encode, mention, signed_headers
from tests.conftest import eventually

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def running(adapter: SlackAdapter) -> AsyncIterator[SlackAdapter]:
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(10):
            await adapter.ready.wait()
        yield adapter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def queued(core: BotCore) -> int | None:
    return int(await core.redis.zcard(core.settings.queue_name)) or None


async def test_http_mode_serves_signed_requests_and_refuses_bad_or_stale_signatures(
    core: BotCore, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    raw, content_type = encode(mention("a neon city at night", ts="1699999999.000100"))
    forged = signed_headers(raw, content_type, secret="not-the-secret")
    stale = signed_headers(raw, content_type, timestamp=int(time.time()) - 10 * 60)
    async with running(SlackAdapter(core, slack_settings, http_port=0)) as adapter:
        assert adapter.http_address is not None
        host, port = adapter.http_address
        url = f"http://{host}:{port}/slack/events"
        async with aiohttp.ClientSession() as http:
            for headers in (forged, stale):
                async with http.post(url, data=raw, headers=headers) as response:
                    assert response.status == 401
            assert await queued(core) is None
            assert [call.method for call in fake_slack.calls] == ["auth.test"]  # at start only
            async with http.post(url, data=raw, headers=signed_headers(raw, content_type)) as ok:
                assert ok.status == 200
            assert await eventually(lambda: queued(core)) == 1
    # stopped: the port is closed
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.post(url, data=raw):
            pass


async def test_socket_mode_acknowledges_and_handles_events_without_a_signing_secret(
    core: BotCore, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    body = mention("a paper crane in the wind", ts="1699999999.000200")
    fake_slack.envelopes.append(
        {
            "envelope_id": "env-1",
            "type": "events_api",
            "payload": body,
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
    )
    socket_settings = slack_settings.model_copy(update={"slack_signing_secret": None})
    async with running(SlackAdapter(core, socket_settings)):
        await fake_slack.wait_for(lambda: fake_slack.socket_acks)
        assert await eventually(lambda: queued(core)) == 1
    assert fake_slack.socket_acks[0]["envelope_id"] == "env-1"
    # checked at start, then opened by the Socket Mode client: both with the app token
    opened = [call.token for call in fake_slack.calls if call.method == "apps.connections.open"]
    assert opened == ["xapp-test-token", "xapp-test-token"]


@pytest.mark.parametrize(
    ("missing", "http_port", "named"),
    [
        ("slack_bot_token", None, "CLIPBOT_SLACK_BOT_TOKEN"),
        ("slack_app_token", None, "CLIPBOT_SLACK_APP_TOKEN"),
        ("slack_signing_secret", 3000, "CLIPBOT_SLACK_SIGNING_SECRET"),
    ],
)
def test_a_missing_setting_is_named_in_a_config_error(
    core: BotCore, slack_settings: Settings, missing: str, http_port: int | None, named: str
) -> None:
    settings = slack_settings.model_copy(update={missing: None})
    with pytest.raises(ConfigError, match=named):
        SlackAdapter(core, settings, http_port=http_port)


def test_http_mode_needs_no_app_token(core: BotCore, slack_settings: Settings) -> None:
    settings = slack_settings.model_copy(update={"slack_app_token": None})
    assert SlackAdapter(core, settings, http_port=3000).http_port == 3000


@pytest.mark.parametrize(
    ("method", "error", "http_port", "named"),
    [
        ("apps.connections.open", "invalid_auth", None, "CLIPBOT_SLACK_APP_TOKEN"),
        ("apps.connections.open", "not_allowed_token_type", None, "CLIPBOT_SLACK_APP_TOKEN"),
        ("auth.test", "invalid_auth", None, "CLIPBOT_SLACK_BOT_TOKEN"),
        ("auth.test", "token_revoked", 0, "CLIPBOT_SLACK_BOT_TOKEN"),
    ],
)
async def test_a_token_slack_refuses_stops_the_adapter_with_one_line_naming_the_setting(
    core: BotCore,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    method: str,
    error: str,
    http_port: int | None,
    named: str,
) -> None:
    fake_slack.fail(method, "", error)
    adapter = SlackAdapter(core, slack_settings, http_port=http_port)
    with pytest.raises(ConfigError) as refused:
        async with asyncio.timeout(10):
            await adapter.run()

    line = str(refused.value)
    assert named in line and error in line and "\n" not in line
    assert "xapp-test-token" not in line and BOT_TOKEN not in line
    assert not adapter.ready.is_set()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_slack_briefly_failing_the_token_check_does_not_stop_the_adapter(
    core: BotCore, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("auth.test", "", "internal_error")
    async with running(SlackAdapter(core, slack_settings)) as adapter:
        assert adapter.ready.is_set()


async def test_clipbot_run_with_a_bad_app_token_exits_with_one_line_and_no_token(
    redis_server: EmbeddedRedis,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("CLIPBOT_DISCORD_TOKEN", raising=False)
    for name, value in {
        "REDIS_URL": redis_server.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-A0-revoked",
        "SLACK_API_URL": fake_slack.api_url,
        "MODERATION_SEMANTIC": "off",
    }.items():
        monkeypatch.setenv(f"CLIPBOT_{name}", value)
    fake_slack.fail("apps.connections.open", "", "invalid_auth")

    code = await asyncio.wait_for(asyncio.to_thread(main, ["run", "--no-worker"]), 60)

    assert code == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "clipbot: Slack refused CLIPBOT_SLACK_APP_TOKEN (invalid_auth); it must be an "
        "app-level token (xapp-…) with the connections:write scope\n"
    )
    assert "Traceback" not in err and "xapp-1-A0-revoked" not in err
