import io
import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from clipbot.errors import GenerationFailed
from clipbot.generator.encode import ai_metadata, encode_mp4
from clipbot.generator.render import DiffusersRenderer
from clipbot.models import ClipRequest


def top_level_atoms(data: bytes) -> list[str]:
    atoms = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return atoms


@dataclass(frozen=True)
class Probe:
    codec: str
    pix_fmt: str
    width: int
    height: int
    frames: int
    fps: float
    tags: dict[str, str]


def probe(data: bytes) -> Probe:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return Probe(
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            frames=frames,
            fps=float(stream.average_rate or 0),
            tags=dict(container.metadata),
        )


def noise_frames(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def clip_bytes(renderer: DiffusersRenderer) -> bytes:
    request = ClipRequest(prompt="a fox", seed=11, length_s=1.0, steps=2)
    return renderer.encode(renderer.render(request, lambda s, t: None, lambda: False), request).data


def test_clip_is_h264_yuv420p_at_the_preset_fps(clip_bytes: bytes) -> None:
    facts = probe(clip_bytes)
    assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert (facts.width, facts.height, facts.frames, facts.fps) == (160, 96, 25, 25.0)


def test_moov_atom_comes_before_mdat(clip_bytes: bytes) -> None:
    atoms = top_level_atoms(clip_bytes)
    assert atoms[0] == "ftyp"
    assert atoms.index("moov") < atoms.index("mdat")


def test_playback_starts_from_the_first_bytes(clip_bytes: bytes) -> None:
    """A player that has only the first half of the download can already decode frames."""
    head = clip_bytes[: len(clip_bytes) // 2]
    with av.open(io.BytesIO(head), "r") as container:
        first = next(container.decode(video=0))
    assert (first.width, first.height) == (160, 96)


def test_clip_is_tagged_as_ai_generated_with_model_and_seed(
    clip_bytes: bytes, renderer: DiffusersRenderer
) -> None:
    comment = probe(clip_bytes).tags["comment"]
    assert "AI-generated" in comment
    assert f"model={renderer.model_name}" in comment
    assert "seed=11" in comment


def test_poster_is_the_first_frame_as_jpeg(renderer: DiffusersRenderer) -> None:
    request = ClipRequest(prompt="a fox", seed=11, length_s=1.0, steps=2)
    clip = renderer.encode(renderer.render(request, lambda s, t: None, lambda: False), request)
    assert clip.poster is not None and clip.poster.startswith(b"\xff\xd8")
    assert (clip.width, clip.height, clip.frames, clip.fps) == (160, 96, 25, 25.0)


def test_a_tight_byte_limit_is_honoured() -> None:
    frames = noise_frames(50, 256, 384)
    limit = 64 * 1024
    data = encode_mp4(frames, 25, max_bytes=limit, metadata=ai_metadata("tiny", 1))
    assert len(data) <= limit
    assert probe(data).frames == 50


def test_generous_limits_keep_quality() -> None:
    frames = noise_frames(25, 96, 160)
    tight = encode_mp4(frames, 25, max_bytes=64 * 1024, metadata={})
    loose = encode_mp4(frames, 25, max_bytes=10 * 1024 * 1024, metadata={})
    assert len(loose) > len(tight)


def test_an_impossible_byte_limit_fails_clearly() -> None:
    with pytest.raises(GenerationFailed, match="does not fit"):
        encode_mp4(noise_frames(250, 64, 64), 25, max_bytes=2000, metadata={})


def test_odd_sizes_are_cropped_to_even() -> None:
    facts = probe(encode_mp4(noise_frames(5, 45, 81), 16, max_bytes=1 << 20, metadata={}))
    assert (facts.width, facts.height) == (80, 44)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe is not installed")
def test_ffprobe_agrees(clip_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip_bytes)
    output = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    stream = json.loads(output)["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
