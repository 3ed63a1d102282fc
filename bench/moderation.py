"""Moderation quality and latency on a labelled JSONL file; prints one JSON object.

    .venv/bin/python bench/moderation.py                      # the development set
    .venv/bin/python bench/moderation.py ../shared/eval/moderation/public.jsonl
    .venv/bin/python bench/moderation.py --semantic off       # rules only
    .venv/bin/python bench/moderation.py --tune               # pick the semantic threshold

Figures: recall on prompts labelled block, false-block rate on prompts labelled allow,
evasion recall on rows whose ``kind`` is ``evasion``, per category recall (and false-block rate
for allow categories), and per-prompt latency of the rules alone and of the whole screen with
the semantic layer on. ``--tune`` searches the threshold on the ``tune`` split of the
development set and reports it on the ``holdout`` split; it never looks at other files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from clipbot.models import Verdict
from clipbot.moderation import Moderator
from clipbot.moderation import semantic as semantic_module
from clipbot.moderation.evaluate import Example, read_labelled, summarise

DEV_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "moderation_dev.jsonl"


def _timed(moderator: Moderator, examples: list[Example]) -> tuple[list[Verdict], list[float]]:
    verdicts, times = [], []
    for example in examples:
        start = time.perf_counter()
        verdicts.append(moderator.screen(example.text))
        times.append((time.perf_counter() - start) * 1000)
    return verdicts, times


def _percentiles(times: list[float]) -> tuple[float, float]:
    if len(times) < 2:
        return (round(times[0], 3), round(times[0], 3)) if times else (0.0, 0.0)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return round(cuts[49], 3), round(cuts[98], 3)


def tune(examples: list[Example]) -> dict[str, Any]:
    """Grid-search the semantic threshold on the tune split: maximise recall on unsafe prompts
    that the rules miss while keeping false blocks on benign prompts within 3 %."""
    screen = semantic_module.SemanticScreen.load()
    rules = Moderator()
    out: dict[str, Any] = {}
    for split in ("tune", "holdout"):
        rows = [e for e in examples if e.split == split]
        passed = [e for e in rows if not rules.screen(e.text).blocked]
        hits = screen.scores([" ".join(rules_text(e.text)) for e in passed])
        out[split] = (rows, passed, hits)
    rows, passed, hits = out["tune"]
    n_safe = sum(e.label == "allow" for e in rows)
    n_unsafe = len(rows) - n_safe
    base_fb = sum(e.label == "allow" and rules.screen(e.text).blocked for e in rows)
    best: tuple[float, float] | None = None
    grid = []
    for step in range(30, 80):
        threshold = step / 100
        flagged = [
            e
            for e, h in zip(passed, hits, strict=True)
            if h.score >= threshold and h.score - h.benign >= screen.margin
        ]
        fb = (base_fb + sum(e.label == "allow" for e in flagged)) / max(n_safe, 1)
        caught = sum(e.label == "block" for e in flagged) / max(n_unsafe, 1)
        grid.append(
            {
                "threshold": threshold,
                "extra_recall": round(caught, 4),
                "false_block_rate": round(fb, 4),
            }
        )
        if fb <= 0.03 and (best is None or caught > best[1]):
            best = (threshold, caught)
    chosen = best[0] if best else 0.8
    rows, passed, hits = out["holdout"]
    flagged = [
        e
        for e, h in zip(passed, hits, strict=True)
        if h.score >= chosen and h.score - h.benign >= screen.margin
    ]
    return {
        "threshold": chosen,
        "margin": screen.margin,
        "tune_grid": grid,
        "holdout_extra_blocks": {
            "unsafe": sum(e.label == "block" for e in flagged),
            "benign": sum(e.label == "allow" for e in flagged),
            "rules_missed_unsafe": sum(e.label == "block" for e in passed),
            "rules_passed_benign": sum(e.label == "allow" for e in passed),
        },
    }


def rules_text(text: str) -> list[str]:
    from clipbot.moderation.normalise import normalise

    return list(normalise(text).plain.tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labelled", nargs="?", type=Path, default=DEV_SET)
    parser.add_argument("--semantic", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--tune", action="store_true")
    args = parser.parse_args(argv)
    examples = read_labelled(args.labelled)
    if args.tune:
        print(json.dumps(tune(read_labelled(DEV_SET)), indent=2))
        return 0
    rules = Moderator()
    rules.screen("warm up")
    rule_verdicts, rule_times = _timed(rules, examples)
    use_semantic = args.semantic == "on" or (
        args.semantic == "auto" and semantic_module.available()
    )
    report: dict[str, Any]
    if use_semantic:
        full = Moderator(semantic=semantic_module.SemanticScreen.load())
        full.screen("warm up")
        verdicts, full_times = _timed(full, examples)
        report = summarise(zip(examples, verdicts, strict=True))
        report["rules_only"] = {
            k: v
            for k, v in summarise(zip(examples, rule_verdicts, strict=True)).items()
            if k in ("recall", "false_block_rate", "evasion_recall", "precision")
        }
    else:
        full_times = []
        report = summarise(zip(examples, rule_verdicts, strict=True))
    report["file"] = str(args.labelled)
    report["semantic"] = use_semantic
    report["rules_ms_p50"], report["rules_ms_p99"] = _percentiles(rule_times)
    report["semantic_ms_p50"], report["semantic_ms_p99"] = (
        _percentiles(full_times) if full_times else (None, None)
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
