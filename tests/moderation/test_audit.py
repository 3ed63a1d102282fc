import json

import pytest
from arq.connections import ArqRedis

from clipbot.config import Settings
from clipbot.models import Origin, Verdict
from clipbot.moderation import AuditLog
from clipbot.moderation.audit import AUDIT_KEY, AUDIT_STREAM, prompt_hmac

pytestmark = pytest.mark.redis

ORIGIN = Origin(platform="discord", channel="c1", user="u1", workspace="g1")
BLOCK = Verdict(action="block", category="sexual", reason="no", matched=["sexual:nude"])


async def test_record_writes_keyed_hash_not_prompt_by_default(redis: ArqRedis) -> None:
    audit = AuditLog(redis, Settings(audit_max_entries=100))
    await audit.record(BLOCK, "a nude statue", ORIGIN)
    [(_, fields)] = await redis.xrange(AUDIT_STREAM)
    entry = {k.decode(): v.decode() for k, v in fields.items()}
    assert "prompt" not in entry
    assert "a nude statue" not in json.dumps(entry)
    # Keyed with the deployment's random key, which a second bot process shares.
    key = await redis.get(AUDIT_KEY)
    assert key and len(key) == 64
    assert entry["prompt_hmac"] == prompt_hmac("a nude statue", key)
    assert await AuditLog(redis, Settings()).key() == key
    assert (entry["platform"], entry["workspace"], entry["user"]) == ("discord", "g1", "u1")
    assert (entry["action"], entry["category"]) == ("block", "sexual")
    assert json.loads(entry["matched"]) == ["sexual:nude"]


async def test_raw_prompt_is_kept_when_the_operator_turns_it_on(
    redis: ArqRedis,
) -> None:
    audit = AuditLog(redis, Settings(audit_raw_prompts=True, audit_max_entries=100))
    await audit.record(Verdict(action="allow"), "a fox in snow", ORIGIN)
    [(_, fields)] = await redis.xrange(AUDIT_STREAM)
    assert fields[b"prompt"] == b"a fox in snow"


async def test_stream_is_capped(redis: ArqRedis) -> None:
    audit = AuditLog(redis, Settings(audit_max_entries=100))
    for i in range(1500):
        await audit.record(Verdict(action="allow"), f"prompt {i}", ORIGIN)
    # MAXLEN ~ trims whole macro-nodes, so the length stays near the cap, not exactly at it.
    assert await redis.xlen(AUDIT_STREAM) < 400


async def test_configured_hash_key_is_used_and_never_stored(redis: ArqRedis) -> None:
    audit = AuditLog(redis, Settings(audit_max_entries=100, audit_hash_key="s3cret"))
    await audit.record(BLOCK, "a nude statue", ORIGIN)
    [(_, fields)] = await redis.xrange(AUDIT_STREAM)
    assert fields[b"prompt_hmac"].decode() == prompt_hmac("a nude statue", b"s3cret")
    assert await redis.get(AUDIT_KEY) is None
    assert prompt_hmac("a nude statue", b"s3cret") != prompt_hmac("a nude statue", b"other")
