"""Model presets and their rules (frame counts, sizes, fps). Torch-free: the chat process imports
this module for `/video model` autocomplete and to reject impossible requests before queueing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from clipbot.errors import ConfigError, InvalidRequest
from clipbot.models import ASPECTS, Aspect, ClipRequest

Family = Literal["ltx", "wan", "cogvideox"]

PRESET_MARKER = "clipbot-preset.json"
"""File a model directory may carry to name the preset whose rules it follows (the tiny model
writes one)."""

PIPELINE_FAMILIES: dict[str, Family] = {
    "LTXPipeline": "ltx",
    "WanPipeline": "wan",
    "CogVideoXPipeline": "cogvideox",
}

Size = tuple[int, int]
"""(width, height) in pixels."""


@dataclass(frozen=True)
class Preset:
    """One model and its family's rules. Frame counts are ``frame_step * k + 1``."""

    name: str
    repo: str
    family: Family
    pipeline_class: str
    description: str
    frame_step: int
    max_frames: int
    size_multiple: int
    fps: int
    steps: int
    guidance: float
    sizes: dict[Aspect, Size]
    single_file: str | None = None
    """A checkpoint file inside ``repo`` loaded with ``from_single_file`` instead of the repo's
    diffusers folders."""
    call_kwargs: dict[str, float] = field(default_factory=dict)
    """Extra pipeline arguments this checkpoint needs (e.g. LTX's decode timestep)."""
    tiny: bool = False

    def __post_init__(self) -> None:
        if set(self.sizes) != set(ASPECTS):
            raise ValueError(f"preset {self.name} must give a size for each of {ASPECTS}")
        for width, height in self.sizes.values():
            self.check_size(width, height)
        self.check_frames(self.max_frames)

    @property
    def min_frames(self) -> int:
        return self.frame_step + 1

    @property
    def uses_cfg(self) -> bool:
        """Classifier-free guidance runs the transformer twice per step; guidance 1 skips it."""
        return self.guidance > 1

    @property
    def max_length_s(self) -> float:
        return self.max_frames / self.fps

    def frame_rule(self) -> str:
        return (
            f"{self.name} makes {self.frame_step}k+1 frames ({self.min_frames}, "
            f"{self.min_frames + self.frame_step}, {self.min_frames + 2 * self.frame_step} ... "
            f"up to {self.max_frames}, i.e. {self.max_length_s:.1f} s at {self.fps} fps)"
        )

    def check_frames(self, frames: int) -> None:
        if frames < self.min_frames or frames > self.max_frames or frames % self.frame_step != 1:
            below = (frames - 1) // self.frame_step * self.frame_step + 1
            nearest = sorted(
                {
                    min(max(n, self.min_frames), self.max_frames)
                    for n in (below, below + self.frame_step)
                }
            )
            raise InvalidRequest(
                f"{frames} frames is not possible: {self.frame_rule()}; "
                f"try {' or '.join(map(str, nearest))}."
            )

    def check_size(self, width: int, height: int) -> None:
        multiple = self.size_multiple
        if width <= 0 or height <= 0 or width % multiple or height % multiple:
            raise InvalidRequest(
                f"{width}x{height} is not possible: {self.name} needs width and height that are "
                f"positive multiples of {multiple} (for example {self.sizes['16:9'][0]}x"
                f"{self.sizes['16:9'][1]})."
            )

    def frames_for_length(self, length_s: float) -> int:
        """The valid frame count nearest to ``length_s`` seconds at the native fps."""
        k = max(1, round((length_s * self.fps - 1) / self.frame_step))
        frames = self.frame_step * k + 1
        if frames > self.max_frames:
            raise InvalidRequest(
                f"{length_s:g} s is too long for {self.name}: at most "
                f"{self.max_length_s:.1f} s ({self.max_frames} frames at {self.fps} fps)."
            )
        return frames

    def frames_for(self, request: ClipRequest) -> int:
        """The request's explicit frame count if it set one (checked), else its length's."""
        if request.frames is not None:
            self.check_frames(request.frames)
            return request.frames
        return self.frames_for_length(request.length_s)

    def size_for(self, aspect: Aspect) -> Size:
        return self.sizes[aspect]

    def guidance_for(self, request: ClipRequest) -> float:
        if request.guidance is None:
            return self.guidance
        if not self.uses_cfg and request.guidance > 1:
            raise InvalidRequest(
                f"{self.name} is distilled to run without guidance; leave guidance unset (or 1)."
            )
        return request.guidance

    def steps_for(self, request: ClipRequest) -> int:
        return request.steps if request.steps is not None else self.steps


