"""Per-server moderation policy, read from a TOML or YAML file named in settings.

Top-level keys are the defaults for every server; a ``servers`` table overrides them per
workspace id (Discord guild id, Slack team id)::

    blocked_terms = ["crypto", "my ex"]
    allowed_names = ["Captain Clip"]
    no_real_people = false
    sexual_content_in_age_restricted = false

    [servers."123456789012345678"]
    no_real_people = true
    sexual_content_in_age_restricted = true

A server's ``blocked_terms`` and ``allowed_names`` add to the defaults; its flags replace them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clipbot.errors import ConfigError


class ServerPolicy(BaseModel):
    """What one server decided. Hard blocks (sexual content involving minors) are not here:
    no policy can lift them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blocked_terms: tuple[str, ...] = ()
    allowed_names: tuple[str, ...] = ()
    no_real_people: bool = False
    sexual_content_in_age_restricted: bool = False


class _ServerOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocked_terms: tuple[str, ...] = ()
    allowed_names: tuple[str, ...] = ()
    no_real_people: bool | None = None
    sexual_content_in_age_restricted: bool | None = None


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    blocked_terms: tuple[str, ...] = ()
    allowed_names: tuple[str, ...] = ()
    no_real_people: bool = False
    sexual_content_in_age_restricted: bool = False
    servers: dict[str, _ServerOverride] = Field(default_factory=dict)

    @property
    def default(self) -> ServerPolicy:
        return ServerPolicy(
            blocked_terms=self.blocked_terms,
            allowed_names=self.allowed_names,
            no_real_people=self.no_real_people,
            sexual_content_in_age_restricted=self.sexual_content_in_age_restricted,
        )

    def for_server(self, workspace: str | None) -> ServerPolicy:
        base = self.default
        override = self.servers.get(workspace) if workspace is not None else None
        if override is None:
            return base
        return ServerPolicy(
            blocked_terms=base.blocked_terms + override.blocked_terms,
            allowed_names=base.allowed_names + override.allowed_names,
            no_real_people=(
                base.no_real_people if override.no_real_people is None else override.no_real_people
            ),
            sexual_content_in_age_restricted=(
                base.sexual_content_in_age_restricted
                if override.sexual_content_in_age_restricted is None
                else override.sexual_content_in_age_restricted
            ),
        )


def load_policy(path: Path | None) -> PolicyFile:
    """Read a policy file; any problem becomes a ``ConfigError`` naming the file and the key."""
    if path is None:
        return PolicyFile()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"moderation policy {path}: cannot read ({error.strerror})") from None
    try:
        data: Any
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError(f"moderation policy {path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"moderation policy {path}: not valid: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"moderation policy {path}: expected a table of settings at the top")
    if isinstance(data.get("servers"), dict):
        # YAML reads unquoted Discord guild ids as integers.
        data["servers"] = {str(key): value for key, value in data["servers"].items()}
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"moderation policy {path}: {problems}") from None
