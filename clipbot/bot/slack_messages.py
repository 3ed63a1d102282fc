"""What the Slack adapter reads and writes as text: cleaning a mention into a prompt, and the
status, result and comment messages (mrkdwn text plus Block Kit buttons)."""

from __future__ import annotations

import html
import re
from typing import Any

from clipbot.bot.delivery import ClipFile
from clipbot.errors import ClipbotError
from clipbot.models import Action, ClipRequest, EventKind, JobEvent

ACTION_PREFIX = "clipbot_"
"""Block Kit ``action_id`` of a button is this prefix plus an ``Action`` value; the button's
``value`` is the job id."""
FAILED = "Something went wrong on our side; it is in the bot's log."
BAR_WIDTH = 10
PROMPT_PREVIEW_CHARS = 200

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def prompt_from_mention(text: str, bot_user_id: str | None) -> str:
    """The user's text without the mention of the bot, with Slack's markup undone.

    Slack sends ``<@U123>`` for mentions, ``<https://x|label>`` for links and escapes ``&``,
    ``<`` and ``>`` as HTML entities."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return unescape(text).strip()


def unescape(text: str) -> str:
    """Slack markup to plain text: a link becomes its label (or its target)."""
    text = _LINK.sub(lambda match: match.group(2) or match.group(1), text)
    return html.unescape(text)


def escape(text: str) -> str:
    """Plain text to Slack mrkdwn, so a prompt can never ping ``<!channel>`` or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoted(request: ClipRequest) -> str:
    prompt = request.prompt
    if len(prompt) > PROMPT_PREVIEW_CHARS:
        prompt = prompt[: PROMPT_PREVIEW_CHARS - 1] + "…"
    return f"“{escape(prompt)}”"


def status_text(event: JobEvent) -> str:
    """One line for the job's status message, edited as the job moves along."""
    prompt = quoted(event.request)
    if event.kind is EventKind.QUEUED:
        if not event.position:
            return f"⏳ {prompt}: starting…"
        return f"⏳ {prompt}: queued at position {event.position} (seed {event.request.seed})"
    if event.kind is EventKind.STARTED:
        return f"🎬 {prompt}: rendering…"
    if event.kind is EventKind.PROGRESS:
        filled = round(event.progress * BAR_WIDTH)
        bar = "▰" * filled + "▱" * (BAR_WIDTH - filled)
        return f"🎬 {prompt}: rendering {bar} {event.progress:.0%}"
    if event.kind is EventKind.FAILED:
        return f"⚠️ {prompt} failed: {escape(event.message or 'the render did not finish.')}"
    if event.kind is EventKind.CANCELLED:
        return f"🚫 {prompt} cancelled. {escape(event.message or '')}".rstrip()
    return f"✅ {prompt} is ready."


def status_blocks(event: JobEvent) -> list[dict[str, Any]]:
    """The status line, with a Cancel button while the job can still be stopped."""
    blocks = [_section(status_text(event))]
    if event.kind in (EventKind.QUEUED, EventKind.STARTED, EventKind.PROGRESS):
        blocks.append(_buttons(event.job_id, [(Action.CANCEL, "❌ Cancel", "danger")]))
    return blocks


def result_text(event: JobEvent, clip: ClipFile) -> str:
    info = clip.info
    return (
        f"✅ {quoted(event.request)} for <@{event.origin.user}>: seed {info.seed} · "
        f"model {escape(info.model)} · {info.duration_s:.1f} s {info.width}x{info.height}. "
        "React on the clip with :repeat: regenerate, :twisted_rightwards_arrows: vary "
        "or :x: delete."
    )


def result_blocks(event: JobEvent, clip: ClipFile) -> list[dict[str, Any]]:
    return [
        _section(result_text(event, clip)),
        _buttons(
            event.job_id,
            [
                (Action.REGENERATE, "🔁 Regenerate", None),
                (Action.VARY, "🔀 Vary", None),
                (Action.CANCEL, "❌ Delete", "danger"),
            ],
        ),
    ]


def upload_comment(event: JobEvent, clip: ClipFile) -> str:
    """The comment posted with the clip: what was asked, and how to get it again."""
    request = event.request
    lines = [
        f"<@{event.origin.user}>: {quoted(request)}",
        f"seed {clip.info.seed} · model {escape(clip.info.model)}",
    ]
    if request.negative_prompt:
        lines.append(f"negative: {escape(request.negative_prompt)}")
    return "\n".join(lines)


def failure(error: Exception) -> str:
    """What a user is told when their request failed on our side."""
    return str(error) if isinstance(error, ClipbotError) else FAILED


def deleted_text(user: str) -> str:
    return f"🗑️ Clip deleted by <@{user}>."


def text_blocks(text: str) -> list[dict[str, Any]]:
    """Blocks that show only ``text``: an edit with these drops a message's buttons."""
    return [_section(text)]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _buttons(job_id: str, buttons: list[tuple[Action, str, str | None]]) -> dict[str, Any]:
    elements = []
    for action, label, style in buttons:
        element: dict[str, Any] = {
            "type": "button",
            "action_id": ACTION_PREFIX + action.value,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": job_id,
        }
        if style:
            element["style"] = style
        elements.append(element)
    return {"type": "actions", "elements": elements}
