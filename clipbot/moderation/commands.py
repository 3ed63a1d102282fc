"""``clipbot moderate``: screen prompts from stdin, or score a labelled file with --summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clipbot.config import load_settings
from clipbot.moderation.evaluate import read_labelled, summarise
from clipbot.moderation.moderator import Moderator


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "moderate",
        help="screen prompts (one per line on stdin) and print one JSON verdict per line",
        description=(
            "Screen prompts read one per line from stdin; print one JSON object per line: "
            '{"text", "action", "category", "reason"}. With --summary FILE, score a labelled '
            'JSONL file ({"text", "label": "allow"|"block"} lines) instead and print precision, '
            "recall and false-block rate per category."
        ),
    )
    parser.add_argument("--summary", type=Path, metavar="LABELLED.jsonl")
    parser.add_argument(
        "--age-restricted", action="store_true", help="screen as in an NSFW channel"
    )
    parser.add_argument("--workspace", help="server id whose policy applies")
    parser.add_argument(
        "--semantic",
        choices=["auto", "on", "off"],
        help="override CLIPBOT_MODERATION_SEMANTIC for this run",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    overrides = {"moderation_semantic": args.semantic} if args.semantic else {}
    moderator = Moderator.from_settings(load_settings(**overrides))

    if args.summary is not None:
        examples = read_labelled(args.summary)
        report = summarise(
            (
                e,
                moderator.screen(
                    e.text, age_restricted=args.age_restricted, workspace=args.workspace
                ),
            )
            for e in examples
        )
        print(json.dumps(report, indent=2))
        return 0
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        verdict = moderator.screen(
            text, age_restricted=args.age_restricted, workspace=args.workspace
        )
        out = {
            "text": text,
            "action": verdict.action,
            "category": verdict.category,
            "reason": verdict.reason,
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0
