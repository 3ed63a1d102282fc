"""Shared fixtures: a private redis-server per test session (never the machine's own Redis),
a clean database per test, settings pointing at it, and an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from arq.connections import ArqRedis

from clipbot.bot.core import BotCore
from clipbot.bot.delivery import Delivery, Sink
from clipbot.config import Settings
from clipbot.generator.contract import Renderer
from clipbot.moderation import AuditLog, Moderator
from clipbot.queue import connection
from clipbot.queue.embedded import EmbeddedRedis
from clipbot.queue.results import ResultStore
from clipbot.queue.worker import ClipWorker

os.environ.setdefault("HF_HUB_OFFLINE", "1")
T = TypeVar("T")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight LTX pipeline, built once and loaded through the real loader."""
    from clipbot.generator.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-ltx", "ltx")


@pytest.fixture(scope="session")
def tiny_renderer(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    """A real renderer on the tiny model, loaded once per session."""
    from clipbot.generator.loader import load_renderer

    settings = Settings(
        _env_file=None,
        model=str(tiny_model_dir),
        device="cpu",
        cache_dir=tmp_path_factory.mktemp("cache"),
    )
    return load_renderer(settings)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def settings(redis_server: EmbeddedRedis, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_server.url,
        redis_wait_s=2.0,
        cache_dir=tmp_path / "cache",
        job_timeout_s=30,
        progress_interval_s=0.0,
        max_jobs_per_user=5,
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    assert settings.redis_url is not None
    client = await connection.connect(settings.redis_url, queue_name=settings.queue_name)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def core(settings: Settings, redis: ArqRedis) -> BotCore:
    """The real core with the real rule-based moderation (the semantic layer has its own
    tests; loading it here would slow every test)."""
    return make_core(settings, redis)


def make_core(settings: Settings, redis: ArqRedis, **overrides: Any) -> BotCore:
    settings = settings.model_copy(update={"moderation_semantic": "off", **overrides})
    return BotCore(settings, redis, Moderator.from_settings(settings), AuditLog(redis, settings))


WorkerFactory = Callable[..., contextlib.AbstractAsyncContextManager[ClipWorker]]


@pytest.fixture
def start_worker(settings: Settings) -> WorkerFactory:
    """``async with start_worker(renderer) as worker:`` runs a worker on its own connection."""

    @contextlib.asynccontextmanager
    async def run(renderer: Renderer, **overrides: Any) -> AsyncIterator[ClipWorker]:
        worker_settings = settings.model_copy(update=overrides)
        assert worker_settings.redis_url is not None
        client = await connection.connect(
            worker_settings.redis_url, queue_name=worker_settings.queue_name
        )
        worker = ClipWorker(worker_settings, renderer, client, handle_signals=False)
        task = asyncio.create_task(worker.main())
        try:
            yield worker
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await worker.close()

    return run


@contextlib.asynccontextmanager
async def delivering(
    core: BotCore, sink: Sink, platform: str = "console", consumer: str = "test", **options: Any
) -> AsyncIterator[Delivery]:
    """Delivery reading ``platform``'s event stream into ``sink``, as `clipbot run` does;
    ``options`` go to ``Delivery`` (no progress throttling unless they say otherwise)."""
    delivery = Delivery(
        core.redis,
        core.queue,
        ResultStore(core.redis, core.settings.result_ttl_s),
        platform,
        sink,
        consumer=consumer,
        **{"progress_interval_s": 0.0, **options},
    )
    task = asyncio.create_task(delivery.run())
    try:
        yield delivery
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    """Poll ``probe`` until it returns something other than None."""
    async with asyncio.timeout(timeout):
        while (value := await probe()) is None:
            await asyncio.sleep(0.05)
    return value
