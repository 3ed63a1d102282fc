"""Fold a prompt into word tokens before any rule runs, undoing the usual evasions.

The steps, in order: Unicode NFKC (full-width and mathematical letters become ASCII), case
folding, removal of combining marks and invisible format characters (accents, zero-width
joiners, bidi controls), Cyrillic and Greek look-alikes mapped to Latin letters, emoji that
stand in for a word read as that word (🐒 as "monkey", 🍆 as "eggplant"), letters joined
across in-word punctuation (``n.u.d.e``, ``n*ked``), runs of single letters joined
(``n u d e``), and letters repeated three times or more collapsed (``nuuuude``).

Leetspeak is decoded into a second token stream rather than in place, because digits carry
meaning of their own (``3d render``, ``13 year old``): rules run over both streams. A star that
stands for letters (``n*ked``, ``k*kes``) rather than splitting them (``n*a*k*e*d``) gives a
third stream, whose masked words ``segment`` fills in from the rules' vocabulary. A word cut
into pieces by hyphens (``sui-cide``, ``dis-member-ment``) gives one more reading, in which each
hyphenated group is glued and ``segment`` splits it again into the rules' words; hyphens stay
separators in the plain reading, where they are usually honest (``ex-boyfriend``, ``x-ray``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Look-alikes that NFKC leaves alone. Keys are lower case: the map runs after case folding.
HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "г": "r", "д": "d", "е": "e", "ё": "e", "з": "3", "и": "u",
        "й": "u", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ц": "u", "ч": "4", "ш": "w", "щ": "w", "ь": "b",
        "ы": "bi", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ӏ": "l", "ɡ": "g",
        "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "ҫ": "c", "ӧ": "o",
        # Greek
        "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "θ": "o",
        "ι": "i", "κ": "k", "λ": "l", "μ": "u", "ν": "v", "ξ": "e", "ο": "o", "π": "n",
        "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u", "φ": "o", "χ": "x", "ψ": "w",
        "ω": "w",
        # Latin look-alikes and symbols used as letters
        "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ß": "ss", "æ": "ae",
        "œ": "oe", "ð": "d", "þ": "th", "ƒ": "f", "ℓ": "l", "∂": "d", "¡": "i",
    }
)  # fmt: skip

# Emoji used as words to slip past word lists; each becomes its word between spaces.
EMOJI_WORDS = str.maketrans(
    {
        "🐒": " monkey ", "🐵": " monkey ", "🙈": " monkey ", "🦍": " gorilla ", "🐀": " rat ",
        "🐁": " rat ", "🐷": " pig ", "🐖": " pig ", "🪳": " cockroach ", "🐍": " snake ",
        "🍉": " watermelon ", "🍗": " fried chicken ", "🍆": " eggplant ", "🍑": " peach ",
        "🌽": " corn ", "💦": " splash ", "🔪": " knife ", "🔫": " gun ", "💣": " bomb ",
        "🩸": " blood ", "💀": " skull ", "⚰": " coffin ", "🪢": " noose ", "💊": " pills ",
        "👧": " little girl ", "👦": " little boy ", "🧒": " child ", "👶": " baby ",
        "👙": " bikini ", "🩲": " underwear ", "🍺": " beer ", "🍻": " beers ", "🍷": " wine ",
        "🥃": " whiskey ", "🚬": " cigarette ", "₿": " bitcoin ", "👛": " wallet ",
    }
)  # fmt: skip

# Leetspeak: symbols and digits standing for letters, decoded only next to a letter.
LEET = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "£": "l", "+": "t",
}  # fmt: skip
_LEET_RE = re.compile(r"(?<=[a-z])[013457893@$!|€£+]+|[013457893@$!|€£+]+(?=[a-z])")
# Punctuation inside a word that evaders use to split it: n.u.d.e, n*ked, s_e_x, nu'de.
_JOINER_RE = re.compile(r"(?<=[a-z0-9])[.*_'’`·•~^]+(?=[a-z0-9])")
_TOKEN_RE = re.compile(r"[a-z0-9]+")
# Stars between letters: n*ked (a mask) or n*a*k*e*d (letters spaced out, left to the joiner).
_STARRED_RE = re.compile(r"[a-z]+(?:\*+[a-z]+)+")
_MASKED_TOKEN_RE = re.compile(r"[a-z0-9?]+")
_HYPHENATED_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-‐‑–]+[a-z0-9]+)*")
_HYPHEN_RE = re.compile(r"[-‐‑–]+")
_HYPHEN_BETWEEN_LETTERS_RE = re.compile(r"[a-z][-‐‑–]+[a-z]")
_MAX_MASKED_LETTERS = 3
_REPEAT_RE = re.compile(r"([a-z])\1{2,}")
_ANY_RUN_RE = re.compile(r"([a-z])\1+")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs", "Co", "Cn"})


@dataclass(frozen=True, slots=True)
class Stream:
    """Tokens of one reading of a prompt. ``stretched[i]`` holds the token's squeeze key (every
    run of a letter reduced to one) when the token had a letter repeated three times or more, so
    ``kiiilll`` can still meet ``kill``; it is ``None`` for ordinary tokens. ``joined`` marks
    tokens glued from spaced letters, which may hold several words (``n a k e d c h i l d``)
    and are split again by ``segment`` once the rules' vocabulary is known."""

    tokens: tuple[str, ...]
    stretched: tuple[str | None, ...]
    joined: frozenset[int] = frozenset()  # positions of tokens joined from single letters
    masked: frozenset[int] = frozenset()  # positions of tokens with "?" for hidden letters

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass(frozen=True, slots=True)
class Normalised:
    """A prompt folded for matching: the plain reading first, then the leetspeak reading when
    it differs."""

    streams: tuple[Stream, ...]

    @property
    def plain(self) -> Stream:
        return self.streams[0]


