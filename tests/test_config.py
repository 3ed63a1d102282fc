"""Settings come from the environment once; a bad value is one clear line naming it."""

from __future__ import annotations

import pytest

from clipbot.config import load_settings
from clipbot.errors import ConfigError


def test_blank_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPBOT_DISCORD_TOKEN", "")
    monkeypatch.setenv("CLIPBOT_SLACK_BOT_TOKEN", "  ")
    monkeypatch.setenv("CLIPBOT_REDIS_URL", "")
    settings = load_settings(_env_file=None)
    assert not settings.discord_enabled and not settings.slack_enabled
    assert settings.redis_url is None


def test_id_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPBOT_DISCORD_GUILD_IDS", "123, 456")
    assert load_settings(_env_file=None).discord_guild_ids == [123, 456]


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPBOT_MAX_JOBS_PER_USER", "lots")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith("invalid setting: CLIPBOT_MAX_JOBS_PER_USER:")


def test_secrets_are_masked_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPBOT_SLACK_BOT_TOKEN", "xoxb-very-secret")
    settings = load_settings(_env_file=None)
    assert "xoxb-very-secret" not in repr(settings) and "xoxb-very-secret" not in str(settings)
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"
