"""Every Redis key clipbot writes, in one place (arq's own keys live in ``arq.constants``)."""

from __future__ import annotations

PREFIX = "clipbot"
WAKEUP_CHANNEL = f"{PREFIX}:wakeup"
"""Pub/sub channel: a message wakes idle workers at once instead of waiting for their poll."""
WORKERS = f"{PREFIX}:workers"
"""Sorted set of live workers, ``<worker id>|<model>`` scored by last heartbeat."""
DELIVERY_GROUP = "delivery"


def events_stream(platform: str) -> str:
    return f"{PREFIX}:events:{platform}"


def job_record(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def clip_data(job_id: str) -> str:
    return f"{PREFIX}:clip:{job_id}"


def clip_info(job_id: str) -> str:
    return f"{PREFIX}:clip-info:{job_id}"


def clip_poster(job_id: str) -> str:
    return f"{PREFIX}:poster:{job_id}"


def delivered(platform: str, job_id: str) -> str:
    return f"{PREFIX}:delivered:{platform}:{job_id}"


def inflight(platform: str, user: str) -> str:
    return f"{PREFIX}:inflight:{platform}:{user}"


def daily_count(platform: str, user: str, day: str) -> str:
    return f"{PREFIX}:daily:{platform}:{user}:{day}"


def lineage(platform: str, channel: str, message: str) -> str:
    return f"{PREFIX}:lineage:{platform}:{channel}:{message}"


def user_jobs(platform: str, user: str) -> str:
    return f"{PREFIX}:user-jobs:{platform}:{user}"
