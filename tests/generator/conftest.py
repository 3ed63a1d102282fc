"""Generator fixtures: the tiny random-weight models, built once per session and loaded through
the production loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clipbot.config import Settings
from clipbot.generator.loader import load_renderer
from clipbot.generator.render import DiffusersRenderer
from clipbot.generator.tiny import build_tiny_model
from clipbot.models import ClipRequest


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-wan", "wan")


@pytest.fixture(scope="session")
def settings_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    cache_dir = tmp_path_factory.mktemp("cache")

    def make(model: str, **overrides: Any) -> Settings:
        """Settings from the arguments and environment only (never a developer's .env)."""
        fields: dict[str, Any] = {"model": model, "device": "cpu", "cache_dir": cache_dir}
        return Settings(_env_file=None, **(fields | overrides))

    return make


@pytest.fixture(scope="session")
def renderer(tiny_model_dir: Path, settings_for: Callable[..., Settings]) -> DiffusersRenderer:
    return load_renderer(settings_for(str(tiny_model_dir)))


@pytest.fixture(scope="session")
def wan_renderer(tiny_wan_dir: Path, settings_for: Callable[..., Settings]) -> DiffusersRenderer:
    return load_renderer(settings_for(str(tiny_wan_dir)))


@pytest.fixture
def request_() -> ClipRequest:
    return ClipRequest(prompt="a red fox running in snow", seed=7, length_s=1.0, steps=3)
