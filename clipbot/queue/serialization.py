"""JSON instead of pickle for arq's job and result payloads: nothing executable in Redis."""

from __future__ import annotations

import json
from typing import Any


def dumps(payload: dict[str, Any]) -> bytes:
    # Results may hold an exception object (arq stores why a job failed): keep its text.
    return json.dumps(payload, default=repr, separators=(",", ":")).encode()


def loads(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(data)
    return value
