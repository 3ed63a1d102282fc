"""`clipbot run | worker | generate | make-tiny-model | moderate`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from clipbot.errors import ClipbotError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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
