"""Settings, read once in ``main`` (never at import time) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clipbot.errors import ConfigError

ENV_PREFIX = "CLIPBOT_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Redis. None means: `clipbot run` starts a private redis-server.
    redis_url: str | None = None
    redis_wait_s: float = Field(default=60.0, ge=0.0)
    """How long to keep retrying an unreachable Redis at start-up before giving up."""
    queue_name: str = "clipbot:queue"

    # Generation (worker side).
    model: str = "ltx-video-distilled"
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    cpu_offload: bool = False
    vae_tiling: bool = False
    compile: bool = False
    cache_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    cache_dir: Path = Path.home() / ".cache" / "clipbot"
    job_timeout_s: int = Field(default=300, ge=5)
    """A job running longer is stopped; a dead worker's job is re-run this + 10 s later."""
    max_tries: int = Field(default=3, ge=1)
    result_ttl_s: int = Field(default=24 * 3600, ge=60)

    # Per-user limits, enforced atomically in Redis.
    max_jobs_per_user: int = Field(default=2, ge=1)
    daily_quota: int = Field(default=50, ge=1)

    # Delivery.
    progress_interval_s: float = Field(default=1.5, ge=0.0)

    # Moderation.
    moderation_policy: Path | None = None
    moderation_semantic: Literal["auto", "on", "off"] = "auto"
    audit_raw_prompts: bool = False
    audit_hash_key: SecretStr | None = None
    """Key of the audit log's prompt HMAC; unset: a random key kept in Redis."""
    audit_max_entries: int = Field(default=100_000, ge=100)

    # Discord.
    discord_token: SecretStr | None = None
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_channel_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    # Slack.
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None
    slack_http_host: str = "0.0.0.0"
    """Where HTTP mode (``clipbot run --slack-http-port``) listens."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("discord_guild_ids", "discord_channel_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "redis_url",
        "moderation_policy",
        "discord_token",
        "discord_api_url",
        "discord_gateway_url",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_api_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """``CLIPBOT_DISCORD_TOKEN=`` in a .env file means "not set", not an empty token."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def discord_enabled(self) -> bool:
        return self.discord_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``; a bad value becomes one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {item['msg']}")
        raise ConfigError("invalid setting: " + "; ".join(lines)) from None
