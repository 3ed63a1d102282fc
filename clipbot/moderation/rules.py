"""Category rules: named phrase groups from ``data/rules.toml`` combined per category.

A category fires when one of its ``any`` groups matches, or when two groups of a ``near`` pair
match within a window of tokens. Everything is found in one pass per token stream (one lexicon
for all groups, one people index); the combination step only looks at what was found.
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

BENIGN = "benign"
REAL_PERSON = "real_person"
MINOR_AGE = "minor_age"

_NUMBER_WORDS = (  # noqa: SIM905
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen"
).split()
_AGE = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_AGE_PATTERNS = re.compile(
    rf"\b{_AGE} ?(?:years?|yrs?|yr|year) ?old\b|\b{_AGE} ?(?:yo|y o|yrs? old)\b"
    rf"|\baged? {_AGE}\b|\b{_AGE} years? of age\b"
)


@dataclass(frozen=True, slots=True)
class Near:
    first: str
    second: str
    window: int  # most tokens allowed between the two matches; 0 = anywhere in the prompt
    ordered: bool  # second must come after first


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    reason: str
    any: tuple[str, ...] = ()
    near: tuple[Near, ...] = ()
    hard: bool = False  # no policy can lift it
    liftable: bool = False  # a server policy may allow it in age-restricted channels


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    matched: tuple[str, ...]


@dataclass
class Found:
    """What one prompt matched, per group, as (start, end, term) spans."""

    groups: dict[str, list[tuple[int, int, str]]] = field(default_factory=lambda: defaultdict(list))

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


def _gap(a: tuple[int, int, str], b: tuple[int, int, str]) -> int:
    """Tokens between two spans; negative when they overlap."""
    return max(b[0] - a[1], a[0] - b[1])


class RuleSet:
    def __init__(self, groups: Mapping[str, Sequence[str]], categories: Sequence[Category]):
        self.categories = tuple(categories)
        for category in categories:
            if category.hard and category.liftable:
                raise ValueError(f"category {category.name} cannot be both hard and liftable")
        names = {n.first for c in categories for n in c.near} | {
            n.second for c in categories for n in c.near
        }
        wanted = names | {g for c in categories for g in c.any} | {BENIGN}
        missing = wanted - set(groups) - {REAL_PERSON, MINOR_AGE}
        if missing:
            raise ValueError(f"rules name undefined groups: {sorted(missing)}")
        self.lexicon = Lexicon({g: groups[g] for g in wanted if g in groups})
        self.vocabulary = frozenset(self.lexicon.vocabulary) | _common_words()

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
            categories.append(
                Category(
                    name=name,
                    reason=spec["reason"],
                    any=tuple(spec.get("any", ())),
                    near=near,
                    hard=bool(spec.get("hard", False)),
                    liftable=bool(spec.get("liftable", False)),
                )
            )
        return cls(data["groups"], categories)

    def find(self, normalised: Normalised, people: PeopleIndex) -> Found:
        found = Found()
        offset = 0
        for index, stream in enumerate(normalised.streams):
            self._find_stream(stream, people, found, offset, ages=index == 0)
            # Streams are matched separately; offsetting keeps their spans apart.
            offset += len(stream.tokens) + 1000
        return found

    def _find_stream(
        self, stream: Stream, people: PeopleIndex, found: Found, offset: int, *, ages: bool
    ) -> None:
        stream = segment(stream, self.vocabulary, people.vocabulary)
        matches: list[Match] = list(self.lexicon.find(stream))
        persons = list(people.find(stream))
        hidden = [(m.start, m.end) for m in matches if m.label == BENIGN]
        hidden += [(p.start, p.end) for p in persons if p.listed]
        for m in matches:
            if m.label == BENIGN or any(s <= m.start and m.end <= e for s, e in hidden):
                continue
            found.add(m.label, m.start + offset, m.end + offset, m.term)
        for p in persons:
            found.add(REAL_PERSON, p.start + offset, p.end + offset, p.name)
        if ages:
            for text in _age_under_18(stream.text):
                found.add(MINOR_AGE, offset, offset, text)

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
        for near in category.near:
            for a in groups.get(near.first, ()):
                for b in groups.get(near.second, ()):
                    if near.first == near.second and (a == b or a[2] == b[2]):
                        continue
                    if near.first in (REAL_PERSON, MINOR_AGE) or near.second == MINOR_AGE:
                        gap = 0  # pseudo-groups: anywhere, even overlapping
                    elif near.ordered:
                        gap = b[0] - a[1]
                    else:
                        gap = _gap(a, b)
                    if gap < 0 or (near.window and gap > near.window):
                        continue
                    return [f"{near.first}:{a[2]}", f"{near.second}:{b[2]}"]
        return []
