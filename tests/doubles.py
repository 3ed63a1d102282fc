"""A renderer double for queue-mechanics tests, where the GPU's work is beside the point
(the real pipeline is tested in tests/generator and end to end in tests/bot)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from clipbot.bot.delivery import ClipFile
from clipbot.errors import GenerationFailed, JobCancelled
from clipbot.generator.contract import EncodedClip, ProgressFn, StopFn
from clipbot.models import TERMINAL_EVENTS, ClipRequest, EventKind, JobEvent


@dataclass
class StepRenderer:
    """Takes ``steps`` steps of ``step_s`` seconds; records what it rendered and how it ended."""

    steps: int = 4
    step_s: float = 0.0
    fail_on: str | None = None
    model_name: str = "double"
    rendered: list[ClipRequest] = field(default_factory=list)
    stopped_at: list[int] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    def render(self, request: ClipRequest, on_progress: ProgressFn, should_stop: StopFn) -> bytes:
        self.started.set()
        if self.fail_on and self.fail_on in request.prompt:
            raise GenerationFailed("The GPU ran out of memory; try a shorter clip.")
        for step in range(1, self.steps + 1):
            time.sleep(self.step_s)
            on_progress(step, self.steps)
            if should_stop():
                self.stopped_at.append(step)
                raise JobCancelled("cancelled")
        self.rendered.append(request)
        return f"clip:{request.prompt}:{request.seed}".encode()

    def encode(self, frames: bytes, request: ClipRequest) -> EncodedClip:
        return EncodedClip(data=frames, width=64, height=64, frames=9, fps=8.0)


class RecordingSink:
    """An adapter stand-in that records what it was asked to show."""

    def __init__(self, fail_times: int = 0) -> None:
        self.events: list[JobEvent] = []
        self.clips: dict[str, ClipFile] = {}
        self.fail_times = fail_times
        self._changed = asyncio.Event()

    async def deliver(self, event: JobEvent, clip: ClipFile | None) -> str | None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("chat platform unreachable")
        self.events.append(event)
        if clip is not None:
            self.clips[event.job_id] = clip
        self._changed.set()
        return f"message-{event.job_id}" if event.kind is EventKind.DONE else None

    def kinds(self, job_id: str) -> list[EventKind]:
        return [event.kind for event in self.events if event.job_id == job_id]

    def finals(self, job_id: str) -> list[JobEvent]:
        return [e for e in self.events if e.job_id == job_id and e.kind in TERMINAL_EVENTS]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
