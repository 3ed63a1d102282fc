import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from clipbot.config import Settings
from clipbot.errors import ConfigError
from clipbot.generator.loader import load_renderer, pick_device, pick_dtype, resolve_model
from clipbot.generator.presets import PRESETS


def test_local_directory_loads_with_its_marked_preset(
    tiny_model_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    source = resolve_model(settings_for(str(tiny_model_dir)))
    assert source.preset is PRESETS["tiny"]
    assert source.location == str(tiny_model_dir)


def test_tiny_preset_is_built_once_into_the_cache_dir(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for("tiny", cache_dir=tmp_path)
    renderer = load_renderer(settings)
    built = tmp_path / "tiny-ltx" / "model_index.json"
    assert built.is_file()
    stamp = built.stat().st_mtime_ns
    assert renderer.model_name == "tiny"
    assert type(renderer.pipe).__name__ == "LTXPipeline"
    load_renderer(settings)
    assert built.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-ltx"]


def test_unknown_preset_says_what_to_use(settings_for: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="unknown model preset 'sora': use one of"):
        resolve_model(settings_for("sora"))


def test_missing_directory_is_named(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such model directory"):
        resolve_model(settings_for(str(tmp_path / "nowhere")))


def test_directory_without_a_pipeline_says_how_to_make_one(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="make-tiny-model"):
        resolve_model(settings_for(str(tmp_path)))


@pytest.mark.skipif(os.environ.get("HF_HUB_OFFLINE") != "1", reason="needs HF_HUB_OFFLINE=1")
def test_weights_not_on_this_machine_say_how_to_get_them(
    settings_for: Callable[..., Settings],
) -> None:
    with pytest.raises(ConfigError, match=r"hf download Wan-AI/Wan2\.1-T2V-1\.3B-Diffusers"):
        load_renderer(settings_for("wan2.1-t2v-1.3b"))


def test_cpu_runs_in_float32_and_gpus_in_bfloat16() -> None:
    assert pick_dtype("auto", torch.device("cpu")) is torch.float32
    assert pick_dtype("auto", torch.device("cuda")) is torch.bfloat16
    assert pick_dtype("float16", torch.device("cuda")) is torch.float16


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_asking_for_cuda_without_a_gpu_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("cuda")
