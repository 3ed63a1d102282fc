"""Misspellings read as the word meant: ``challange`` as ``challenge``, ``eroric`` as ``erotic``.

A word that no English dictionary, no rule and no listed name knows is read as a word of the
rules one edit away (a letter dropped, added, changed, or two swapped), keeping its first letter,
which typing errors rarely touch and which stops ``akis`` from becoming a slur. A word the rules
flag wins over their other words; among several the commonest English word wins. Only the rules'
words are candidates: the dictionary misses everyday words ("cafe"), and reading one as another
English word ("came") changes what the semantic layer sees for no gain. The dictionary is the
English word-frequency list shipped in the ``pyspellchecker`` wheel (160,000 words), read once.
"""

from __future__ import annotations

import gzip
import json
import string
from collections.abc import Iterator
from functools import cache
from importlib import resources

MIN_LENGTH = 4  # "sexo" and "nuds" are misspellings; shorter tokens are too often words


@cache
def english_frequencies() -> dict[str, int]:
    raw = (resources.files("spellchecker") / "resources" / "en.json.gz").read_bytes()
    frequencies: dict[str, int] = json.loads(gzip.decompress(raw))
    return frequencies


def _one_edit(word: str) -> Iterator[str]:
    """Every string one edit from ``word`` with its first letter kept."""
    head, tail = word[0], word[1:]
    splits = [(tail[:i], tail[i:]) for i in range(len(tail) + 1)]
    for left, right in splits:
        if right:
            yield head + left + right[1:]
            for letter in string.ascii_lowercase:
                yield head + left + letter + right[1:]
        if len(right) > 1:
            yield head + left + right[1] + right[0] + right[2:]
        for letter in string.ascii_lowercase:
            yield head + left + letter + right


class Speller:
    """Corrects tokens to the rules' words (``flagged`` first, then the rest of ``words``); a
    word of the English dictionary or of ``known`` is never corrected."""

    def __init__(
        self, flagged: frozenset[str], words: frozenset[str], known: frozenset[str]
    ) -> None:
        self.flagged = flagged
        self.words = words
        self.known = known
        self.frequencies = english_frequencies()
        # One edit adds at most one letter: a longer token cannot misspell any candidate (and a
        # 1,000-letter token would cost 50,000 edits).
        self.longest = max(map(len, flagged | words), default=0) + 1

    def correct(self, token: str, names: frozenset[str]) -> str:
        """``token`` as the word it most likely misspells, or ``token`` when it is a known word
        (of the dictionary, the rules or ``names``) or none is one edit away."""
        if (
            not MIN_LENGTH <= len(token) <= self.longest
            or not token.isalpha()
            or not token.isascii()
            or token in self.frequencies
            or token in self.known
            or token in names
        ):
            return token
        edits = set(_one_edit(token))
        candidates = edits & self.flagged or edits & self.words
        if not candidates:
            return token
        return max(candidates, key=lambda w: (self.frequencies.get(w, 0), w))
