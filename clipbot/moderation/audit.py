"""Audit trail of moderation decisions: one entry per screened prompt in a capped Redis
stream. What matched is kept here for operators, never shown to users.

The prompt is stored as a keyed hash (HMAC-SHA256) unless the operator sets
``CLIPBOT_AUDIT_RAW_PROMPTS``. A plain hash of a short prompt can be reversed by hashing
guesses; with a key, only someone holding it can check whether a given prompt was screened.
The key is ``CLIPBOT_AUDIT_HASH_KEY``, or else a random one made once and kept in Redis, so
every bot process of one deployment hashes alike."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import unicodedata
from typing import TYPE_CHECKING

from clipbot.models import Origin, Verdict

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from clipbot.config import Settings

AUDIT_STREAM = "clipbot:moderation:audit"
AUDIT_KEY = "clipbot:moderation:audit_key"


def prompt_hmac(prompt: str, key: bytes) -> str:
    text = unicodedata.normalize("NFKC", prompt).encode("utf-8")
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class AuditLog:
    def __init__(self, redis: Redis, settings: Settings, *, stream: str = AUDIT_STREAM) -> None:
        self.redis = redis
        self.stream = stream
        self.max_entries = settings.audit_max_entries
        self.raw_prompts = settings.audit_raw_prompts
        secret = settings.audit_hash_key
        self._key = secret.get_secret_value().encode("utf-8") if secret else None

    async def key(self) -> bytes:
        """The HMAC key: the configured one, or the deployment's random one from Redis."""
        if self._key is None:
            await self.redis.set(AUDIT_KEY, secrets.token_hex(32), nx=True)
            stored = await self.redis.get(AUDIT_KEY)
            self._key = stored if isinstance(stored, bytes) else str(stored).encode()
        return self._key

    def entry(self, verdict: Verdict, prompt: str, origin: Origin, *, key: bytes) -> dict[str, str]:
        fields = {
            "at": f"{time.time():.3f}",
            "platform": origin.platform,
            "workspace": origin.workspace or "",
            "channel": origin.channel,
            "user": origin.user,
            "action": verdict.action,
            "category": verdict.category or "",
            "matched": json.dumps(verdict.matched, ensure_ascii=False),
            "prompt_hmac": prompt_hmac(prompt, key),
        }
        if self.raw_prompts:
            fields["prompt"] = prompt
        return fields

    async def record(self, verdict: Verdict, prompt: str, origin: Origin) -> str:
        """Append one entry (XADD with an approximate MAXLEN cap); returns the entry id."""
        entry_id = await self.redis.xadd(
            self.stream,
            self.entry(verdict, prompt, origin, key=await self.key()),  # type: ignore[arg-type]
            maxlen=self.max_entries,
            approximate=True,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
