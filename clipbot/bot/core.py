"""The platform-free heart of the bot. Every adapter calls it:

text or options -> request -> moderation -> per-user limits -> enqueue;
a reaction or button on a delivered clip -> regenerate, vary or cancel.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clipbot.bot import grammar
from clipbot.config import Settings
from clipbot.errors import InvalidRequest, NotAllowed, PromptBlocked, QueueUnavailable, UnknownJob
from clipbot.generator import presets
from clipbot.models import (
    MAX_SEED,
    TERMINAL_EVENTS,
    Action,
    ClipRequest,
    EventKind,
    JobRecord,
    Origin,
)
from clipbot.moderation import AuditLog, Moderator
from clipbot.queue import events
from clipbot.queue.jobs import ClipQueue
from clipbot.queue.limits import UserLimits

DEFAULT_VARIATION_STRENGTH = 0.25

P = ParamSpec("P")
R = TypeVar("R")


def _queue_errors(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Redis being unreachable is an outage the user should hear about in words."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError):
            raise QueueUnavailable(
                "The clip queue is unreachable right now; try again in a minute."
            ) from None

    return wrapper


@dataclass(frozen=True)
class Submission:
    job_id: str
    request: ClipRequest
    position: int


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class BotCore:
    def __init__(
        self, settings: Settings, redis: ArqRedis, moderator: Moderator, audit: AuditLog
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.moderator = moderator
        self.audit = audit
        self.queue = ClipQueue(
            redis, queue_name=settings.queue_name, record_ttl_s=settings.result_ttl_s
        )
        self.limits = UserLimits(
            redis,
            max_in_flight=settings.max_jobs_per_user,
            daily_quota=settings.daily_quota,
            slot_ttl_s=settings.job_timeout_s * settings.max_tries * 2,
        )

    # -- new clips -------------------------------------------------------------------------

    @_queue_errors
    async def submit_text(
        self, text: str, origin: Origin, *, max_bytes: int | None = None
    ) -> Submission:
        """A prompt with ``--flag`` options, as typed in Slack or the console."""
        extra = {} if max_bytes is None else {"max_bytes": max_bytes}
        return await self.submit(grammar.parse(text, **extra), origin)

    @_queue_errors
    async def submit(self, request: ClipRequest, origin: Origin) -> Submission:
        """Screen, admit and queue a request. Raises a ``ClipbotError`` whose text the adapter
        shows the user (blocked, limit reached, bad model)."""
        await self._check_model(request)
        verdict = await asyncio.to_thread(
            self.moderator.screen,
            request.prompt,
            age_restricted=origin.age_restricted,
            workspace=origin.workspace,
        )
        await self.audit.record(verdict, request.prompt, origin)
        if verdict.blocked:
            raise PromptBlocked(
                verdict.category or "policy", verdict.reason or "This prompt is not allowed here."
            )
        if request.seed is None:
            request = request.model_copy(update={"seed": new_seed()})
        job_id = self.queue.new_job_id()
        await self.limits.admit(origin, job_id)
        try:
            position = await self.queue.enqueue(job_id, request, origin)
        except BaseException:
            await self.limits.release(origin, job_id)
            raise
        return Submission(job_id=job_id, request=request, position=position)

    async def _check_model(self, request: ClipRequest) -> None:
        """Refuse, before queueing, what no worker here could render."""
        served = await self.queue.live_models()
        if request.model is not None and served and request.model not in served:
            raise InvalidRequest(
                f"Model {request.model!r} is not served here. Available: {', '.join(served)}."
            )
        if len(served) > 1 and request.model is None:
            return  # any of several models may take it; each worker checks its own rules
        target = request.model or (served[0] if served else self.settings.model)
        presets.validate(request, target)

    @_queue_errors
    async def models(self) -> list[str]:
        return await self.queue.live_models()

    # -- reactions and buttons -------------------------------------------------------------

    @_queue_errors
    async def job_for_message(self, origin: Origin, message: str) -> str:
        job_id = await self.queue.job_for_message(origin.platform, origin.channel, message)
        if job_id is None:
            raise UnknownJob("That message is not a clip this bot knows (it may have expired).")
        return job_id

    @_queue_errors
    async def link_message(self, origin: Origin, message: str, job_id: str) -> None:
        await self.queue.link_message(origin.platform, origin.channel, message, job_id)

    @_queue_errors
    async def regenerate(self, job_id: str, actor: Origin) -> Submission:
        """Same request, new seed."""
        record = await self.queue.record(job_id)
        return await self._follow_up(
            record, actor, seed=new_seed(), variation_seed=None, variation_strength=0.0
        )

    @_queue_errors
    async def vary(self, job_id: str, actor: Origin) -> Submission:
        """Same seed, its starting noise nudged towards a second seed's noise."""
        record = await self.queue.record(job_id)
        strength = record.request.variation_strength or DEFAULT_VARIATION_STRENGTH
        return await self._follow_up(
            record, actor, variation_seed=new_seed(), variation_strength=strength
        )

    @_queue_errors
    async def act(self, action: Action, job_id: str, actor: Origin) -> Submission | None:
        if action is Action.REGENERATE:
            return await self.regenerate(job_id, actor)
        if action is Action.VARY:
            return await self.vary(job_id, actor)
        await self.cancel(job_id, actor)
        return None

    async def _follow_up(self, record: JobRecord, actor: Origin, **changes: Any) -> Submission:
        """A new clip from a delivered one's request. It belongs to whoever asked for it and
        is answered where the clip was (its thread)."""
        request = record.request.model_copy(update={**changes, "parent_job_id": record.job_id})
        origin = actor.model_copy(update={"thread": actor.thread or record.origin.thread})
        return await self.submit(request, origin)

    # -- cancel and status -----------------------------------------------------------------

    @_queue_errors
    async def cancel(self, job_id: str, actor: Origin) -> JobRecord:
        """Stop a queued or running job. Only its requester or a moderator may. Returns the
        record so an adapter can, for a finished clip, delete the message instead."""
        record = await self.queue.record(job_id)
        if actor.user != record.origin.user and not actor.can_moderate:
            raise NotAllowed(
                "Only the person who asked for this clip (or a moderator) can do that."
            )
        if record.status in TERMINAL_EVENTS:
            return record
        if await self.queue.cancel(record):
            await self.queue.set_status(job_id, EventKind.CANCELLED)
            await events.publish(
                self.redis,
                record.event(EventKind.CANCELLED, message="Cancelled before it started."),
            )
            await self.limits.release(record.origin, job_id)
        return record

    @_queue_errors
    async def jobs_of(self, origin: Origin) -> list[tuple[JobRecord, int | None]]:
        """The user's unfinished jobs with their queue positions (0 = rendering)."""
        return [
            (record, await self.queue.position(record.job_id))
            for record in await self.queue.user_jobs(origin)
        ]