_LTX_SIZES: dict[Aspect, Size] = {
    "16:9": (768, 512),
    "9:16": (512, 768),
    "1:1": (640, 640),
    "4:3": (704, 512),
    "3:4": (512, 704),
}
_WAN_SIZES: dict[Aspect, Size] = {
    "16:9": (832, 480),
    "9:16": (480, 832),
    "1:1": (624, 624),
    "4:3": (640, 480),
    "3:4": (480, 640),
}
# CogVideoX 2B was trained at 720x480 only; other aspects keep about the same pixel count.
_COGVIDEOX_SIZES: dict[Aspect, Size] = {
    "16:9": (720, 480),
    "9:16": (480, 720),
    "1:1": (592, 592),
    "4:3": (672, 496),
    "3:4": (496, 672),
}

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="ltx-video-distilled",
            repo="Lightricks/LTX-Video",
            single_file="ltxv-2b-0.9.8-distilled.safetensors",
            family="ltx",
            pipeline_class="LTXPipeline",
            description="LTX-Video 2B distilled: 8 steps, no CFG, the fastest for a chat bot",
            frame_step=8,
            max_frames=257,
            size_multiple=32,
            fps=25,
            steps=8,
            guidance=1.0,
            sizes=_LTX_SIZES,
            call_kwargs={"decode_timestep": 0.05, "decode_noise_scale": 0.025},
        ),
        Preset(
            name="ltx-video",
            repo="Lightricks/LTX-Video",
            family="ltx",
            pipeline_class="LTXPipeline",
            description="LTX-Video 2B (0.9.x diffusers format), 40 steps with CFG",
            frame_step=8,
            max_frames=257,
            size_multiple=32,
            fps=25,
            steps=40,
            guidance=3.0,
            sizes=_LTX_SIZES,
        ),
        Preset(
            name="wan2.1-t2v-1.3b",
            repo="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            family="wan",
            pipeline_class="WanPipeline",
            description="Wan 2.1 text-to-video 1.3B, 480p, 30 steps with CFG",
            frame_step=4,
            max_frames=81,
            size_multiple=16,
            fps=16,
            steps=30,
            guidance=5.0,
            sizes=_WAN_SIZES,
        ),
        Preset(
            name="cogvideox-2b",
            repo="THUDM/CogVideoX-2b",
            family="cogvideox",
            pipeline_class="CogVideoXPipeline",
            description="CogVideoX 2B, 720x480, up to 49 frames at 8 fps, 50 steps with CFG",
            frame_step=4,
            max_frames=49,
            size_multiple=16,
            fps=8,
            steps=50,
            guidance=6.0,
            sizes=_COGVIDEOX_SIZES,
        ),
        Preset(
            name="tiny",
            repo="",
            family="ltx",
            pipeline_class="LTXPipeline",
            description="random-weight LTX pipeline for tests and the offline demo (noise frames)",
            frame_step=8,
            max_frames=257,
            size_multiple=32,
            fps=25,
            steps=4,
            guidance=3.0,
            sizes={
                "16:9": (160, 96),
                "9:16": (96, 160),
                "1:1": (128, 128),
                "4:3": (128, 96),
                "3:4": (96, 128),
            },
            tiny=True,
        ),
        Preset(
            name="tiny-wan",
            repo="",
            family="wan",
            pipeline_class="WanPipeline",
            description="random-weight Wan pipeline for tests (noise frames)",
            frame_step=4,
            max_frames=81,
            size_multiple=16,
            fps=16,
            steps=4,
            guidance=5.0,
            sizes={
                "16:9": (96, 64),
                "9:16": (64, 96),
                "1:1": (64, 64),
                "4:3": (64, 48),
                "3:4": (48, 64),
            },
            tiny=True,
        ),
    )
}

FAMILY_DEFAULTS: dict[Family, str] = {
    "ltx": "ltx-video",
    "wan": "wan2.1-t2v-1.3b",
    "cogvideox": "cogvideox-2b",
}
"""Whose rules a hub id or directory that is not a preset follows, by pipeline family."""


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model preset {name!r}: use one of {', '.join(PRESETS)}, "
            "a hub id such as Lightricks/LTX-Video, or a local diffusers directory"
        ) from None


def preset_for_directory(directory: Path) -> Preset:
    """The preset a local model directory follows: its marker file, else its pipeline class."""
    marker = directory / PRESET_MARKER
    if marker.is_file():
        return get_preset(str(json.loads(marker.read_text())["preset"]))
    index = directory / "model_index.json"
    if not index.is_file():
        raise ConfigError(
            f"{directory} is not a diffusers model directory (no model_index.json); "
            "point CLIPBOT_MODEL at a folder saved with save_pretrained, or run "
            "`clipbot make-tiny-model DIR`"
        )
    return preset_for_pipeline(str(json.loads(index.read_text()).get("_class_name", "")))


def preset_for_pipeline(class_name: str) -> Preset:
    family = PIPELINE_FAMILIES.get(class_name)
    if family is None:
        raise ConfigError(
            f"pipeline {class_name or '(none)'} is not supported; clipbot runs "
            f"{', '.join(PIPELINE_FAMILIES)}"
        )
    return PRESETS[FAMILY_DEFAULTS[family]]


def lookup(model: str) -> Preset | None:
    """The preset ``model`` names (preset name, a preset's hub id, or a marked local directory);
    None when only loading the model would tell its family."""
    if model in PRESETS:
        return PRESETS[model]
    path = Path(model).expanduser()
    if path.is_dir():
        return preset_for_directory(path)
    return next((p for p in PRESETS.values() if p.repo == model and not p.single_file), None)


def validate(request: ClipRequest, model_name: str) -> None:
    """Raise ``InvalidRequest`` naming what is allowed when ``request`` cannot be rendered by the
    worker's model ``model_name`` (the ``CLIPBOT_MODEL`` setting). Cheap and torch-free."""
    if request.model is not None and request.model != model_name:
        raise InvalidRequest(f"This bot runs {model_name}; leave the model unset to use it.")
    try:
        preset = lookup(model_name)
    except ConfigError as error:
        raise InvalidRequest(str(error)) from None
    if preset is None:
        return
    preset.frames_for(request)
    preset.guidance_for(request)
