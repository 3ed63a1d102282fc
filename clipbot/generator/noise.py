"""Initial noise: drawn on the CPU from the seed (same on every device), and blended with a
second seed's noise for variations."""

from __future__ import annotations

from typing import Any

import torch


def initial_noise(pipe: Any, *, seed: int, frames: int, width: int, height: int) -> torch.Tensor:
    """The unit-variance starting latents ``pipe`` would draw for ``seed``, in the layout its
    ``latents=`` argument takes (LTX packs them into tokens; Wan and CogVideoX keep 5-D).

    The pipeline's own ``prepare_latents`` computes the shape, so the noise matches what a plain
    ``generator=`` call would draw; CogVideoX scales by the scheduler's ``init_noise_sigma`` there
    and again when given latents, so that factor is divided out here.
    """
    generator = torch.Generator("cpu").manual_seed(seed)
    latents: torch.Tensor = pipe.prepare_latents(
        batch_size=1,
        num_channels_latents=pipe.transformer.config.in_channels,
        height=height,
        width=width,
        num_frames=frames,
        dtype=torch.float32,
        device=torch.device("cpu"),
        generator=generator,
        latents=None,
    )
    sigma = float(getattr(pipe.scheduler, "init_noise_sigma", 1.0))
    return latents / sigma if sigma != 1.0 else latents


def slerp(start: torch.Tensor, end: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: unlike a straight blend it keeps the noise's norm, so the
    result is still noise the model expects."""
    a = start.double().flatten()
    b = end.double().flatten()
    cos = torch.clamp(torch.dot(a, b) / (a.norm() * b.norm()), -1.0, 1.0)
    theta = torch.arccos(cos)
    if float(theta) < 1e-4:
        mixed = (1 - t) * a + t * b
    else:
        mixed = (torch.sin((1 - t) * theta) * a + torch.sin(t * theta) * b) / torch.sin(theta)
    return mixed.reshape(start.shape).to(start.dtype)


def variation_noise(
    pipe: Any,
    *,
    seed: int,
    variation_seed: int,
    strength: float,
    frames: int,
    width: int,
    height: int,
) -> torch.Tensor:
    """``seed``'s noise moved ``strength`` of the way towards ``variation_seed``'s: at small
    strengths the clip keeps the original's composition and differs in detail."""
    shape = {"frames": frames, "width": width, "height": height}
    original = initial_noise(pipe, seed=seed, **shape)
    other = initial_noise(pipe, seed=variation_seed, **shape)
    return slerp(original, other, strength)
