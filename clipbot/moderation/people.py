"""Find real people in a prompt: listed public figures by name or alias, and any full personal
name (a common given name followed by a surname-like word), so that private people are
protected too and the deepfake rule never depends on a name being on the list.

Listed names are matched in one pass: every name is a tuple of folded tokens in one dict, and
each prompt position is looked up for the few name lengths that exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

from clipbot.moderation.lexicon import phrase_words
from clipbot.moderation.normalise import Stream

# Words that follow a given name without being a surname ("Emma and", "Jack in the box").
_NOT_SURNAMES = frozenset(
    """
    a an the and or but of in on at to from by for with without as is are was were be been
    being has have had do does did not no yes this that these those it its his her their our
    my your who whom which what when where why how all any each every some very so too just
    also then than there here up down out over under again once into onto off about after
    before while during through between against around near beside behind across along style
    styled like inspired portrait photo picture painting drawing video clip footage film
    movie scene shot image render art poster statue sculpture cartoon anime version
    character costume cosplay outfit look lookalike wearing holding sitting standing walking
    running dancing singing playing smiling eating drinking riding talking saying announcing
    giving making looking getting being doing having taking going coming confessing
    admitting caught arrested naked nude sexy dead new old young little big small tall short
    happy sad angry funny concert lighting tour stage show live music song album band fan
    fans club house street box jr sr ii iii iv
    """.split()  # noqa: SIM905
)

# A name used as a style reference ("Charlie Chaplin style slapstick", "in the style of Wes
# Anderson") names a look, not a person shown in the clip.
_STYLE_AFTER = frozenset({"style", "styled", "esque", "inspired"})
_STYLE_BEFORE = frozenset({("style", "of"), ("inspired", "by"), ("manner", "of")})


@dataclass(frozen=True, slots=True)
class PersonMatch:
    name: str
    listed: bool
    start: int
    end: int
    as_style: bool = False


class PeopleIndex:
    """Public figures (from ``data/public_figures.tsv``) plus the given-name heuristic."""

    def __init__(self, names: Iterable[tuple[str, Iterable[str]]], given_names: Iterable[str]):
        self._names: dict[tuple[str, ...], str] = {}
        for canonical, aliases in names:
            for form in (canonical, *aliases):
                words = tuple(w for w in phrase_words(form) if not w.endswith("*"))
                if words:
                    self._names.setdefault(words, canonical)
        self._lengths = sorted({len(k) for k in self._names}, reverse=True)
        self._given = frozenset(given_names)
        # Words of listed names and given names, for re-splitting spaced-out letters.
        self.vocabulary = frozenset(w for key in self._names for w in key) | self._given
        self.allowed: frozenset[tuple[str, ...]] = frozenset()

    def __len__(self) -> int:
        return len(set(self._names.values()))

    @classmethod
    def bundled(cls) -> PeopleIndex:
        data = resources.files("clipbot.moderation") / "data"
        rows: list[tuple[str, list[str]]] = []
        for line in (data / "public_figures.tsv").read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, aliases, *_ = line.split("\t")
            rows.append((name, [a for a in aliases.split("|") if a]))
        given = [
            word
            for line in (data / "given_names.txt").read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")
            for word in line.split()
        ]
        return cls(rows, given)

    def without(self, allowed_names: Iterable[str]) -> PeopleIndex:
        """A view of this index that ignores ``allowed_names`` (a server's policy)."""
        view = object.__new__(PeopleIndex)
        view._names, view._lengths, view._given = self._names, self._lengths, self._given
        view.vocabulary = self.vocabulary
        view.allowed = frozenset(
            tuple(phrase_words(name)) for name in allowed_names if phrase_words(name)
        )
        return view

    def find(self, stream: Stream) -> Iterator[PersonMatch]:
        tokens = stream.tokens
        i = 0
        while i < len(tokens):
            match = self._listed_at(tokens, i) or self._personal_name_at(tokens, i)
            if match is None:
                i += 1
                continue
            if tokens[match.start : match.end] not in self.allowed:
                yield match
            i = match.end

    def _listed_at(self, tokens: tuple[str, ...], i: int) -> PersonMatch | None:
        for n in self._lengths:
            key = tokens[i : i + n]
            if len(key) < n:
                continue
            # "Rishi Sunak's" folds to "rishi sunaks". Only full names are read through the
            # possessive: "love trumps hate" is not about anyone.
            if key not in self._names and n > 1 and key[-1].endswith("s"):
                key = (*key[:-1], key[-1][:-1])
            if key in self._names:
                return PersonMatch(self._names[key], True, i, i + n, _as_style(tokens, i, i + n))
        return None

    def _personal_name_at(self, tokens: tuple[str, ...], i: int) -> PersonMatch | None:
        if tokens[i] not in self._given or i + 1 >= len(tokens):
            return None
        surname = tokens[i + 1]
        if len(surname) < 2 or not surname.isalpha() or surname in _NOT_SURNAMES:
            return None
        return PersonMatch(f"{tokens[i]} {surname}", False, i, i + 2, _as_style(tokens, i, i + 2))


def _as_style(tokens: tuple[str, ...], start: int, end: int) -> bool:
    after = tokens[end] if end < len(tokens) else ""
    return after in _STYLE_AFTER or tokens[max(start - 2, 0) : start] in _STYLE_BEFORE
