"""A running Discord adapter against the local fake Discord, with delivery on a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
from pydantic import SecretStr

from clipbot.bot.core import BotCore
from clipbot.bot.discord_app import DiscordAdapter
from clipbot.config import Settings
from tests.bot.discord.fake_discord import GUILD_ID, FakeDiscord
from tests.conftest import delivering


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    # the adapter points these class attributes at the fake; put them back afterwards
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def discord_settings(settings: Settings, fake_discord: FakeDiscord) -> Settings:
    return settings.model_copy(
        update={
            "discord_token": SecretStr("test-token"),
            "discord_api_url": fake_discord.api_url,
            "discord_gateway_url": fake_discord.gateway_url,
            "discord_guild_ids": [GUILD_ID],
        }
    )


@pytest.fixture
async def bot(
    core: BotCore, discord_settings: Settings, fake_discord: FakeDiscord
) -> AsyncIterator[DiscordAdapter]:
    """The adapter's own ``run()`` (login, command sync, gateway) and its event delivery."""
    adapter = DiscordAdapter(core, discord_settings)
    running = asyncio.create_task(adapter.run())
    async with delivering(core, adapter, "discord"):
        async with asyncio.timeout(10):
            await fake_discord.identified.wait()
        yield adapter
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
