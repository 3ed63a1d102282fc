"""Encode speed and output: clipbot's PyAV encoder against diffusers' ``export_to_video`` on the
same frames (121 frames at 768x512, LTX-Video's 16:9 clip). Prints JSON.

    .venv/bin/python bench/encode.py [--repeat N]

``export_to_video`` needs imageio and imageio-ffmpeg (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from diffusers.utils.export_utils import export_to_video

from clipbot.generator.encode import ai_metadata, encode_mp4, to_pixels
from clipbot.models import DEFAULT_MAX_BYTES

FRAMES, HEIGHT, WIDTH, FPS = 121, 512, 768, 25


def synthetic_frames() -> list[np.ndarray]:
    """Moving colour gradients with light grain, as float RGB in [0, 1] like a pipeline's
    ``output_type="np"`` output."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    frames = []
    for index in range(FRAMES):
        phase = index / FRAMES * 2 * np.pi
        red = 0.5 + 0.5 * np.sin(x / 60 + phase)
        green = 0.5 + 0.5 * np.sin(y / 45 - phase)
        blue = 0.5 + 0.5 * np.sin((x + y) / 80 + 2 * phase)
        grain = rng.normal(0, 0.03, (HEIGHT, WIDTH, 1)).astype(np.float32)
        frames.append(np.clip(np.stack([red, green, blue], -1) + grain, 0, 1))
    return frames


def moov_before_mdat(data: bytes) -> bool:
    offset, atoms = 0, []
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        atoms.append(kind)
        if size < 8:
            break
        offset += size
    return b"moov" in atoms and b"mdat" in atoms and atoms.index(b"moov") < atoms.index(b"mdat")


def codec_of(data: bytes) -> str:
    with av.open(io.BytesIO(data), "r") as container:
        context = container.streams.video[0].codec_context
        return f"{context.name} {context.pix_fmt} {context.width}x{context.height}"


def ours(frames: list[np.ndarray]) -> bytes:
    return encode_mp4(
        to_pixels(frames),
        FPS,
        max_bytes=DEFAULT_MAX_BYTES,
        metadata=ai_metadata("bench", 0),
    )


def theirs(frames: list[np.ndarray]) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "clip.mp4"
        export_to_video(frames, str(path), fps=FPS)
        return path.read_bytes()


def measure(
    encode: Callable[[list[np.ndarray]], bytes], frames: list[np.ndarray], repeat: int
) -> dict[str, object]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        data = encode(frames)
        times.append(time.perf_counter() - started)
    return {
        "seconds": round(statistics.median(times), 3),
        "codec": codec_of(data),
        "bytes": len(data),
        "faststart": moov_before_mdat(data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per encoder (median kept)")
    args = parser.parse_args()
    frames = synthetic_frames()
    result: dict[str, object] = {
        "clipbot": measure(ours, frames, args.repeat),
        "export_to_video": measure(theirs, frames, args.repeat),
        "frames": f"{FRAMES} frames {WIDTH}x{HEIGHT} at {FPS} fps",
    }
    clipbot, export = result["clipbot"], result["export_to_video"]
    assert isinstance(clipbot, dict) and isinstance(export, dict)
    result["speed_ratio"] = round(export["seconds"] / clipbot["seconds"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
