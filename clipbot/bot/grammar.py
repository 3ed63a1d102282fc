"""The option grammar shared by Slack and the console:
``a fox in snow --seed 7 --ar 16:9 --len 4 --neg "blurry" --model ltx-video``."""

from __future__ import annotations

import shlex
from typing import Any

from clipbot.errors import InvalidRequest
from clipbot.models import ClipRequest, build_request

# flag -> (request field, converter, what a user may write)
_FLAGS: dict[str, tuple[str, type, str]] = {
    "--seed": ("seed", int, "a whole number, e.g. --seed 7"),
    "--ar": ("aspect", str, "16:9, 9:16, 1:1, 4:3 or 3:4, e.g. --ar 9:16"),
    "--aspect": ("aspect", str, "16:9, 9:16, 1:1, 4:3 or 3:4"),
    "--len": ("length_s", float, "seconds, e.g. --len 4"),
    "--length": ("length_s", float, "seconds, e.g. --length 4"),
    "--neg": ("negative_prompt", str, 'text in quotes, e.g. --neg "blurry, text"'),
    "--negative": ("negative_prompt", str, "text in quotes"),
    "--model": ("model", str, "a model name, e.g. --model ltx-video"),
    "--steps": ("steps", int, "a whole number, e.g. --steps 20"),
    "--guidance": ("guidance", float, "a number, e.g. --guidance 3"),
    "--frames": ("frames", int, "a whole number of frames"),
}

USAGE = (
    'Usage: <prompt> [--seed N] [--ar 16:9|9:16|1:1|4:3|3:4] [--len SECONDS] [--neg "TEXT"] '
    "[--model NAME] [--steps N] [--guidance X]"
)


def _split(text: str) -> list[str]:
    # Chat clients turn quotes into curly ones; treat them as plain quotes.
    for curly, plain in (("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'")):
        text = text.replace(curly, plain)
    # Likewise an em dash for a double hyphen (macOS and iOS autocorrect "--seed" to "—seed").
    text = text.replace("—", "--")
    try:
        return shlex.split(text)
    except ValueError:
        raise InvalidRequest("A quote is not closed. " + USAGE) from None


def parse(text: str, **defaults: Any) -> ClipRequest:
    """Parse a prompt with trailing or interleaved ``--flag value`` options into a request."""
    words: list[str] = []
    fields: dict[str, Any] = dict(defaults)
    tokens = _split(text)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or len(token) == 2:
            words.append(token)
            index += 1
            continue
        flag, _, inline = token.partition("=")
        if flag not in _FLAGS:
            raise InvalidRequest(f"Unknown option {flag}. {USAGE}")
        name, convert, accepted = _FLAGS[flag]
        if inline:
            raw = inline
            index += 1
        elif index + 1 < len(tokens):
            raw = tokens[index + 1]
            index += 2
        else:
            raise InvalidRequest(f"{flag} needs a value: {accepted}.")
        try:
            fields[name] = convert(raw)
        except ValueError:
            raise InvalidRequest(f"Bad value {raw!r} for {flag}: {accepted}.") from None
    prompt = " ".join(words).strip()
    if not prompt:
        raise InvalidRequest("Say what the clip should show. " + USAGE)
    return build_request(prompt=prompt, **fields)
