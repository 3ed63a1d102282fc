from pathlib import Path

import pytest

from clipbot.config import Settings
from clipbot.moderation import Moderator
from clipbot.moderation import semantic as semantic_module


@pytest.fixture(scope="session")
def semantic_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of this session's own: the sentence model is exported to ONNX once per test
    session, so the export itself is tested on every run."""
    if not semantic_module.available():
        pytest.skip("the 'semantic' extra is not installed")
    return tmp_path_factory.mktemp("semantic-cache")


@pytest.fixture(scope="session")
def semantic_moderator(semantic_cache_dir: Path) -> Moderator:
    return Moderator.from_settings(Settings(moderation_semantic="on", cache_dir=semantic_cache_dir))
