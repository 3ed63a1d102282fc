"""The ONNX Runtime sentence encoder against sentence-transformers' own reading of the model."""

from pathlib import Path

import numpy as np
import pytest

from clipbot.moderation import sentence_model
from clipbot.moderation.sentence_model import SentenceEncoder

pytestmark = pytest.mark.semantic

# Different lengths in one batch, so every row but the longest is padded.
TEXTS = [
    "a fox",
    "a man with his private parts on show",
    "a slow aerial shot over a foggy pine forest at dawn, birds rising from the trees " * 3,
]


@pytest.fixture(scope="module")
def encoder(semantic_cache_dir: Path) -> SentenceEncoder:
    return SentenceEncoder.load(semantic_cache_dir)


def test_embeddings_equal_sentence_transformers(encoder: SentenceEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(sentence_model.model_dir()), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    assert np.abs(encoder.encode(TEXTS) - reference).max() < 1e-5


def test_a_padded_row_reads_like_the_text_alone(encoder: SentenceEncoder) -> None:
    alone = np.concatenate([encoder.encode([text]) for text in TEXTS])
    assert np.abs(encoder.encode(TEXTS) - alone).max() < 1e-5


def test_a_later_start_reuses_the_export(
    encoder: SentenceEncoder, semantic_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(source: Path) -> bytes:
        raise AssertionError("exported again")

    monkeypatch.setattr(sentence_model, "_export", no_export)
    again = SentenceEncoder.load(semantic_cache_dir)
    assert np.array_equal(again.encode(TEXTS), encoder.encode(TEXTS))
    assert [p.name for p in semantic_cache_dir.iterdir() if p.name.startswith(".")] == []


def test_an_unwritable_cache_is_a_config_error_naming_the_setting(
    encoder: SentenceEncoder, tmp_path: Path
) -> None:
    from clipbot.errors import ConfigError

    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    with pytest.raises(ConfigError, match="CLIPBOT_CACHE_DIR"):
        SentenceEncoder.load(not_a_folder)
