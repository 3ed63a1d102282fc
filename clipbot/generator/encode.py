"""Frames to an mp4 every chat client plays inline: H.264 (libx264) yuv420p with even sizes, the
moov atom first (``+faststart``) so playback starts before the download ends, a bitrate capped so
the file fits the upload limit, and tags that mark it as AI-generated."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from clipbot.errors import GenerationFailed

CRF = 23
"""Quality when the byte limit is generous (x264's default); the limit caps the bitrate
otherwise."""
X264_PRESET = "veryfast"
CONTAINER_SHARE = 0.95
"""Part of the byte limit left to video data after the container's own bytes."""
MAX_ATTEMPTS = 5

Pixels = NDArray[np.uint8]
"""Frames as ``[frames, height, width, 3]`` RGB bytes."""


def ai_metadata(model: str, seed: int) -> dict[str, str]:
    text = f"AI-generated video (clipbot); model={model}; seed={seed}"
    return {"comment": text, "description": text}


def to_pixels(video: Sequence[NDArray[np.floating]] | NDArray[np.floating]) -> Pixels:
    """Float RGB frames in [0, 1] (a pipeline's ``output_type="np"``) to rounded bytes. Frame
    by frame, so a 121-frame clip needs no full-size float temporaries."""
    scratch = np.empty(np.shape(video[0]), dtype=np.float32)
    pixels = np.empty((len(video), *scratch.shape), dtype=np.uint8)
    for index, frame in enumerate(video):
        np.clip(frame, 0.0, 1.0, out=scratch)
        scratch *= 255.0
        scratch += 0.5
        pixels[index] = scratch  # the cast truncates, so +0.5 rounds
    return pixels


def even_crop(pixels: Pixels) -> Pixels:
    """yuv420p halves the chroma planes, so width and height must be even."""
    _, height, width, _ = pixels.shape
    return pixels[:, : height - height % 2, : width - width % 2]


def first_bitrate(max_bytes: int, frames: int, fps: float) -> int:
    """The peak bitrate (bit/s) that keeps the whole clip under ``max_bytes``: the rate-control
    buffer (one second of it) may be spent on top of the steady rate, hence ``duration + 1``."""
    duration = frames / fps
    return int(max_bytes * CONTAINER_SHARE * 8 / (duration + 1))


def encode_once(pixels: Pixels, fps: float, max_bitrate: int, metadata: dict[str, str]) -> bytes:
    """One libx264 pass. The muxer needs a seekable file to move the moov atom to the front, so
    it writes to a temporary file."""
    rate = Fraction(fps).limit_denominator(1001)
    _, height, width, _ = pixels.shape
    with tempfile.TemporaryDirectory(prefix="clipbot-") as scratch:
        path = Path(scratch) / "clip.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            output.metadata.update(metadata)
            stream = output.add_stream("libx264", rate=rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = 1 / rate
            stream.options = {
                "crf": str(CRF),
                "preset": X264_PRESET,
                "maxrate": str(max_bitrate),
                "bufsize": str(max_bitrate),
            }
            for index, image in enumerate(pixels):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = index
                output.mux(stream.encode(frame))
            output.mux(stream.encode(None))
        return path.read_bytes()


def encode_mp4(pixels: Pixels, fps: float, *, max_bytes: int, metadata: dict[str, str]) -> bytes:
    """Encode, and re-encode at a lower bitrate while the file is over ``max_bytes``."""
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or len(pixels) == 0:
        raise ValueError(f"expected frames shaped [frames, height, width, 3], got {pixels.shape}")
    pixels = even_crop(pixels)
    bitrate = first_bitrate(max_bytes, len(pixels), fps)
    for _ in range(MAX_ATTEMPTS):
        data = encode_once(pixels, fps, bitrate, metadata)
        if len(data) <= max_bytes:
            return data
        bitrate = int(bitrate * max_bytes / len(data) * 0.8)
    raise GenerationFailed(
        f"The clip does not fit in {max_bytes // 1024} KiB even at the lowest quality; "
        "ask for a shorter clip."
    )


def poster_jpeg(pixels: Pixels, quality: int = 85) -> bytes:
    """The first frame as a JPEG, for chat previews."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[0]).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
