import subprocess
import sys

import pytest

from clipbot.errors import ConfigError, InvalidRequest
from clipbot.generator.presets import PRESETS, get_preset, lookup, validate
from clipbot.models import ASPECTS, ClipRequest

RULES = {
    "ltx-video-distilled": (8, 32, 25),
    "ltx-video": (8, 32, 25),
    "wan2.1-t2v-1.3b": (4, 16, 16),
    "cogvideox-2b": (4, 16, 8),
}


@pytest.mark.parametrize("name", list(RULES))
def test_real_presets_follow_their_family_rules(name: str) -> None:
    preset = PRESETS[name]
    assert (preset.frame_step, preset.size_multiple, preset.fps) == RULES[name]
    for aspect in ASPECTS:
        width, height = preset.size_for(aspect)
        assert width % preset.size_multiple == 0
        assert height % preset.size_multiple == 0
    assert preset.max_frames % preset.frame_step == 1


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("ltx-video", [9, 97, 121, 257], [8, 10, 96, 265]),
        ("wan2.1-t2v-1.3b", [5, 49, 81], [4, 48, 85]),
        ("cogvideox-2b", [13, 49], [12, 50, 53]),
    ],
)
def test_frame_counts_outside_the_rule_are_refused_with_the_rule(
    name: str, good: list[int], bad: list[int]
) -> None:
    preset = PRESETS[name]
    for frames in good:
        preset.check_frames(frames)
    for frames in bad:
        with pytest.raises(InvalidRequest, match=rf"{preset.frame_step}k\+1.*up to"):
            preset.check_frames(frames)


@pytest.mark.parametrize(
    ("name", "seconds", "frames"),
    [
        ("ltx-video", 3.0, 73),
        ("ltx-video", 4.0, 97),
        ("wan2.1-t2v-1.3b", 3.0, 49),
        ("cogvideox-2b", 6.0, 49),
    ],
)
def test_length_maps_to_the_nearest_valid_frame_count(
    name: str, seconds: float, frames: int
) -> None:
    assert PRESETS[name].frames_for_length(seconds) == frames


def test_too_long_a_clip_says_the_longest_allowed() -> None:
    with pytest.raises(InvalidRequest, match=r"at most 5\.1 s \(81 frames at 16 fps\)"):
        PRESETS["wan2.1-t2v-1.3b"].frames_for_length(8.0)


@pytest.mark.parametrize("name", list(RULES))
def test_sizes_off_the_multiple_are_refused(name: str) -> None:
    preset = PRESETS[name]
    with pytest.raises(InvalidRequest, match=f"multiples of {preset.size_multiple}"):
        preset.check_size(preset.size_multiple * 10 + 8, preset.size_multiple * 6)


def test_distilled_preset_refuses_guidance() -> None:
    request = ClipRequest(prompt="x", seed=1, guidance=4.0)
    with pytest.raises(InvalidRequest, match="without guidance"):
        validate(request, "ltx-video-distilled")
    validate(request, "ltx-video")


def test_validate_rejects_impossible_requests_before_queueing() -> None:
    with pytest.raises(InvalidRequest, match="49 frames"):
        validate(ClipRequest(prompt="x", seed=1, length_s=10.0), "cogvideox-2b")
    with pytest.raises(InvalidRequest, match="8k\\+1"):
        validate(ClipRequest(prompt="x", seed=1, frames=100), "ltx-video-distilled")
    validate(ClipRequest(prompt="x", seed=1, frames=97), "ltx-video-distilled")


def test_validate_refuses_a_model_the_worker_does_not_run() -> None:
    with pytest.raises(InvalidRequest, match="runs ltx-video-distilled"):
        validate(ClipRequest(prompt="x", seed=1, model="cogvideox-2b"), "ltx-video-distilled")


def test_validate_lets_unknown_hub_models_through_to_the_worker() -> None:
    validate(ClipRequest(prompt="x", seed=1, length_s=10.0), "someone/some-video-model")


def test_a_preset_hub_id_follows_its_preset() -> None:
    assert lookup("Wan-AI/Wan2.1-T2V-1.3B-Diffusers") is PRESETS["wan2.1-t2v-1.3b"]


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="ltx-video-distilled, ltx-video"):
        get_preset("sora")


def test_chat_side_modules_do_not_import_torch() -> None:
    code = (
        "import sys, clipbot.generator, clipbot.generator.presets, clipbot.generator.contract, "
        "clipbot.generator.commands\n"
        "heavy = {'torch', 'diffusers', 'av', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_bad_frame_count_suggests_the_nearest_good_ones() -> None:
    with pytest.raises(InvalidRequest, match=r"try 49 or 53\.$"):
        PRESETS["wan2.1-t2v-1.3b"].check_frames(50)
    with pytest.raises(InvalidRequest, match=r"try 49\.$"):
        PRESETS["cogvideox-2b"].check_frames(52)