def squeeze(token: str) -> str:
    """Reduce every run of a repeated letter to one letter: ``kiiilll`` -> ``kil``."""
    return _ANY_RUN_RE.sub(r"\1", token)


def fold(text: str) -> str:
    """NFKC, case folding, marks and invisible characters removed, look-alikes mapped."""
    text = unicodedata.normalize("NFKC", text).translate(EMOJI_WORDS)
    text = text.casefold().translate(HOMOGLYPHS)
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in decomposed
        if ch.isspace() or unicodedata.category(ch) not in _DROP_CATEGORIES
    )
    # Decomposition can expose new look-alikes (e.g. accented Cyrillic); map once more.
    return unicodedata.normalize("NFC", kept).translate(HOMOGLYPHS)


def decode_leet(folded: str) -> str:
    """Decode every run of leet symbols that touches a letter (``n0053`` -> ``noose``)."""
    return _LEET_RE.sub(lambda m: "".join(LEET[c] for c in m.group(0)), folded)


def _join_single_letters(tokens: list[str], leet: bool) -> tuple[list[str], set[int]]:
    """Join runs of three or more one-letter tokens (``n u d e`` -> ``nude``). A leading
    ``a`` or ``i`` in a longer run is kept apart: it is usually the article or pronoun. In the
    leetspeak reading a lone digit counts as its letter (``n u d 3``). A token that is one
    letter repeated counts as that letter inside a run (``n a k e ddd``), but is kept whole
    outside one (``kkk``)."""
    out: list[str] = []
    run: list[str] = []
    originals: list[str] = []
    joined: set[int] = set()

    def flush() -> None:
        if len(run) >= 3:
            if len(run) >= 4 and run[0] in ("a", "i"):
                out.append(run[0])
                joined.add(len(out))
                out.append("".join(run[1:]))
            else:
                joined.add(len(out))
                out.append("".join(run))
        else:
            out.extend(originals)
        run.clear()
        originals.clear()

    for token in tokens:
        if leet and token in LEET:
            token = LEET[token]
        if token.isalpha() and len(set(token)) == 1:
            run.append(token[0])
            originals.append(token)
        else:
            flush()
            out.append(token)
    flush()
    return out, joined


def _stream(
    text: str, *, leet: bool = False, masked: bool = False, hyphens: bool = False
) -> Stream:
    text = _JOINER_RE.sub("", text)
    token_re = _MASKED_TOKEN_RE if masked else _HYPHENATED_TOKEN_RE if hyphens else _TOKEN_RE
    tokens, joined = _join_single_letters(token_re.findall(text), leet)
    if hyphens:
        glued = {i for i, token in enumerate(tokens) if _HYPHEN_RE.search(token)}
        tokens = [_HYPHEN_RE.sub("", token) for token in tokens]
        joined |= glued
    collapsed: list[str] = []
    stretched: list[str | None] = []
    for token in tokens:
        if _REPEAT_RE.search(token):
            collapsed.append(_REPEAT_RE.sub(r"\1", token))
            stretched.append(squeeze(token))
        else:
            collapsed.append(token)
            stretched.append(None)
    hidden = frozenset(i for i, token in enumerate(collapsed) if "?" in token)
    return Stream(tuple(collapsed), tuple(stretched), frozenset(joined), hidden)


