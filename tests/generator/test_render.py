from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from clipbot.config import Settings
from clipbot.errors import GenerationFailed, JobCancelled
from clipbot.generator.loader import load_renderer
from clipbot.generator.noise import initial_noise, slerp
from clipbot.generator.render import DiffusersRenderer, Frames
from clipbot.models import ClipRequest


def no_progress(step: int, total: int) -> None:
    pass


def never() -> bool:
    return False


def render(renderer: DiffusersRenderer, request: ClipRequest) -> Frames:
    return renderer.render(request, no_progress, never)


def distance(a: Frames, b: Frames) -> float:
    return float(np.abs(a.pixels.astype(np.float64) - b.pixels.astype(np.float64)).mean())


def test_clip_has_the_preset_size_and_length(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    frames = render(renderer, request_)
    assert frames.pixels.shape == (25, 96, 160, 3)
    assert frames.pixels.dtype == np.uint8
    assert (frames.seed, frames.fps) == (7, 25.0)


def test_same_seed_gives_the_same_frames(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    first = render(renderer, request_)
    again = render(renderer, request_)
    assert np.array_equal(first.pixels, again.pixels)
    other = render(renderer, request_.model_copy(update={"seed": 8}))
    assert not np.array_equal(first.pixels, other.pixels)


@pytest.mark.parametrize("which", ["renderer", "wan_renderer"])
def test_vary_stays_closer_to_the_original_than_regenerate(
    which: str, request_: ClipRequest, request: pytest.FixtureRequest
) -> None:
    renderer: DiffusersRenderer = request.getfixturevalue(which)
    original = render(renderer, request_)
    varied = render(
        renderer, request_.model_copy(update={"variation_seed": 99, "variation_strength": 0.25})
    )
    regenerated = render(renderer, request_.model_copy(update={"seed": 99}))
    assert 0 < distance(original, varied) < distance(original, regenerated)


def test_variation_noise_is_a_norm_keeping_blend(renderer: DiffusersRenderer) -> None:
    shape = {"frames": 9, "width": 160, "height": 96}
    a = initial_noise(renderer.pipe, seed=1, **shape)
    b = initial_noise(renderer.pipe, seed=2, **shape)
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.25)
    assert abs(mid.norm() / a.norm() - 1) < 0.02
    assert (mid - a).norm() < (mid - b).norm()


def test_noise_matches_what_the_pipeline_draws_from_the_same_generator(
    renderer: DiffusersRenderer,
) -> None:
    ours = initial_noise(renderer.pipe, seed=5, frames=9, width=160, height=96)
    theirs = renderer.pipe.prepare_latents(
        1, 8, 96, 160, 9, torch.float32, torch.device("cpu"), torch.Generator().manual_seed(5)
    )
    assert torch.equal(ours, theirs)


def test_progress_arrives_in_order_and_ends_at_100_percent(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    seen: list[tuple[int, int]] = []
    renderer.render(request_, lambda step, total: seen.append((step, total)), never)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_cancel_stops_within_one_step_and_skips_decoding(
    renderer: DiffusersRenderer, request_: ClipRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    decoded: list[bool] = []
    original_decode = renderer.pipe.vae.decode

    def spy_decode(*args: Any, **kwargs: Any) -> Any:
        decoded.append(True)
        return original_decode(*args, **kwargs)

    monkeypatch.setattr(renderer.pipe.vae, "decode", spy_decode)
    request = request_.model_copy(update={"steps": 6})
    with pytest.raises(JobCancelled):
        renderer.render(request, lambda step, total: seen.append(step), lambda: len(seen) >= 2)
    assert seen == [1, 2]
    assert decoded == []


def test_a_cancelled_job_leaves_the_renderer_usable(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    before = render(renderer, request_)
    with pytest.raises(JobCancelled):
        renderer.render(request_, no_progress, lambda: True)
    assert np.array_equal(render(renderer, request_).pixels, before.pixels)


def test_pipeline_out_of_memory_becomes_a_generation_failure(
    renderer: DiffusersRenderer, request_: ClipRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(renderer.pipe.transformer, "forward", out_of_memory)
    with pytest.raises(GenerationFailed, match="ran out of memory") as caught:
        render(renderer, request_)
    assert "GiB" not in str(caught.value)


def test_a_request_for_another_model_fails_clearly(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    with pytest.raises(GenerationFailed, match="This worker runs"):
        render(renderer, request_.model_copy(update={"model": "cogvideox-2b"}))


def test_a_request_without_seed_is_a_programming_error(
    renderer: DiffusersRenderer, request_: ClipRequest
) -> None:
    with pytest.raises(ValueError, match="seed"):
        render(renderer, request_.model_copy(update={"seed": None}))


def test_first_block_cache_renders_with_the_same_shape(
    tiny_model_dir: Any, settings_for: Callable[..., Settings], request_: ClipRequest
) -> None:
    cached = load_renderer(settings_for(str(tiny_model_dir), cache_threshold=0.2))
    frames = render(cached, request_.model_copy(update={"steps": 4}))
    assert frames.pixels.shape == (25, 96, 160, 3)


@pytest.mark.slow
def test_compiled_blocks_with_first_block_cache_render_the_same_shape(
    tiny_model_dir: Any, settings_for: Callable[..., Settings], request_: ClipRequest
) -> None:
    """The cache's hook cannot be compiled in one graph; the loader must allow graph breaks."""
    fast = load_renderer(settings_for(str(tiny_model_dir), compile=True, cache_threshold=0.2))
    assert render(fast, request_).pixels.shape == (25, 96, 160, 3)
