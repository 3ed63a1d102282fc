"""The worker's view of a generator. Torch-free, so the queue package can import it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from clipbot.models import ClipRequest

ProgressFn = Callable[[int, int], None]
"""Called from the render thread with (step, total_steps) after each denoising step."""

StopFn = Callable[[], bool]
"""Polled between steps; when it returns True the render raises ``JobCancelled``."""


@dataclass(frozen=True)
class EncodedClip:
    data: bytes
    width: int
    height: int
    frames: int
    fps: float
    poster: bytes | None = None
    mime: str = "video/mp4"


class Renderer(Protocol):
    """Loaded once per worker. ``render`` runs on the GPU (in a worker thread) and returns
    frames; ``encode`` turns them into an mp4 off the GPU's critical path."""

    @property
    def model_name(self) -> str: ...

    def render(self, request: ClipRequest, on_progress: ProgressFn, should_stop: StopFn) -> Any: ...

    def encode(self, frames: Any, request: ClipRequest) -> EncodedClip: ...