_MAX_WORD = 20
_UNKNOWN_COST = 3  # per letter not covered by a known word


def segment(stream: Stream, *vocabularies: frozenset[str]) -> Stream:
    """Split tokens glued from spaced letters into known words, by the cheapest cover (a known
    word costs 1, an unknown letter 3): ``anakedchild`` -> ``a naked child``; and fill in masked
    words from the vocabulary (``k?kes`` -> ``kikes``)."""
    if not stream.joined and not stream.masked:
        return stream
    tokens: list[str] = []
    stretched: list[str | None] = []
    for i, token in enumerate(stream.tokens):
        if i in stream.masked:
            tokens.append(_unmask(token, vocabularies))
            stretched.append(None)
        elif i in stream.joined and not any(token in v for v in vocabularies):
            words = _cheapest_cover(token, vocabularies)
            tokens += words
            stretched += [None] * len(words)
        else:
            tokens.append(token)
            stretched.append(stream.stretched[i])
    return Stream(tuple(tokens), tuple(stretched))


def _unmask(token: str, vocabularies: tuple[frozenset[str], ...]) -> str:
    """A known word that ``token`` could be, each "?" run standing for one to three letters:
    from the first vocabulary that has one, the one nearest one letter a star (then the
    shortest, then the first alphabetically). Without one, the token less its "?"."""
    pattern = re.compile(
        "".join(
            f"[a-z]{{1,{max(len(part), _MAX_MASKED_LETTERS)}}}" if part.startswith("?") else part
            for part in re.split(r"(\?+)", token)
            if part
        )
    )
    likely = len(token)  # one letter a star
    low = len(token.replace("?", "")) + len(re.findall(r"\?+", token))
    high = low + 2 * _MAX_MASKED_LETTERS
    for vocabulary in vocabularies:
        candidates = [w for w in vocabulary if low <= len(w) <= high and pattern.fullmatch(w)]
        if candidates:
            return min(candidates, key=lambda w: (abs(len(w) - likely), len(w), w))
    return token.replace("?", "")


def _cheapest_cover(text: str, vocabularies: tuple[frozenset[str], ...]) -> list[str]:
    n = len(text)
    cost = [0] + [10**9] * n
    back: list[tuple[int, bool]] = [(0, False)] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - _MAX_WORD), end):
            known = any(text[start:end] in v for v in vocabularies)
            if not known and end - start > 1:
                continue
            step = cost[start] + (1 if known else _UNKNOWN_COST)
            if step < cost[end]:
                cost[end], back[end] = step, (start, known)
    words: list[str] = []
    end = n
    pending = ""
    while end > 0:
        start, known = back[end]
        if known:
            if pending:
                words.append(pending)
                pending = ""
            words.append(text[start:end])
        else:
            pending = text[start:end] + pending
        end = start
    if pending:
        words.append(pending)
    return words[::-1]


def normalise(prompt: str) -> Normalised:
    """Fold ``prompt`` and split it into the token streams the rules match against."""
    folded = fold(prompt)
    plain = _stream(folded)
    leet_stream = _stream(decode_leet(_JOINER_RE.sub("", folded)), leet=True)
    streams = [plain] if leet_stream.tokens == plain.tokens else [plain, leet_stream]
    # Masks come with leetspeak often enough (n*k3d) that this reading decodes it too.
    unleet = decode_leet(folded)
    masked = _STARRED_RE.sub(_mask, unleet)
    if masked != unleet:
        streams.append(_stream(masked, masked=True))
    if _HYPHEN_BETWEEN_LETTERS_RE.search(unleet):
        streams.append(_stream(unleet, leet=True, hyphens=True))
    return Normalised(tuple(streams))


def _mask(starred: re.Match[str]) -> str:
    """``n*ked`` -> ``n?ked``, ``f*gg*t`` -> ``f?gg?t``; but ``b*e*d`` (single letters spaced
    out by several star runs) stays as it is."""
    word = starred.group(0)
    letters = re.split(r"\*+", word)
    if len(letters) > 2 and all(len(part) == 1 for part in letters):
        return word
    return word.replace("*", "?")
