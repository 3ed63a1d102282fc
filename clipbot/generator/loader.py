"""Load the worker's pipeline once: resolve the model setting, pick device and dtype, apply the
memory and speed settings, and turn loading failures into messages that say what to do."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from clipbot.config import Settings
from clipbot.errors import ConfigError
from clipbot.generator.presets import PRESETS, Preset, get_preset, lookup, preset_for_pipeline
from clipbot.generator.render import DiffusersRenderer

logger = logging.getLogger(__name__)

_MEMORY_ADVICE = (
    "set CLIPBOT_CPU_OFFLOAD=true and CLIPBOT_VAE_TILING=true, or pick a smaller model "
    "(ltx-video-distilled, wan2.1-t2v-1.3b)"
)


@dataclass(frozen=True)
class ModelSource:
    """What ``from_pretrained`` (or ``from_single_file``) is given, and whose rules apply."""

    name: str
    location: str
    preset: Preset

    @property
    def single_file_url(self) -> str | None:
        if self.preset.single_file is None or self.location != self.preset.repo:
            return None
        return f"https://huggingface.co/{self.preset.repo}/blob/main/{self.preset.single_file}"


def resolve_model(settings: Settings) -> ModelSource:
    """Turn ``CLIPBOT_MODEL`` (preset name, hub id or local directory) into a model source.
    The tiny presets are built into ``cache_dir`` on first use."""
    model = settings.model
    if model in PRESETS:
        preset = PRESETS[model]
        if preset.tiny:
            return ModelSource(model, str(ensure_tiny_model(settings.cache_dir, preset)), preset)
        return ModelSource(model, preset.repo, preset)
    known = lookup(model)
    if known is not None:
        return ModelSource(model, model, known)
    if model.startswith((".", "/", "~")):
        raise ConfigError(f"CLIPBOT_MODEL={model}: no such model directory")
    if "/" not in model:
        get_preset(model)  # raises the unknown-preset message
    return ModelSource(model, model, preset_for_pipeline(_hub_pipeline_class(model)))


def _hub_pipeline_class(repo: str) -> str:
    from diffusers import DiffusionPipeline

    try:
        config = DiffusionPipeline.load_config(repo)
    except OSError as error:
        raise ConfigError(f"cannot read model_index.json of {repo}: {error}") from None
    return str(config.get("_class_name", ""))


def ensure_tiny_model(cache_dir: Path, preset: Preset) -> Path:
    """Build the tiny model once into ``cache_dir``; a half-written build is never used because
    it is written elsewhere and renamed into place."""
    from clipbot.generator.tiny import TinyFamily, build_tiny_model

    family: TinyFamily = "wan" if preset.family == "wan" else "ltx"
    target = cache_dir / f"tiny-{family}"
    if (target / "model_index.json").is_file():
        return target
    scratch = cache_dir / f".tiny-{family}.{os.getpid()}"
    build_tiny_model(scratch, family)
    try:
        scratch.rename(target)
    except OSError:  # another worker got there first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CLIPBOT_DEVICE=cuda but no CUDA GPU is visible to this worker")
    if setting == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("CLIPBOT_DEVICE=mps but Apple's Metal backend is not available")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    """bf16 on GPUs (the video models are trained in it), float32 on the CPU (bf16 matmuls there
    are slow and half precision is unsupported for some ops)."""
    if setting != "auto":
        dtype: torch.dtype = getattr(torch, setting)
        return dtype
    return torch.float32 if device.type == "cpu" else torch.bfloat16


def load_pipeline(source: ModelSource, dtype: torch.dtype) -> Any:
    import diffusers

    diffusers.utils.logging.disable_progress_bar()  # a worker's log is no terminal
    pipeline_class = getattr(diffusers, source.preset.pipeline_class)
    try:
        url = source.single_file_url
        if url is not None:
            return pipeline_class.from_single_file(url, dtype=dtype)
        return pipeline_class.from_pretrained(source.location, dtype=dtype)
    except OSError as error:
        repo = source.preset.repo or source.location
        raise ConfigError(
            f"the weights of {source.name} ({source.location}) are not on this machine and "
            f"could not be downloaded ({error.__class__.__name__}): run "
            f"`hf download {repo}` where the hub is reachable, or set CLIPBOT_MODEL=tiny "
            "for the offline demo"
        ) from None


def place_pipeline(pipe: Any, settings: Settings, device: torch.device) -> None:
    """Move to the device (or attach CPU offload hooks) and apply the memory settings."""
    try:
        if settings.cpu_offload and device.type != "cpu":
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.to(device)
    except torch.OutOfMemoryError:
        raise ConfigError(f"not enough GPU memory to load the model: {_MEMORY_ADVICE}") from None
    if settings.vae_tiling:
        pipe.vae.enable_tiling()


def apply_speedups(pipe: Any, settings: Settings) -> None:
    """Optional, off by default: First Block Cache skips the transformer's later blocks on steps
    where the first block's output barely changed (costs some detail); compile trades a slow
    first job for faster steps after."""
    if settings.cache_threshold > 0:
        import diffusers

        threshold = settings.cache_threshold
        config = diffusers.FirstBlockCacheConfig(threshold=threshold)  # type: ignore[no-untyped-call]
        pipe.transformer.enable_cache(config)
    if settings.compile:
        # The cache's hook on the first block is excluded from compilation, so with the cache on
        # the blocks are compiled with graph breaks allowed.
        fullgraph = settings.cache_threshold == 0
        if getattr(pipe.transformer, "_repeated_blocks", None):
            pipe.transformer.compile_repeated_blocks(fullgraph=fullgraph)
        else:
            pipe.transformer.compile(fullgraph=fullgraph)


def load_renderer(settings: Settings) -> DiffusersRenderer:
    """The worker's entry point: load the configured model once and return its renderer."""
    source = resolve_model(settings)
    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    logger.info("loading %s from %s on %s as %s", source.name, source.location, device, dtype)
    pipe = load_pipeline(source, dtype)
    pipe.set_progress_bar_config(disable=True)
    place_pipeline(pipe, settings, device)
    apply_speedups(pipe, settings)
    return DiffusersRenderer(pipe, source.preset, name=source.name, device=device)
