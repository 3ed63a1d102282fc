"""`clipbot generate` and `clipbot make-tiny-model`: run the worker's generator without chat.
Torch-free at import time; the handlers import the heavy modules."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from clipbot.config import load_settings
from clipbot.generator.presets import validate
from clipbot.models import ASPECTS, MAX_SEED, build_request

DEFAULT_VARY_STRENGTH = 0.25


def register(sub: Any) -> None:
    """Add the generator's subcommands to ``clipbot``'s argument parser."""
    generate = sub.add_parser(
        "generate",
        help="render one clip from a prompt (tests a worker without chat)",
        description="Render one clip with the worker's model and write it as an mp4.",
    )
    generate.add_argument("prompt")
    generate.add_argument("-o", "--output", type=Path, required=True, help="mp4 file to write")
    generate.add_argument("--model", help="preset name, hub id or local directory")
    generate.add_argument("--seed", type=int, help="random when unset; printed either way")
    generate.add_argument("--aspect", choices=ASPECTS, default="16:9")
    generate.add_argument("--len", dest="length_s", type=float, default=3.0, help="seconds")
    generate.add_argument("--frames", type=int, help="exact frame count (overrides --len)")
    generate.add_argument("--steps", type=int, help="denoising steps (preset default)")
    generate.add_argument("--negative", default="", help="negative prompt")
    generate.add_argument(
        "--vary-of",
        type=int,
        metavar="SEED",
        help="make a variation of the clip rendered with SEED (--seed picks the variation)",
    )
    generate.add_argument(
        "--strength", type=float, default=DEFAULT_VARY_STRENGTH, help="variation strength"
    )
    generate.add_argument("--poster", type=Path, help="also write the first frame as a JPEG")
    generate.set_defaults(handler=run_generate)

    tiny = sub.add_parser(
        "make-tiny-model",
        help="build a tiny random-weight pipeline for tests and the offline demo",
    )
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--family", choices=("ltx", "wan"), default="ltx")
    tiny.set_defaults(handler=run_make_tiny_model)


def progress_bar(step: int, total: int, width: int = 30) -> None:
    filled = width * step // max(total, 1)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if step >= total else ""
    print(
        f"\r[{bar}] {100 * step // max(total, 1):3d}% step {step}/{total}", end=end, file=sys.stderr
    )


def run_generate(args: argparse.Namespace) -> int:
    from clipbot.generator.loader import load_renderer

    overrides = {"model": args.model} if args.model else {}
    settings = load_settings(**overrides)
    seed = args.seed if args.seed is not None else random.randint(0, MAX_SEED)
    fields: dict[str, object] = {
        "prompt": args.prompt,
        "negative_prompt": args.negative,
        "seed": seed,
        "aspect": args.aspect,
        "length_s": args.length_s,
        "frames": args.frames,
        "steps": args.steps,
    }
    if args.vary_of is not None:
        fields |= {
            "seed": args.vary_of,
            "variation_seed": seed,
            "variation_strength": args.strength,
        }
    request = build_request(**fields)
    validate(request, settings.model)

    started = time.perf_counter()
    renderer = load_renderer(settings)
    print(f"loaded {renderer.model_name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    frames = renderer.render(request, progress_bar, lambda: False)
    clip = renderer.encode(frames, request)
    args.output.write_bytes(clip.data)
    if args.poster and clip.poster:
        args.poster.write_bytes(clip.poster)
    variation = (
        f", varied with seed {request.variation_seed} at strength {request.variation_strength:g}"
        if request.is_variation
        else ""
    )
    print(
        f"wrote {args.output} ({len(clip.data)} bytes, {clip.width}x{clip.height}, "
        f"{clip.frames} frames at {clip.fps:g} fps) in {time.perf_counter() - started:.1f} s; "
        f"seed {request.seed}{variation}"
    )
    return 0


def run_make_tiny_model(args: argparse.Namespace) -> int:
    from clipbot.generator.tiny import TINY_PRESETS, build_tiny_model

    directory = build_tiny_model(args.directory, args.family)
    print(
        f"wrote a tiny {args.family} pipeline to {directory}; use it with "
        f"CLIPBOT_MODEL={directory} (rules of preset {TINY_PRESETS[args.family]})"
    )
    return 0
