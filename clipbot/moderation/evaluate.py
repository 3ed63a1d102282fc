"""Score verdicts against a labelled JSONL file (``{"text", "label": "allow"|"block"}`` lines,
optionally with ``category`` and ``kind``). Shared by ``clipbot moderate --summary`` and
``bench/moderation.py``."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipbot.errors import ConfigError
from clipbot.models import Verdict


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    category: str
    kind: str = "plain"
    split: str = ""


def read_labelled(path: Path) -> list[Example]:
    examples = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = row["label"]
                if label not in ("allow", "block"):
                    raise ValueError(f"label must be allow or block, not {label!r}")
                examples.append(
                    Example(
                        text=str(row["text"]),
                        label=label,
                        category=str(row.get("category") or label),
                        kind=str(row.get("kind") or "plain"),
                        split=str(row.get("split") or ""),
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                raise ConfigError(f"{path}:{number}: bad labelled line ({error})") from None
    return examples


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(pairs: Iterable[tuple[Example, Verdict]]) -> dict[str, Any]:
    """Overall and per-category figures: recall for categories labelled block, false-block
    rate for categories labelled allow, precision per verdict category."""
    by_category: dict[str, list[tuple[Example, Verdict]]] = defaultdict(list)
    blocked_as: dict[str, list[bool]] = defaultdict(list)
    tp = fp = fn = tn = 0
    evasion_hits = evasion_n = 0
    for example, verdict in pairs:
        by_category[example.category].append((example, verdict))
        blocked = verdict.action == "block"
        unsafe = example.label == "block"
        tp += blocked and unsafe
        fp += blocked and not unsafe
        fn += unsafe and not blocked
        tn += not unsafe and not blocked
        if blocked and verdict.category:
            blocked_as[verdict.category].append(unsafe)
        if unsafe and example.kind == "evasion":
            evasion_n += 1
            evasion_hits += blocked
    per_category: dict[str, dict[str, Any]] = {}
    for name, rows in sorted(by_category.items()):
        unsafe_rows = [v for e, v in rows if e.label == "block"]
        safe_rows = [v for e, v in rows if e.label == "allow"]
        entry: dict[str, Any] = {"n": len(rows)}
        if unsafe_rows:
            entry["recall"] = _ratio(sum(v.blocked for v in unsafe_rows), len(unsafe_rows))
        if safe_rows:
            entry["false_block_rate"] = _ratio(sum(v.blocked for v in safe_rows), len(safe_rows))
        per_category[name] = entry
    return {
        "n": tp + fp + fn + tn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "false_block_rate": _ratio(fp, fp + tn),
        "evasion_recall": _ratio(evasion_hits, evasion_n),
        "per_category": per_category,
        "precision_by_verdict_category": {
            name: {"precision": _ratio(sum(flags), len(flags)), "n": len(flags)}
            for name, flags in sorted(blocked_as.items())
        },
    }
