"""`clipbot run | worker | generate | make-tiny-model | moderate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clipbot.config import Settings, load_settings
from clipbot.errors import ClipbotError


def configure_logging(settings: Settings, *, quiet_libraries: bool = False) -> None:
    # Download/loading progress bars of the Hugging Face libraries are noise in a service log.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if quiet_libraries:
        for name in ("arq", "httpx", "diffusers", "transformers", "sentence_transformers"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "model", None):
        overrides["model"] = args.model
    return load_settings(**overrides)


def _run(args: argparse.Namespace) -> int:
    from clipbot.app import RunOptions, run_bot

    settings = _settings_from(args)
    configure_logging(settings, quiet_libraries=True)
    options = RunOptions(
        console=args.console,
        clips_dir=args.clips_dir,
        with_worker=not args.no_worker,
        slack_http_port=args.slack_http_port,
    )
    return asyncio.run(run_bot(settings, options))


def _worker(args: argparse.Namespace) -> int:
    from clipbot.app import run_worker

    settings = _settings_from(args)
    configure_logging(settings)
    return asyncio.run(run_worker(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run the bot: Discord/Slack when their tokens are set, else the console",
    )
    run.add_argument("--console", action="store_true", help="use the terminal adapter")
    run.add_argument(
        "--clips-dir", type=Path, default=Path("clips"), help="where the console saves clips"
    )
    run.add_argument("--no-worker", action="store_true", help="do not render in this process")
    run.add_argument("--model", help="model for the in-process worker (overrides CLIPBOT_MODEL)")
    run.add_argument(
        "--slack-http-port", type=int, help="serve Slack over HTTP instead of Socket Mode"
    )
    run.set_defaults(handler=_run)

    worker = sub.add_parser("worker", help="run a GPU worker against CLIPBOT_REDIS_URL")
    worker.add_argument("--model", help="preset, hub id or directory (overrides CLIPBOT_MODEL)")
    worker.set_defaults(handler=_worker)

    from clipbot.generator import commands as generator_commands
    from clipbot.moderation import commands as moderation_commands

    generator_commands.register(sub)
    moderation_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ClipbotError as error:
        print(f"clipbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
