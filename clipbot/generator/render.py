"""Run a loaded pipeline for one request: seeded noise, progress and cancellation between steps,
and failures turned into messages a user can read."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import torch

from clipbot.errors import GenerationFailed, JobCancelled
from clipbot.generator.contract import EncodedClip, ProgressFn, StopFn
from clipbot.generator.encode import (
    Pixels,
    ai_metadata,
    encode_mp4,
    even_crop,
    poster_jpeg,
    to_pixels,
)
from clipbot.generator.noise import initial_noise, variation_noise
from clipbot.generator.presets import Preset
from clipbot.models import ClipRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frames:
    """A rendered clip before encoding."""

    pixels: Pixels
    fps: float
    seed: int
    model: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[1])


@dataclass(frozen=True)
class Plan:
    """The pipeline arguments a request resolves to under a preset's rules."""

    frames: int
    width: int
    height: int
    steps: int
    guidance: float

    @classmethod
    def of(cls, request: ClipRequest, preset: Preset) -> Plan:
        width, height = preset.size_for(request.aspect)
        return cls(
            frames=preset.frames_for(request),
            width=width,
            height=height,
            steps=preset.steps_for(request),
            guidance=preset.guidance_for(request),
        )


class DiffusersRenderer:
    """The worker's ``Renderer`` over one loaded diffusers pipeline. One render at a time: the
    pipeline keeps per-call state (``_interrupt``, cache hooks) on itself."""

    def __init__(self, pipe: Any, preset: Preset, *, name: str, device: torch.device) -> None:
        self.pipe = pipe
        self.preset = preset
        self.device = device
        self._name = name
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._name

    def _check_model(self, request: ClipRequest) -> None:
        if request.model is not None and request.model not in (self._name, self.preset.name):
            raise GenerationFailed(
                f"This worker runs {self._name}, not {request.model}; leave the model unset."
            )

    def starting_latents(self, request: ClipRequest, seed: int, plan: Plan) -> torch.Tensor:
        """The seed's noise, or for a variation the seed's noise blended with another's."""
        shape = {"frames": plan.frames, "width": plan.width, "height": plan.height}
        if request.is_variation and request.variation_seed is not None:
            return variation_noise(
                self.pipe,
                seed=seed,
                variation_seed=request.variation_seed,
                strength=request.variation_strength,
                **shape,
            )
        return initial_noise(self.pipe, seed=seed, **shape)

    def pipeline_kwargs(self, request: ClipRequest, seed: int, plan: Plan) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "num_frames": plan.frames,
            "width": plan.width,
            "height": plan.height,
            "num_inference_steps": plan.steps,
            "guidance_scale": plan.guidance,
            # A CPU generator draws the same numbers on every device; the pipeline uses it for
            # any noise it adds itself (LTX's decode noise).
            "generator": torch.Generator("cpu").manual_seed(seed),
            "latents": self.starting_latents(request, seed, plan),
            "output_type": "np",
            **self.preset.call_kwargs,
        }
        if self.preset.family == "ltx":
            kwargs["frame_rate"] = self.preset.fps
        return kwargs

    def render(self, request: ClipRequest, on_progress: ProgressFn, should_stop: StopFn) -> Frames:
        if request.seed is None:
            raise ValueError("request.seed must be set before the job reaches the worker")
        self._check_model(request)
        seed = request.seed
        plan = Plan.of(request, self.preset)

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> Any:
            if should_stop():
                raise JobCancelled("The job was cancelled.")
            on_progress(step + 1, int(pipe.num_timesteps))
            return tensors

        with self._lock:
            if should_stop():
                raise JobCancelled("The job was cancelled.")
            kwargs = self.pipeline_kwargs(request, seed, plan)
            try:
                output = self.pipe(callback_on_step_end=on_step_end, **kwargs)
            except JobCancelled:
                self._release_memory()
                raise
            except torch.OutOfMemoryError:
                self._release_memory()
                raise GenerationFailed(
                    "The GPU ran out of memory on this clip; try a shorter length or a "
                    "smaller aspect."
                ) from None
            except Exception as error:
                self._release_memory()
                logger.exception("pipeline failed on job with seed %s", seed)
                raise GenerationFailed(
                    f"The video model failed on this clip ({error.__class__.__name__})."
                ) from error
        pixels = to_pixels(output.frames[0])
        return Frames(pixels=pixels, fps=float(self.preset.fps), seed=seed, model=self._name)

    def _release_memory(self) -> None:
        """After an aborted call: drop offload hooks' placements and cached GPU blocks, so the
        next job starts from a clean GPU."""
        self.pipe.maybe_free_model_hooks()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def encode(self, frames: Frames, request: ClipRequest) -> EncodedClip:
        pixels = even_crop(frames.pixels)
        data = encode_mp4(
            pixels,
            frames.fps,
            max_bytes=request.max_bytes,
            metadata=ai_metadata(frames.model, frames.seed),
        )
        return EncodedClip(
            data=data,
            width=int(pixels.shape[2]),
            height=int(pixels.shape[1]),
            frames=len(pixels),
            fps=frames.fps,
            poster=poster_jpeg(pixels),
        )
