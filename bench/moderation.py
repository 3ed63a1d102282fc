"""Moderation quality and latency on a labelled JSONL file; prints one JSON object.

    .venv/bin/python bench/moderation.py                      # the development set
    .venv/bin/python bench/moderation.py ../shared/eval/moderation/public.jsonl
    .venv/bin/python bench/moderation.py --semantic off       # rules only
    .venv/bin/python bench/moderation.py --tune               # pick the semantic threshold
    .venv/bin/python bench/moderation.py --train-probe        # refit data/probe.npz

Figures: recall on prompts labelled block, false-block rate on prompts labelled allow,
evasion recall on rows whose ``kind`` is ``evasion``, per category recall (and false-block rate
for allow categories), and per-prompt latency of the rules alone and of the whole screen with
the semantic layer on (over the prompts the rules let through, since only those reach the
semantic layer). ``--tune`` searches the threshold on the ``tune`` split of the
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

from clipbot.config import Settings
from clipbot.models import Verdict
from clipbot.moderation import Moderator
from clipbot.moderation import semantic as semantic_module
from clipbot.moderation.evaluate import Example, read_labelled, summarise
from clipbot.moderation.normalise import normalise

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "data" / "moderation_dev.jsonl"
PROBE_FILE = ROOT / "clipbot" / "moderation" / "data" / "probe.npz"


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


# A sixth of the 3 % target. A false block the tune split allows is worth several elsewhere:
# with 1.5 % the search once chose 0.52 / 0.15, which blocked 9 % of a public set of harmless
# prompts that use explicit words in a harmless context. Since the development set gained
# hundreds of hard near misses, 0.5 % keeps the threshold at 0.75.
FALSE_BLOCK_BUDGET = 0.005


def semantic_reading(rules: Moderator, text: str) -> str:
    """The prompt as the semantic layer reads it: the first reading the rules matched."""
    readings = rules.rules.find(normalise(text), rules.people).readings
    return readings[0] if readings else normalise(text).plain.text


def tune(examples: list[Example]) -> dict[str, Any]:
    """Grid-search the exemplar threshold and margin on the tune split (the probe's threshold is
    chosen apart, see exemplars.toml): the best recall minus three times the false-block rate
    (rules and semantic together), with false blocks within FALSE_BLOCK_BUDGET. Then report the
    choice on the holdout split."""
    screen = semantic_module.SemanticScreen.load(Settings().cache_dir)
    rules = Moderator()
    splits = {}
    for split in ("tune", "holdout"):
        rows = [e for e in examples if e.split == split]
        passed = [e for e in rows if not rules.screen(e.text).blocked]
        texts = {id(e): semantic_reading(rules, e.text) for e in passed}
        # Short prompts never reach the semantic layer (see semantic.MIN_WORDS).
        compared = [e for e in passed if semantic_module.long_enough(texts[id(e)])]
        hits = screen.scores([texts[id(e)] for e in compared])
        splits[split] = (rows, passed, list(zip(compared, hits, strict=True)))

    def score(split: str, threshold: float, margin: float) -> dict[str, Any]:
        rows, passed, hits = splits[split]
        flagged = [e for e, h in hits if h.score >= threshold and h.score - h.benign >= margin]
        safe = [e for e in rows if e.label == "allow"]
        unsafe = [e for e in rows if e.label == "block"]
        passed_safe = {id(e) for e in passed if e.label == "allow"}
        rule_false_blocks = sum(id(e) not in passed_safe for e in safe)
        false_blocks = rule_false_blocks + sum(e.label == "allow" for e in flagged)
        caught = len(unsafe) - sum(e.label == "block" for e in passed)
        caught += sum(e.label == "block" for e in flagged)
        return {
            "threshold": threshold,
            "margin": margin,
            "recall": round(caught / max(len(unsafe), 1), 4),
            "false_block_rate": round(false_blocks / max(len(safe), 1), 4),
            "semantic_blocked_unsafe": sum(e.label == "block" for e in flagged),
            "semantic_blocked_benign": sum(e.label == "allow" for e in flagged),
            "rules_missed_unsafe": sum(e.label == "block" for e in passed),
        }

    grid = [
        score("tune", step / 100, margin)
        for step in range(30, 90)
        for margin in (0.0, 0.05, 0.1, 0.15, 0.2)
    ]
    within = [g for g in grid if g["false_block_rate"] <= FALSE_BLOCK_BUDGET]
    # A false block costs more than a miss the rules may still catch later: weigh it 3x.
    best = max(within, key=lambda g: (g["recall"] - 3 * g["false_block_rate"], g["threshold"]))
    return {
        "chosen": {"threshold": best["threshold"], "margin": best["margin"]},
        "tune": best,
        "holdout": score("holdout", best["threshold"], best["margin"]),
    }


# The probe: one hidden layer of 256 rectified units, L2 penalty 0.01, fixed seed so a refit on
# the same data gives the same file. Eighth session, trained on the development set and scored
# (whole screen) on a helper-written set it never saw (300 prompts) and the public set: at
# probe threshold 0.9 it caught 0.867-0.872 of the unseen set at 2.5% false blocks over two
# seeds, where the logistic regression (C=8, threshold 0.75) caught 0.861 at 7.5%; public
# recall 0.674-0.682 against 0.675, false blocks 0.77-0.82% against 0.90%. A penalty of 0.001
# blocked 2.3% of the public harmless prompts; 0.1 lost recall everywhere.
PROBE_HIDDEN = 256
PROBE_ALPHA = 0.01


def train_probe(examples: list[Example]) -> dict[str, Any]:
    """Fit the probe (see ``semantic.Probe``; one class per category and "allow") on the whole
    development set, each prompt read as the semantic layer reads it, and write it to
    clipbot/moderation/data/probe.npz."""
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    from clipbot.moderation.sentence_model import SentenceEncoder

    rules = Moderator()
    texts = [semantic_reading(rules, e.text) for e in examples]
    labels = [e.category if e.label == "block" else "allow" for e in examples]
    embeddings = SentenceEncoder.load(Settings().cache_dir).encode(texts)
    model = MLPClassifier(
        hidden_layer_sizes=(PROBE_HIDDEN,), alpha=PROBE_ALPHA, max_iter=300, random_state=0
    ).fit(embeddings, labels)
    hidden, output = model.coefs_
    hidden_bias, bias = model.intercepts_
    np.savez(
        PROBE_FILE,
        classes=np.array(model.classes_, dtype=str),
        hidden_weights=hidden.T.astype(np.float32),
        hidden_bias=hidden_bias.astype(np.float32),
        weights=output.T.astype(np.float32),
        bias=bias.astype(np.float32),
    )
    return {"file": str(PROBE_FILE), "classes": list(model.classes_), "n": len(examples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labelled", nargs="?", type=Path, default=DEV_SET)
    parser.add_argument("--semantic", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--train-probe", action="store_true")
    args = parser.parse_args(argv)
    if args.train_probe:
        print(json.dumps(train_probe(read_labelled(DEV_SET)), indent=2))
        return 0
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
        full = Moderator(semantic=semantic_module.SemanticScreen.load(Settings().cache_dir))
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
    # The semantic layer only runs on prompts the rules let through: time the whole screen
    # (rules + semantic) on those, so the figure is the cost a passing prompt pays.
    reached = [t for t, v in zip(full_times, rule_verdicts, strict=False) if not v.blocked]
    report["semantic_ms_p50"], report["semantic_ms_p99"] = (
        _percentiles(reached) if reached else (None, None)
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
