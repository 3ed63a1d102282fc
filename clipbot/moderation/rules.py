"""Category rules: named phrase groups from ``data/rules.toml`` combined per category.

A category fires when one of its ``any`` groups matches, when an ``unless`` group matches and
none of its counter groups does ("adult video" unless "wearing formal attire"), when two
groups of a ``near`` pair match within a window of tokens, or when the groups of a ``chain``
match in order, each within its gap of the one before (a group, then "are all", then a slur on
the group's character; a gap of 0 means adjacent). Everything is found in one pass per token
stream (one lexicon for all groups, one people index); the combination step only looks at what
was found.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

from clipbot.moderation.lexicon import Lexicon, Match
from clipbot.moderation.normalise import Normalised, Stream, segment
from clipbot.moderation.people import PeopleIndex
from clipbot.moderation.spelling import Speller

BENIGN = "benign"
# "... and he is fine": a prompt that says no one was hurt. Not a rule of its own; it keeps the
# semantic layer from reading the injury it mentions as violence (see Moderator.screen).
UNHARMED = "unharmed"
REAL_PERSON = "real_person"
# A real person's name used as a style reference: no rule reads it as the person shown, but a
# "no real people" policy still does.
STYLE_REFERENCE = "style_reference"
MINOR_AGE = "minor_age"
# Filled in by code, not by the lexicon; their spans are a name or a whole prompt, so a pair with
# one of them matches anywhere in the prompt.
PSEUDO_GROUPS = frozenset({REAL_PERSON, STYLE_REFERENCE, MINOR_AGE})

_NUMBER_WORDS = (  # noqa: SIM905
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen"
).split()
_AGE = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_AGE_PATTERNS = re.compile(
    rf"\b{_AGE} ?(?:years?|yrs?|yr|year) ?old\b|\b{_AGE} ?(?:yo|y o|yrs? old)\b"
    rf"|\baged? {_AGE}\b|\b{_AGE} years? of age\b"
    # An age guessed at: "maybe twelve", "looks 13", "barely 14".
    rf"|\b(?:maybe|looks|looking|barely|just turned) {_AGE}\b"
)


@dataclass(frozen=True, slots=True)
class Near:
    first: str
    second: str
    window: int  # most tokens allowed between the two matches; 0 = anywhere in the prompt
    ordered: bool  # second must come after first


@dataclass(frozen=True, slots=True)
class Chain:
    groups: tuple[str, ...]  # matched in this order, each starting after the previous ends
    gaps: tuple[int, ...]  # most tokens between consecutive matches, one fewer than groups


@dataclass(frozen=True, slots=True)
class Unless:
    group: str
    counters: tuple[str, ...]  # any of these matching anywhere in the prompt stops ``group``


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    reason: str
    any: tuple[str, ...] = ()
    unless: tuple[Unless, ...] = ()
    near: tuple[Near, ...] = ()
    chain: tuple[Chain, ...] = ()
    # Groups that, anywhere in the prompt, stop the near and chain rules (not ``any``): the scam
    # fails on screen ("the IRS will never ask for gift cards", "she hangs up").
    defused_by: tuple[str, ...] = ()
    # Sets of groups that, each with one group found anywhere in the prompt, let the semantic
    # layer's gated probe class for this category speak (``probe_gated`` in exemplars.toml):
    # the probe reads any mention of a group as hate and of a person as a deepfake, so hate
    # needs a group named and a word that points at hate, deepfake a real person.
    evidence: tuple[tuple[str, ...], ...] = ()
    hard: bool = False  # no policy can lift it
    liftable: bool = False  # a server policy may allow it in age-restricted channels


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    matched: tuple[str, ...]


@dataclass
class Found:
    """What one prompt matched, per group, as (start, end, term) spans, and the distinct
    readings the rules matched against (masked and glued words filled in and split; not the
    spelling-corrected one, whose guesses such as "cafe" read as "came" only confuse the
    sentence model, which reads misspellings well enough by itself)."""

    groups: dict[str, list[tuple[int, int, str]]] = field(default_factory=lambda: defaultdict(list))
    readings: list[str] = field(default_factory=list)

    def add(self, group: str, start: int, end: int, term: str) -> None:
        self.groups[group].append((start, end, term))


def _age_under_18(text: str) -> list[str]:
    out = []
    for match in _AGE_PATTERNS.finditer(text):
        value = next(g for g in match.groups() if g)
        age = int(value) if value.isdigit() else _NUMBER_WORDS.index(value)
        if age < 18:
            out.append(match.group(0))
    return out


def _common_words() -> frozenset[str]:
    text = (resources.files("clipbot.moderation") / "data" / "common_words.txt").read_text("utf-8")
    return frozenset(
        w for line in text.splitlines() if not line.startswith("#") for w in line.split()
    )


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _gap(a: tuple[int, int, str], b: tuple[int, int, str]) -> int:
    """Tokens between two spans; negative when they overlap."""
    return max(b[0] - a[1], a[0] - b[1])


class RuleSet:
    def __init__(self, groups: Mapping[str, Sequence[str]], categories: Sequence[Category]):
        self.categories = tuple(categories)
        for category in categories:
            if category.hard and category.liftable:
                raise ValueError(f"category {category.name} cannot be both hard and liftable")
        names = (
            {n.first for c in categories for n in c.near}
            | {g for c in categories for u in c.unless for g in (u.group, *u.counters)}
            | {n.second for c in categories for n in c.near}
            | {g for c in categories for ch in c.chain for g in ch.groups}
            | {g for c in categories for g in c.defused_by}
            | {g for c in categories for e in c.evidence for g in e}
        )
        wanted = names | {g for c in categories for g in c.any} | {BENIGN, UNHARMED}
        missing = wanted - set(groups) - PSEUDO_GROUPS - {UNHARMED}
        if missing:
            raise ValueError(f"rules name undefined groups: {sorted(missing)}")
        self.lexicon = Lexicon({g: groups[g] for g in wanted if g in groups})
        self.vocabulary = frozenset(self.lexicon.vocabulary) | _common_words()
        # Words of the rules that flag something: a masked word ("k*kes") is read as one of
        # these when it can be, before any harmless word it could also be.
        self.flagged_words = frozenset(
            w
            for label, words in self.lexicon.vocabulary_by_label.items()
            if label != BENIGN
            for w in words
        )
        # What defuses a category, or counters one of its groups, speaks for the prompt, so a
        # harmless phrase never hides it.
        self._never_hidden = {g for c in categories for g in c.defused_by} | {
            g for c in categories for u in c.unless for g in u.counters
        }
        self.speller = Speller(
            self.flagged_words, frozenset(self.lexicon.vocabulary), self.vocabulary
        )

    @classmethod
    def bundled(cls) -> RuleSet:
        text = (resources.files("clipbot.moderation") / "data" / "rules.toml").read_text("utf-8")
        return cls.from_toml(text)

    @classmethod
    def from_toml(cls, text: str) -> RuleSet:
        data = tomllib.loads(text)
        categories = []
        for name, spec in data["categories"].items():
            near = (
                tuple(
                    Near(p[0], p[1], int(p[2]), len(p) > 3 and p[3] == "ordered")
                    for p in spec["near"]
                )
                if "near" in spec
                else ()
            )
            chain = tuple(_chain(spec_chain) for spec_chain in spec.get("chain", ()))
            categories.append(
                Category(
                    name=name,
                    reason=spec["reason"],
                    any=tuple(spec.get("any", ())),
                    unless=tuple(Unless(u[0], tuple(u[1:])) for u in spec.get("unless", ())),
                    defused_by=tuple(spec.get("defused_by", ())),
                    evidence=tuple(tuple(e) for e in spec.get("evidence", ())),
                    near=near,
                    chain=chain,
                    hard=bool(spec.get("hard", False)),
                    liftable=bool(spec.get("liftable", False)),
                )
            )
        return cls(data["groups"], categories)

    def find(self, normalised: Normalised, people: PeopleIndex) -> Found:
        found = Found()
        streams = [
            segment(stream, self.flagged_words, self.vocabulary, people.vocabulary)
            for stream in normalised.streams
        ]
        for stream in streams:
            if stream.tokens and stream.text not in found.readings:
                found.readings.append(stream.text)
        spelled = self._spelled(streams[0], people.vocabulary)
        if spelled is not None:
            streams.append(spelled)
        offset = 0
        for index, stream in enumerate(streams):
            self._find_stream(stream, people, found, offset, ages=index == 0)
            # Streams are matched separately; offsetting keeps their spans apart.
            offset += len(stream.tokens) + 1000
        return found

    def _spelled(self, stream: Stream, names: frozenset[str]) -> Stream | None:
        """The reading with misspelt words corrected, or None when nothing was misspelt."""
        tokens = tuple(self.speller.correct(token, names) for token in stream.tokens)
        if tokens == stream.tokens:
            return None
        stretched = tuple(
            key if new == old else None
            for new, old, key in zip(tokens, stream.tokens, stream.stretched, strict=True)
        )
        return Stream(tokens, stretched)

    def _find_stream(
        self, stream: Stream, people: PeopleIndex, found: Found, offset: int, *, ages: bool
    ) -> None:
        matches: list[Match] = list(self.lexicon.find(stream))
        persons = list(people.find(stream))
        benign = [(m.start, m.end) for m in matches if m.label == BENIGN]
        names = [(p.start, p.end) for p in persons if p.listed]
        for m in matches:
            if m.label == BENIGN:
                continue
            if m.label not in self._never_hidden and _inside(m.start, m.end, benign):
                continue
            # A word inside a listed name is not that word ("Jack Black" is no colour); a
            # phrase that is the whole name was written for that person ("hitler").
            if _inside(m.start, m.end, names) and (m.start, m.end) not in names:
                continue
            found.add(m.label, m.start + offset, m.end + offset, m.term)
        for p in persons:
            # "Jack Russell terrier" is a dog: a benign phrase hides a guessed name (never a
            # listed one).
            if not p.listed and _inside(p.start, p.end, benign):
                continue
            found.add(
                STYLE_REFERENCE if p.as_style else REAL_PERSON,
                p.start + offset,
                p.end + offset,
                p.name,
            )
        if ages:
            for text in _age_under_18(stream.text):
                found.add(MINOR_AGE, offset, offset, text)

    def evidenced(self, found: Found) -> frozenset[str]:
        """The categories with evidence in the prompt (see ``Category.evidence``)."""
        return frozenset(
            c.name
            for c in self.categories
            if c.evidence and all(any(found.groups.get(g) for g in e) for e in c.evidence)
        )

    def evaluate(self, found: Found, skip: Iterable[str] = ()) -> list[Hit]:
        """Every category that fires, in priority order, ``skip``ped ones left out."""
        skipped = set(skip)
        hits = []
        for category in self.categories:
            if category.name in skipped:
                continue
            matched = self._fires(category, found)
            if matched:
                hits.append(Hit(category.name, tuple(dict.fromkeys(matched))))
        return hits

    @staticmethod
    def _fires(category: Category, found: Found) -> list[str]:
        groups = found.groups
        for name in category.any:
            if groups.get(name):
                return [f"{name}:{term}" for _, _, term in groups[name]]
        for unless in category.unless:
            if groups.get(unless.group) and not any(groups.get(c) for c in unless.counters):
                return [f"{unless.group}:{term}" for _, _, term in groups[unless.group]]
        if any(groups.get(g) for g in category.defused_by):
            return []
        for near in category.near:
            for a in groups.get(near.first, ()):
                for b in groups.get(near.second, ()):
                    if near.first == near.second and (a == b or a[2] == b[2]):
                        continue
                    if near.first in PSEUDO_GROUPS or near.second in PSEUDO_GROUPS:
                        gap = 0  # anywhere, even overlapping
                    elif near.ordered:
                        gap = b[0] - a[1]
                    else:
                        gap = _gap(a, b)
                    if gap < 0 or (near.window and gap > near.window):
                        continue
                    return [f"{near.first}:{a[2]}", f"{near.second}:{b[2]}"]
        for chain in category.chain:
            path = _follow(chain, groups, 0, None)
            if path:
                return [f"{g}:{span[2]}" for g, span in zip(chain.groups, path, strict=True)]
        return []


def _chain(spec: Sequence[str | int]) -> Chain:
    """``["a", 1, "b", 4, "c"]``: group names alternating with the gaps between them."""
    groups = tuple(str(g) for g in spec[0::2])
    gaps = tuple(int(g) for g in spec[1::2])
    if len(groups) < 2 or len(gaps) != len(groups) - 1:
        raise ValueError(f"a chain alternates groups and gaps: {list(spec)!r}")
    return Chain(groups, gaps)


def _follow(
    chain: Chain,
    groups: Mapping[str, list[tuple[int, int, str]]],
    index: int,
    previous: tuple[int, int, str] | None,
) -> list[tuple[int, int, str]]:
    """Spans for ``chain.groups[index:]``, each after ``previous`` within its gap, or []."""
    for span in groups.get(chain.groups[index], ()):
        if previous is not None:
            gap = span[0] - previous[1]
            if gap < 0 or gap > chain.gaps[index - 1]:
                continue
        if index == len(chain.groups) - 1:
            return [span]
        rest = _follow(chain, groups, index + 1, span)
        if rest:
            return [span, *rest]
    return []
