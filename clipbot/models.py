"""The shared vocabulary: every message that crosses a process boundary is one of these models,
serialised as JSON (never pickled)."""

from __future__ import annotations

import time
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clipbot.errors import InvalidRequest

Platform = Literal["console", "discord", "slack"]
Aspect = Literal["16:9", "9:16", "1:1", "4:3", "3:4"]
ASPECTS: tuple[Aspect, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4")

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**32 - 1
MIN_LENGTH_S = 1.0
MAX_LENGTH_S = 10.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # Discord's upload limit for an unboosted guild

Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


def _clean_text(value: str) -> str:
    """Drop control and invisible format characters (zero-width, bidi overrides), turn line
    breaks and tabs into spaces, and trim: what is left is what a user sees."""
    kept = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in value
        if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    return kept.strip()


class ClipRequest(BaseModel):
    """What to render. ``seed`` is filled in before the job is queued, so it is always known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    seed: Seed | None = None
    aspect: Aspect = "16:9"
    length_s: float = Field(default=3.0, ge=MIN_LENGTH_S, le=MAX_LENGTH_S)
    frames: int | None = Field(default=None, ge=1, le=1024)
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance: float | None = Field(default=None, ge=0, le=30)
    model: str | None = Field(default=None, max_length=200)
    variation_seed: Seed | None = None
    variation_strength: float = Field(default=0.0, ge=0.0, le=1.0)
    parent_job_id: str | None = None
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=64 * 1024)

    @field_validator("prompt", "negative_prompt", mode="before")
    @classmethod
    def _strip_controls(cls, value: object) -> object:
        return _clean_text(value) if isinstance(value, str) else value

    @property
    def is_variation(self) -> bool:
        return self.variation_seed is not None and self.variation_strength > 0


class Origin(BaseModel):
    """Where a request came from and where its answer goes. ``reply`` holds adapter-specific
    handles (a Discord interaction token, a Slack status message ts) that only that adapter
    reads."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    channel: str
    user: str
    user_name: str | None = None
    workspace: str | None = None
    thread: str | None = None
    message: str | None = None
    age_restricted: bool = False
    can_moderate: bool = False
    reply: dict[str, str] = Field(default_factory=dict)


class EventKind(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_EVENTS = frozenset({EventKind.DONE, EventKind.FAILED, EventKind.CANCELLED})


class ClipInfo(BaseModel):
    """What was delivered: the bytes live in the result store under the job id."""

    bytes: int
    width: int
    height: int
    frames: int
    fps: float
    seed: int
    model: str
    has_poster: bool = False

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


class JobEvent(BaseModel):
    """One step of a job's life, written to the origin platform's Redis stream."""

    job_id: str
    kind: EventKind
    request: ClipRequest
    origin: Origin
    position: int | None = None
    step: int | None = None
    total_steps: int | None = None
    message: str | None = None
    clip: ClipInfo | None = None
    at: float = Field(default_factory=time.time)

    @property
    def progress(self) -> float:
        if self.kind is EventKind.DONE:
            return 1.0
        if self.step is None or not self.total_steps:
            return 0.0
        return min(1.0, self.step / self.total_steps)


class JobRecord(BaseModel):
    """What Redis keeps about a job for lineage, cancel and `/queue` (not the clip bytes)."""

    job_id: str
    request: ClipRequest
    origin: Origin
    status: EventKind = EventKind.QUEUED
    created: float = Field(default_factory=time.time)

    def event(self, kind: EventKind, **fields: Any) -> JobEvent:
        return JobEvent(
            job_id=self.job_id, kind=kind, request=self.request, origin=self.origin, **fields
        )


class Action(StrEnum):
    """What a reaction or button on a delivered clip asks for."""

    REGENERATE = "regenerate"
    VARY = "vary"
    CANCEL = "cancel"


REACTION_ACTIONS: dict[str, Action] = {
    "🔁": Action.REGENERATE,
    "🔀": Action.VARY,
    "❌": Action.CANCEL,
    # Slack sends reaction names without colons.
    "repeat": Action.REGENERATE,
    "twisted_rightwards_arrows": Action.VARY,
    "x": Action.CANCEL,
}


class Verdict(BaseModel):
    """Moderation's answer. ``matched`` is for the audit log only, never shown to users."""

    action: Literal["allow", "block"]
    category: str | None = None
    reason: str | None = None
    matched: list[str] = Field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.action == "block"


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's error list into one sentence a chat user can act on."""
    names = {
        "prompt": "prompt",
        "negative_prompt": "negative prompt (--neg)",
        "seed": "seed (--seed)",
        "aspect": "aspect (--ar)",
        "length_s": "length (--len)",
        "frames": "frames (--frames)",
        "steps": "steps (--steps)",
        "guidance": "guidance (--guidance)",
        "model": "model (--model)",
        "variation_strength": "variation strength",
    }
    hints = {
        "prompt": f"write 1 to {MAX_PROMPT_CHARS} characters describing the clip",
        "negative_prompt": f"at most {MAX_PROMPT_CHARS} characters",
        "seed": f"a whole number from 0 to {MAX_SEED}",
        "aspect": "one of " + ", ".join(ASPECTS),
        "length_s": f"seconds from {MIN_LENGTH_S:g} to {MAX_LENGTH_S:g}",
        "frames": "a whole number from 1 to 1024",
        "steps": "a whole number from 1 to 200",
        "guidance": "a number from 0 to 30",
    }
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        label = names.get(field, field or "request")
        hint = hints.get(field)
        parts.append(f"Bad {label}: {hint}." if hint else f"Bad {label}: {item['msg']}.")
    return " ".join(dict.fromkeys(parts))


def build_request(**fields: object) -> ClipRequest:
    """Validate user-supplied fields, raising ``InvalidRequest`` with a friendly message."""
    try:
        return ClipRequest.model_validate(fields)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error)) from None
