"""What the Discord adapter writes: status lines, the clip caption, refusals. Pure functions,
kept apart from the client so they read (and test) as plain text."""

from __future__ import annotations

import discord

from clipbot.models import ClipInfo, EventKind, JobEvent, JobRecord

MAX_CONTENT = 2000  # Discord's limit on a message's text
PROMPT_SHOWN = 300


def _shown(prompt: str, limit: int = PROMPT_SHOWN) -> str:
    """A prompt safe to put in bold: markdown escaped, cut to ``limit`` characters."""
    text = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return discord.utils.escape_markdown(text)


def status(event: JobEvent) -> str:
    """The one line a job's status message shows while it waits or renders."""
    prompt = _shown(event.request.prompt, 120)
    if event.kind is EventKind.QUEUED and event.position:
        return f"⏳ Queued, position {event.position}: **{prompt}**"
    if event.kind in (EventKind.QUEUED, EventKind.STARTED):
        return f"🎬 Starting: **{prompt}**"
    if event.kind is EventKind.PROGRESS:
        return f"🎬 Rendering {event.progress:.0%}: **{prompt}**"
    if event.kind is EventKind.CANCELLED:
        return f"❌ {event.message or 'Cancelled.'} **{prompt}**"
    return f"⚠️ {event.message or 'The clip could not be made.'} **{prompt}**"


def caption(event: JobEvent, info: ClipInfo) -> str:
    request = event.request
    lines = [f"**{_shown(request.prompt)}**"]
    if request.negative_prompt:
        lines.append(f"without: {_shown(request.negative_prompt, 200)}")
    details = [
        f"seed `{info.seed}`",
        info.model,
        f"{info.duration_s:.1f} s",
        f"{info.width}x{info.height}",
    ]
    if request.is_variation:
        details.append(f"variation `{request.variation_seed}`")
    lines.append(" · ".join(details) + f" · requested by <@{event.origin.user}>")
    return "\n".join(lines)[:MAX_CONTENT]


def too_big(size: int, limit: int) -> str:
    return (
        f"⚠️ The clip came out at {size / 2**20:.1f} MiB, over this server's "
        f"{limit / 2**20:.0f} MiB upload limit, so it cannot be posted. "
        "Try a shorter length or a smaller aspect."
    )


def queue_listing(jobs: list[tuple[JobRecord, int | None]]) -> str:
    if not jobs:
        return "You have no clips queued or rendering."
    lines = []
    for record, position in jobs:
        where = "rendering" if position == 0 else f"position {position}" if position else "queued"
        lines.append(f"• {where}: **{_shown(record.request.prompt, 100)}**")
    return "\n".join(lines)[:MAX_CONTENT]


def job_label(record: JobRecord, position: int | None) -> str:
    """An autocomplete choice's name for `/cancel` (Discord allows 100 characters)."""
    where = "rendering" if position == 0 else f"#{position}" if position else "queued"
    prompt = record.request.prompt
    return f"{where}: {prompt if len(prompt) <= 80 else prompt[:79] + '…'}"
