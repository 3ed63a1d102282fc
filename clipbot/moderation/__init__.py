"""Prompt screening. Placeholder pass-through until the moderation issue lands."""

from clipbot.models import Verdict


def screen(prompt: str, *, age_restricted: bool = False) -> Verdict:
    return Verdict(action="allow")
