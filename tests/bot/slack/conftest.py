"""Fixtures for the Slack adapter: the fake Web API on loopback, the real adapter (Bolt app)
pointed at it, Delivery feeding the adapter, and the tiny real model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.response import BoltResponse

from clipbot.bot.core import BotCore
from clipbot.bot.slack_app import SlackAdapter
from clipbot.config import Settings
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, bolt_request

T = TypeVar("T")


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    runner = web.AppRunner(fake.web_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def slack_settings(settings: Settings, fake_slack: FakeSlack) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_app_token": SecretStr("xapp-test-token"),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": fake_slack.api_url,
            "slack_http_host": "127.0.0.1",
        }
    )


@pytest.fixture
def slack(core: BotCore, slack_settings: Settings) -> SlackAdapter:
    return SlackAdapter(core, slack_settings)


async def dispatch(adapter: SlackAdapter, body: dict[str, Any], **options: Any) -> BoltResponse:
    """A signed request, as Slack sends it, through the real Bolt app."""
    return await adapter.app.async_dispatch(bolt_request(body, **options))
