"""Match many word phrases against a token stream in one pass.

Every phrase is indexed by its first word (or, for a ``word*`` prefix, by the prefix's first
four letters), so a prompt costs one or two dictionary look-ups per token however large the
lexicon is: no loop of regular expressions.

Phrase syntax: words separated by spaces; ``{a,b,c}`` expands to alternatives
(``behead{,s,ed,ing}``); a trailing ``*`` on a word matches any word that starts with it
(at least four letters before the ``*``). Phrases are folded exactly like prompts.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from clipbot.moderation.normalise import Stream, fold, squeeze

_BRACES = re.compile(r"\{([^{}]*)\}")
_WORD = re.compile(r"[a-z0-9]+\*?")
PREFIX_KEY = 4


@dataclass(frozen=True, slots=True)
class Match:
    """One phrase found in a stream: ``label`` says which list it came from, ``term`` is the
    phrase as written in that list, tokens ``start``..``end`` (exclusive) of the stream."""

    label: str
    term: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    prefix: tuple[bool, ...]
    label: str
    term: str


def expand(term: str) -> list[str]:
    """``behead{,s,ed}`` -> ``["behead", "beheads", "beheaded"]``."""
    parts = _BRACES.split(term)
    literals, choices = parts[0::2], [p.split(",") for p in parts[1::2]]
    out = []
    for combo in itertools.product(*choices):
        pieces = [literals[0]]
        for choice, literal in zip(combo, literals[1:], strict=True):
            pieces += [choice, literal]
        out.append("".join(pieces))
    return out


def phrase_words(text: str) -> list[str]:
    """Fold a lexicon phrase into words the way prompts are folded, keeping ``*`` markers."""
    folded = fold(text).replace("-", " ")
    return _WORD.findall(re.sub(r"(?<=[a-z0-9])[.'’]+(?=[a-z0-9])", "", folded))


class Lexicon:
    """A set of labelled phrases, matched together."""

    def __init__(self, labelled_terms: Mapping[str, Iterable[str]]) -> None:
        # Phrases are indexed by their first two words where both are whole words, so a common
        # first word ("the", "a") does not make every phrase it starts a candidate.
        self._single: dict[str, list[_Phrase]] = defaultdict(list)
        self._pairs: dict[tuple[str, str], list[_Phrase]] = defaultdict(list)
        self._by_first: dict[str, list[_Phrase]] = defaultdict(list)
        self._squeezed: dict[str, list[_Phrase]] = defaultdict(list)
        self._prefix: dict[str, list[_Phrase]] = defaultdict(list)
        self.vocabulary: set[str] = set()
        self.vocabulary_by_label: dict[str, set[str]] = defaultdict(set)
        for label, terms in labelled_terms.items():
            for term in terms:
                for variant in expand(term):
                    self._add(variant, label, term)

    def _add(self, variant: str, label: str, term: str) -> None:
        words = phrase_words(variant)
        if not words:
            return
        prefix = tuple(w.endswith("*") for w in words)
        clean = tuple(w.rstrip("*") for w in words)
        self.vocabulary.update(clean)
        self.vocabulary_by_label[label].update(clean)
        phrase = _Phrase(clean, prefix, label, term)
        first = clean[0]
        if prefix[0]:
            if len(first) < PREFIX_KEY:
                raise ValueError(f"prefix {term!r} needs {PREFIX_KEY} letters before '*'")
            self._prefix[first[:PREFIX_KEY]].append(phrase)
        else:
            if len(clean) > 1 and not prefix[1]:
                self._pairs[(first, clean[1])].append(phrase)
            else:
                self._single[first].append(phrase)
            self._by_first[first].append(phrase)
            self._squeezed[squeeze(first)].append(phrase)

    def find(self, stream: Stream) -> Iterator[Match]:
        tokens, stretched = stream.tokens, stream.stretched
        for i, token in enumerate(tokens):
            if i + 1 < len(tokens) and stretched[i + 1] is not None:
                # The next word had letters stretched: match it the slow way.
                candidates = self._by_first.get(token, [])
            else:
                candidates = self._single.get(token, [])
                if i + 1 < len(tokens):
                    candidates = candidates + self._pairs.get((token, tokens[i + 1]), [])
            if stretched[i] is not None:
                candidates = candidates + self._squeezed.get(stretched[i] or "", [])
            if len(token) >= PREFIX_KEY:
                candidates = candidates + self._prefix.get(token[:PREFIX_KEY], [])
            for phrase in candidates:
                end = i + len(phrase.words)
                if end <= len(tokens) and all(
                    _word_matches(tokens[j], stretched[j], word, is_prefix)
                    for j, word, is_prefix in zip(
                        range(i, end), phrase.words, phrase.prefix, strict=True
                    )
                ):
                    yield Match(phrase.label, phrase.term, i, end)


def _word_matches(token: str, stretched: str | None, word: str, is_prefix: bool) -> bool:
    if is_prefix:
        return token.startswith(word)
    return token == word or (stretched is not None and stretched == squeeze(word))
