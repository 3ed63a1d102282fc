"""Audit trail of moderation decisions: one entry per screened prompt in a capped Redis
stream. The prompt is stored as a SHA-256 hash unless the operator sets
``CLIPBOT_AUDIT_RAW_PROMPTS``; what matched is kept here for operators, never shown to users."""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from typing import TYPE_CHECKING

from clipbot.models import Origin, Verdict

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from clipbot.config import Settings

AUDIT_STREAM = "clipbot:moderation:audit"


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(unicodedata.normalize("NFKC", prompt).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, redis: Redis, settings: Settings, *, stream: str = AUDIT_STREAM) -> None:
        self.redis = redis
        self.stream = stream
        self.max_entries = settings.audit_max_entries
        self.raw_prompts = settings.audit_raw_prompts

    def entry(self, verdict: Verdict, prompt: str, origin: Origin) -> dict[str, str]:
        fields = {
            "at": f"{time.time():.3f}",
            "platform": origin.platform,
            "workspace": origin.workspace or "",
            "channel": origin.channel,
            "user": origin.user,
            "action": verdict.action,
            "category": verdict.category or "",
            "matched": json.dumps(verdict.matched, ensure_ascii=False),
            "prompt_sha256": prompt_hash(prompt),
        }
        if self.raw_prompts:
            fields["prompt"] = prompt
        return fields

    async def record(self, verdict: Verdict, prompt: str, origin: Origin) -> str:
        """Append one entry (XADD with an approximate MAXLEN cap); returns the entry id."""
        entry_id = await self.redis.xadd(
            self.stream,
            self.entry(verdict, prompt, origin),  # type: ignore[arg-type]
            maxlen=self.max_entries,
            approximate=True,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
