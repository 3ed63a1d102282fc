"""Prompt screening: normalise, rules, real people and deepfakes, optional semantic layer,
per-server policy, and an audit trail in Redis.

Importing this package never imports torch: the semantic layer loads inside
``Moderator.from_settings`` only when enabled.
"""

from clipbot.moderation.audit import AuditLog
from clipbot.moderation.moderator import Moderator, screen
from clipbot.moderation.policy import PolicyFile, ServerPolicy, load_policy

__all__ = ["AuditLog", "Moderator", "PolicyFile", "ServerPolicy", "load_policy", "screen"]
