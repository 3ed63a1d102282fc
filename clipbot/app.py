"""Process wiring for `clipbot run` (chat adapters, optionally with an in-process worker) and
`clipbot worker` (a GPU worker alone)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from arq.connections import ArqRedis

from clipbot.bot.core import BotCore
from clipbot.bot.delivery import Delivery, Sink
from clipbot.config import Settings
from clipbot.errors import ConfigError
from clipbot.queue import connection
from clipbot.queue.embedded import EmbeddedRedis
from clipbot.queue.results import ResultStore

log = logging.getLogger(__name__)


class Adapter(Sink, Protocol):
    platform: str

    async def run(self) -> None:
        """Serve users until asked to stop (or, for the console, until input ends)."""
        ...


@dataclass
class RunOptions:
    console: bool = False
    clips_dir: Path = Path("clips")
    with_worker: bool = True
    slack_http_port: int | None = None


@contextlib.asynccontextmanager
async def redis_for(settings: Settings) -> AsyncIterator[tuple[ArqRedis, str]]:
    """Connect to ``CLIPBOT_REDIS_URL``, or start a private redis-server when it is unset.
    Yields the client and the URL (an in-process worker opens its own connection to it)."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis().start()
        url = embedded.url
        log.info("CLIPBOT_REDIS_URL is not set: started a private redis-server at %s", url)
    try:
        redis = await connection.connect(
            url, queue_name=settings.queue_name, wait_s=settings.redis_wait_s
        )
        try:
            yield redis, url
        finally:
            await redis.aclose()
    finally:
        if embedded is not None:
            embedded.stop()


def build_core(settings: Settings, redis: ArqRedis) -> BotCore:
    from clipbot.moderation import AuditLog, Moderator

    return BotCore(settings, redis, Moderator.from_settings(settings), AuditLog(redis, settings))


def build_adapters(core: BotCore, settings: Settings, options: RunOptions) -> list[Adapter]:
    adapters: list[Adapter] = []
    if settings.discord_enabled:
        from clipbot.bot.discord_app import DiscordAdapter

        adapters.append(DiscordAdapter(core, settings))
    if settings.slack_enabled:
        from clipbot.bot.slack_app import SlackAdapter

        adapters.append(SlackAdapter(core, settings, http_port=options.slack_http_port))
    if options.console or not (settings.discord_enabled or settings.slack_enabled):
        from clipbot.bot.console import ConsoleAdapter

        if not options.console and not sys.stdin.isatty():
            # A bot container started without its tokens would otherwise exit silently.
            log.warning(
                "no chat platform configured (set CLIPBOT_DISCORD_TOKEN, or "
                "CLIPBOT_SLACK_BOT_TOKEN with CLIPBOT_SLACK_APP_TOKEN or "
                "CLIPBOT_SLACK_SIGNING_SECRET); reading prompts from stdin instead"
            )

        adapters.append(ConsoleAdapter(core, options.clips_dir))
    return adapters


async def serve_worker(settings: Settings, url: str, *, handle_signals: bool) -> None:
    """Load the model once, then render jobs until cancelled (or, with ``handle_signals``,
    until SIGINT/SIGTERM: arq then stops taking jobs and re-queues the one in hand)."""
    from clipbot.generator.loader import load_renderer
    from clipbot.queue.worker import ClipWorker

    log.info("loading model %s ...", settings.model)
    renderer = await asyncio.to_thread(load_renderer, settings)
    log.info("model %s loaded; waiting for jobs", renderer.model_name)
    redis = await connection.connect(
        url, queue_name=settings.queue_name, wait_s=settings.redis_wait_s
    )
    worker = ClipWorker(settings, renderer, redis, handle_signals=handle_signals)
    try:
        await worker.async_run()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we are being stopped from outside, not by a signal arq handled
    finally:
        await worker.close()  # also closes the worker's Redis connection


async def run_bot(settings: Settings, options: RunOptions) -> int:
    async with redis_for(settings) as (redis, url):
        core = build_core(settings, redis)
        adapters = build_adapters(core, settings, options)
        if not adapters:
            raise ConfigError("no chat adapter is configured")
        results = ResultStore(redis, settings.result_ttl_s)
        background = [
            asyncio.create_task(
                Delivery(
                    redis,
                    core.queue,
                    results,
                    adapter.platform,
                    adapter,
                    progress_interval_s=settings.progress_interval_s,
                ).run(),
                name=f"delivery-{adapter.platform}",
            )
            for adapter in adapters
        ]
        if options.with_worker:
            background.append(
                asyncio.create_task(serve_worker(settings, url, handle_signals=False))
            )
        runs = [asyncio.create_task(adapter.run()) for adapter in adapters]
        try:
            done, _ = await asyncio.wait([*runs, *background], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a crashed worker or adapter stops the bot with its error
        finally:
            for task in [*runs, *background]:
                task.cancel()
            await asyncio.gather(*runs, *background, return_exceptions=True)
    return 0


async def run_worker(settings: Settings) -> int:
    if settings.redis_url is None:
        raise ConfigError(
            "CLIPBOT_REDIS_URL: a standalone worker needs the bot's Redis, e.g. "
            "CLIPBOT_REDIS_URL=redis://bot-host:6379/0"
        )
    await serve_worker(settings, settings.redis_url, handle_signals=True)
    return 0
