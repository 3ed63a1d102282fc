"""Connecting to Redis: one arq-aware client, retried with backoff, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clipbot.errors import QueueUnavailable
from clipbot.queue import serialization

log = logging.getLogger(__name__)


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def connect(url: str, *, queue_name: str, wait_s: float = 60.0) -> ArqRedis:
    """Return a connected client, retrying with exponential backoff for up to ``wait_s``.

    Raises ``QueueUnavailable`` with one readable line when Redis stays unreachable.
    """
    settings = RedisSettings.from_dsn(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay = 0.25
    while True:
        redis = ArqRedis(
            host=settings.host,
            port=settings.port,
            db=settings.database,
            username=settings.username,
            password=settings.password,
            ssl=settings.ssl,
            socket_connect_timeout=5,
            job_serializer=serialization.dumps,
            job_deserializer=serialization.loads,
            default_queue_name=queue_name,
        )
        try:
            await redis.ping()
            return redis
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            await redis.aclose()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise QueueUnavailable(
                    f"cannot reach Redis at {redacted(url)} ({error}); start Redis or fix "
                    "CLIPBOT_REDIS_URL"
                ) from None
            delay = min(delay * 2, 10.0, remaining)
            log.warning(
                "Redis at %s is not reachable (%s); retrying in %.1fs", redacted(url), error, delay
            )
            await asyncio.sleep(delay)
        except RedisError as error:
            await redis.aclose()
            raise QueueUnavailable(f"Redis at {redacted(url)} refused us: {error}") from None


async def close(redis: Redis) -> None:
    await redis.aclose()
