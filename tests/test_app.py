"""Which adapters `clipbot run` starts, and what it says when it falls back to the console."""

import logging

import pytest

from clipbot.app import RunOptions, build_adapters
from clipbot.bot.console import ConsoleAdapter
from clipbot.bot.core import BotCore
from clipbot.config import Settings

pytestmark = pytest.mark.redis


def test_without_chat_tokens_and_a_terminal_the_console_fallback_is_announced(
    core: BotCore, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest's stdin is not a terminal, as in a bot container started without its tokens.
    with caplog.at_level(logging.WARNING, logger="clipbot.app"):
        adapters = build_adapters(core, settings, RunOptions())
    assert [type(a) for a in adapters] == [ConsoleAdapter]
    assert "no chat platform configured" in caplog.text
    assert "CLIPBOT_DISCORD_TOKEN" in caplog.text


def test_asking_for_the_console_is_not_warned_about(
    core: BotCore, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="clipbot.app"):
        adapters = build_adapters(core, settings, RunOptions(console=True))
    assert [type(a) for a in adapters] == [ConsoleAdapter]
    assert caplog.text == ""
