"""Load and render timings for one model through the worker's own code path. Prints JSON.

    .venv/bin/python bench/generate.py [--model tiny] [--len 1] [--steps N] [--aspect 16:9]

Device, dtype and memory options come from the usual CLIPBOT_* settings. Figures are only
comparable on the same device; a CPU run says so in ``note``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time

import torch

from clipbot.config import load_settings
from clipbot.generator.loader import load_renderer
from clipbot.generator.render import DiffusersRenderer
from clipbot.models import ASPECTS, ClipRequest


def timed_job(renderer: DiffusersRenderer, request: ClipRequest) -> tuple[float, list[float]]:
    """Seconds for render + encode, and the times each denoising step ended."""
    step_ends: list[float] = []
    started = time.perf_counter()
    frames = renderer.render(
        request, lambda step, total: step_ends.append(time.perf_counter()), lambda: False
    )
    renderer.encode(frames, request)
    return time.perf_counter() - started, step_ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tiny", help="preset name, hub id or directory")
    parser.add_argument("--len", dest="length_s", type=float, default=1.0)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--aspect", choices=ASPECTS, default="16:9")
    args = parser.parse_args()

    settings = load_settings(model=args.model)
    started = time.perf_counter()
    renderer = load_renderer(settings)
    load_s = time.perf_counter() - started

    request = ClipRequest(
        prompt="a red fox running through fresh snow, golden hour",
        seed=1,
        aspect=args.aspect,
        length_s=args.length_s,
        steps=args.steps,
    )
    first_s, _ = timed_job(renderer, request)
    second_s, step_ends = timed_job(renderer, request.model_copy(update={"seed": 2}))
    gaps = [later - earlier for earlier, later in itertools.pairwise(step_ends)]
    result: dict[str, object] = {
        "load_s": round(load_s, 3),
        "first_job_s": round(first_s, 3),
        "second_job_s": round(second_s, 3),
        "step_s": round(sum(gaps) / len(gaps), 4) if gaps else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": str(renderer.device),
        "model": renderer.model_name,
        "job": f"{renderer.preset.frames_for(request)} frames "
        f"{'x'.join(map(str, renderer.preset.size_for(args.aspect)))}, "
        f"{renderer.preset.steps_for(request)} steps",
    }
    if renderer.device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        result["note"] = (
            f"{renderer.device.type} run: no GPU was used, so these figures say nothing about "
            "GPU speed"
        )
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
